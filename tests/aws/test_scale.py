"""Pagination of GetAccountAuthorizationDetails and the API-call budget of a 1,000-user account.

moto ignores MaxItems/Marker for GetAccountAuthorizationDetails; the sandbox patches moto's IAM
response handler in the server process (``nhiwarden.sandbox.aws.paging``) so it pages like AWS.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from nhiwarden.config import Config, RuleOverride
from nhiwarden.sandbox.aws import backend
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, RoleSpec, UserSpec
from nhiwarden.scanner import ScanRequest, run_scan

from .conftest import NOW, scan, seed_accounts

PAGED = "300000000020"
BIG = "300000000030"
BIG_USERS = 1000
STALE_USERS = 50
CONSTANT = 10  # caller identity, report generate/poll/get, managed-policy lookups


@pytest.fixture(scope="module")
def paged(sandbox):
    seeded = seed_accounts(
        sandbox,
        AccountSpec(
            PAGED,
            users=[UserSpec("scanner", keys=[KeySpec(5, 0)])],
            roles=[RoleSpec(f"role-{i:03}") for i in range(30)],
        ),
    )
    backend.bulk_users(
        PAGED,
        [f"svc-{i:03}" for i in range(230)],
        created=NOW - timedelta(days=400),
        key_created=NOW - timedelta(days=30),
        key_last_used=NOW - timedelta(days=1),
    )
    return seeded


@pytest.fixture(scope="module")
def big(sandbox):
    seeded = seed_accounts(sandbox, AccountSpec(BIG, users=[UserSpec("scanner", keys=[KeySpec(5, 0)])]))
    backend.bulk_users(
        BIG,
        [f"svc-stale-{i:04}" for i in range(STALE_USERS)],
        created=NOW - timedelta(days=800),
        key_created=NOW - timedelta(days=400),
        key_last_used=NOW - timedelta(days=200),
    )
    backend.bulk_users(
        BIG,
        [f"svc-ok-{i:04}" for i in range(BIG_USERS - STALE_USERS)],
        created=NOW - timedelta(days=800),
        key_created=NOW - timedelta(days=30),
        key_last_used=NOW - timedelta(days=1),
    )
    return seeded


def test_every_user_and_role_is_read_across_several_pages(paged, make_provider, sandbox):
    provider, _ = make_provider(paged.credentials[f"{PAGED}/scanner"], page_size=100)
    sandbox.faults.reset_counts()
    result = scan(provider, provider.scopes()[0])
    users = [i for i in result.identities if i.kind == "aws-iam-user"]
    roles = [i for i in result.identities if i.kind == "aws-iam-role"]
    assert len(users) == 231 and len(roles) == 30
    assert len({i.uid for i in result.identities}) == 261
    pages = math.ceil(261 / 100)
    assert result.attributes["authorization_details_pages"] == pages
    assert result.api_calls["iam:GetAccountAuthorizationDetails"] == pages
    assert sandbox.faults.calls(PAGED)["iam:GetAccountAuthorizationDetails"] == pages


def test_a_1000_user_scan_stays_within_its_api_call_budget(big, sandbox, monkeypatch):
    from .conftest import use_credentials

    use_credentials(monkeypatch, big.credentials[f"{BIG}/scanner"])
    # static-credential flags every key; switch it off so "users with key findings" is the stale 50.
    config = Config(rules={"static-credential": RuleOverride(enabled=False)})
    sandbox.faults.reset_counts()
    report = run_scan(
        ScanRequest(providers=["aws"], as_of=NOW, config=config, settings={"aws": {"endpoint_url": sandbox.endpoint}})
    )
    (scope,) = report.scopes
    assert scope.status == "ok", scope.error
    assert scope.identity_count == BIG_USERS + 1
    key_findings = [f for f in report.findings if f.credential is not None and f.credential.kind == "aws-access-key"]
    users_with_key_findings = {f.identity.uid for f in key_findings}
    assert len(users_with_key_findings) == STALE_USERS
    assert all(f.credential.id.startswith("AKIA") for f in key_findings)  # resolved to key ids
    pages = math.ceil((BIG_USERS + 1) / 1000)
    calls = scope.api_calls
    total = sum(calls.values())
    assert calls["iam:GetAccountAuthorizationDetails"] == pages == 2
    assert calls["iam:ListAccessKeys"] == STALE_USERS
    assert "iam:GetAccessKeyLastUsed" not in calls
    assert total <= pages + len(users_with_key_findings) + CONSTANT, calls
    assert sum(sandbox.faults.calls(BIG).values()) == total  # the server saw exactly what we counted
