"""Flagged key slots are renamed to their AccessKeyId; ambiguous slots are never guessed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nhiwarden.config import Config
from nhiwarden.model import Inventory
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.aws import backend
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, UserSpec

from .conftest import NOW, scan, seed_accounts

ACCT = "300000000010"


@pytest.fixture(scope="module")
def estate(sandbox):
    seeded = seed_accounts(
        sandbox,
        AccountSpec(
            ACCT,
            users=[
                UserSpec("scanner", keys=[KeySpec(5, 0)]),
                UserSpec("svc-old-and-new", created_days_ago=900, keys=[KeySpec(400, 200), KeySpec(10, 1)]),
                UserSpec("svc-twins", created_days_ago=900, keys=[KeySpec(300, 150), KeySpec(300, 2)]),
                UserSpec("svc-fine", keys=[KeySpec(20, 1)]),
            ],
        ),
    )
    # Both keys of svc-twins created in the same second: the report cannot tell them apart.
    same = NOW - timedelta(days=300)
    for key_id in seeded.accounts[ACCT].key_ids["svc-twins"]:
        backend.set_key(ACCT, key_id, created=same)
    return seeded


def _scan(make_provider, estate):
    provider, _ = make_provider(estate.credentials[f"{ACCT}/scanner"])
    scope = provider.scopes()[0]
    return provider, scope, scan(provider, scope)


def _user(result, name):
    return next(i for i in result.identities if i.name == name)


def test_a_flagged_slot_is_matched_to_its_key_by_status_and_creation_second(make_provider, estate):
    provider, scope, result = _scan(make_provider, estate)
    user = _user(result, "svc-old-and-new")
    old_slot = user.credentials[0]
    provider.resolve(scope, result, [old_slot])
    old_id, new_id = estate.accounts[ACCT].key_ids["svc-old-and-new"]
    keys = [c for c in user.credentials if c.kind == "aws-access-key"]
    assert [c.id for c in keys] == [old_id, new_id]
    assert keys[0].uid == f"aws:{ACCT}:user/svc-old-and-new:access-key/{old_id}"
    assert not any(c.provisional for c in keys)
    assert keys[0].last_used_at == (NOW - timedelta(days=200)).replace(microsecond=0)
    assert result.api_calls["iam:ListAccessKeys"] == 1
    assert "iam:GetAccessKeyLastUsed" not in result.api_calls


def test_two_keys_created_in_the_same_second_use_per_key_data_instead_of_guessing(make_provider, estate):
    provider, scope, result = _scan(make_provider, estate)
    user = _user(result, "svc-twins")
    provider.resolve(scope, result, [user.credentials[0]])
    first, second = estate.accounts[ACCT].key_ids["svc-twins"]
    by_id = {c.id: c for c in user.credentials}
    assert set(by_id) == {first, second}
    assert by_id[first].last_used_at == (NOW - timedelta(days=150)).replace(microsecond=0)
    assert by_id[second].last_used_at == (NOW - timedelta(days=2)).replace(microsecond=0)
    assert all(c.last_used_source == "aws iam GetAccessKeyLastUsed" for c in by_id.values())
    assert result.api_calls["iam:ListAccessKeys"] == 1
    assert result.api_calls["iam:GetAccessKeyLastUsed"] == 2


def test_only_users_with_flagged_keys_cost_api_calls(make_provider, estate):
    provider, scope, result = _scan(make_provider, estate)
    provider.resolve(scope, result, [])
    assert "iam:ListAccessKeys" not in result.api_calls
    assert all(c.provisional for i in result.identities for c in i.credentials if c.kind == "aws-access-key")


def test_every_key_finding_names_an_access_key_id_after_resolution(make_provider, estate):
    provider, scope, result = _scan(make_provider, estate)
    inventory = Inventory(scopes=[result])
    findings = evaluate(inventory, as_of=NOW, config=Config())
    flagged = {f.credential.uid for f in findings if f.credential is not None}
    pending = [c for i in result.identities for c in i.credentials if c.provisional and c.uid in flagged]
    assert pending, "the estate has old keys that the rules flag"
    provider.resolve(scope, result, pending)
    findings = evaluate(inventory, as_of=NOW, config=Config())
    key_findings = [f for f in findings if f.credential is not None and f.credential.kind == "aws-access-key"]
    assert key_findings
    assert all(f.credential.id.startswith("AKIA") for f in key_findings)
    users_with_findings = {c.uid.split(":access-key-slot/")[0] for c in pending}
    assert result.api_calls["iam:ListAccessKeys"] == len(users_with_findings)


def test_a_denied_key_lookup_keeps_the_slot_and_marks_the_scope_partial(make_provider, estate, sandbox):
    from nhiwarden.sandbox.aws.faults import Fault

    provider, scope, result = _scan(make_provider, estate)
    user = _user(result, "svc-old-and-new")
    sandbox.faults.add(Fault("iam:ListAccessKeys", code="AccessDenied", status=403, account=ACCT))
    provider.resolve(scope, result, [user.credentials[0]])
    assert all(c.provisional for c in user.credentials)
    assert any(m.startswith("access-key-ids: svc-old-and-new: AccessDenied") for m in result.missing)
    assert result.status == "partial"
