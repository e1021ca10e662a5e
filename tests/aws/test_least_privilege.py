"""The scan works with exactly the permissions of the shipped policy, with moto enforcing IAM auth.

moto enforces signatures and IAM policies once ``INITIAL_NO_AUTH_ACTION_COUNT`` is reached; the server
runs in this process, so the test switches enforcement on for its duration only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import pytest
from nhiwarden.model import Scope
from nhiwarden.providers.aws import AwsProvider
from nhiwarden.providers.aws.permissions import READ_ACTIONS, scanner_policy
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, RoleSpec, UserSpec
from nhiwarden.scanner import ScanRequest, run_scan

from .conftest import NOW, seed_accounts, use_credentials

MAIN = "300000000040"
OTHER = "300000000041"
ROLE = "OrganizationAccountAccessRole"  # the name the shipped policy allows assuming


def shipped_policy() -> dict:
    text = resources.files("nhiwarden.providers.aws").joinpath("policy/nhiwarden-scanner-policy.json").read_text()
    return json.loads(text)


def _without(action: str) -> dict:
    policy = shipped_policy()
    policy["Statement"][0]["Action"] = [a for a in policy["Statement"][0]["Action"] if a != action]
    return policy


@contextmanager
def enforced_auth() -> Iterator[None]:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before


@pytest.fixture(scope="module")
def estate(sandbox):
    policy = shipped_policy()
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MAIN}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    return seed_accounts(
        sandbox,
        AccountSpec(
            MAIN,
            policies={"nhiwarden-scanner": policy, "no-gaad": _without("iam:GetAccountAuthorizationDetails")},
            users=[
                UserSpec("lp-scanner", keys=[KeySpec(5, 0)], managed=["nhiwarden-scanner"]),
                UserSpec("lp-scanner-no-gaad", keys=[KeySpec(5, 0)], managed=["no-gaad"]),
                UserSpec("svc-admin", keys=[KeySpec(300, 200)], managed=["AdministratorAccess"]),
                UserSpec("svc-twins", keys=[KeySpec(300, 150), KeySpec(300, 150)]),
            ],
        ),
        AccountSpec(
            OTHER,
            policies={"nhiwarden-scanner": policy},
            users=[UserSpec("svc-other", keys=[KeySpec(400, 300)])],
            roles=[RoleSpec(ROLE, managed=["nhiwarden-scanner"], trust=trust)],
        ),
    )


def test_shipped_policy_file_is_generated_from_the_declared_permissions():
    assert shipped_policy() == scanner_policy()
    declared = {p.action for p in AwsProvider.permissions}
    assert set(READ_ACTIONS) <= declared
    assert all(p.why for p in AwsProvider.permissions)


def test_scan_of_two_accounts_works_with_exactly_the_shipped_policy(estate, sandbox, monkeypatch):
    use_credentials(monkeypatch, estate.credentials[f"{MAIN}/lp-scanner"])
    settings = {"aws": {"endpoint_url": sandbox.endpoint, "accounts": [MAIN, OTHER], "role_name": ROLE}}
    with enforced_auth():
        report = run_scan(ScanRequest(providers=["aws"], as_of=NOW, settings=settings))
    by_scope = {s.scope: s for s in report.scopes}
    for account in (MAIN, OTHER):
        assert by_scope[account].status == "ok", (by_scope[account].error, by_scope[account].missing)
    assert by_scope[MAIN].api_calls.get("iam:GetPolicy") == 1  # AdministratorAccess, read under the policy
    assert by_scope[MAIN].api_calls.get("iam:GetAccessKeyLastUsed") == 2  # the twin keys, under the policy
    key_findings = [f for f in report.findings if f.credential and f.credential.kind == "aws-access-key"]
    assert key_findings and all(f.credential.id.startswith("AKIA") for f in key_findings)


def test_a_missing_permission_fails_the_scope_and_doctor_names_it(estate, sandbox, monkeypatch):
    use_credentials(monkeypatch, estate.credentials[f"{MAIN}/lp-scanner-no-gaad"])
    settings = {"aws": {"endpoint_url": sandbox.endpoint}}
    with enforced_auth():
        report = run_scan(ScanRequest(providers=["aws"], as_of=NOW, settings=settings))
        provider = AwsProvider(settings["aws"], as_of=NOW)
        checks = provider.doctor(Scope(provider="aws", id=MAIN, params={"account_id": MAIN}))
    (scope,) = report.scopes
    assert scope.status == "error"
    assert "permission" in scope.error and "iam:GetAccountAuthorizationDetails" in scope.error
    failed = [c for c in checks if not c.ok]
    assert [c.check for c in failed] == ["iam:GetAccountAuthorizationDetails"]
    assert "missing iam:GetAccountAuthorizationDetails" in failed[0].detail


def test_doctor_passes_every_check_with_the_shipped_policy(estate, sandbox, monkeypatch):
    use_credentials(monkeypatch, estate.credentials[f"{MAIN}/lp-scanner"])
    with enforced_auth():
        provider = AwsProvider(
            {"endpoint_url": sandbox.endpoint, "accounts": [MAIN, OTHER], "role_name": ROLE}, as_of=NOW
        )
        checks = [c for s in provider.scopes() for c in provider.doctor(s)]
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.scope for c in checks} == {MAIN, OTHER}
