"""Failures: a denied account fails alone; throttling is retried within bounds, honouring Retry-After."""

from __future__ import annotations

import pytest
from nhiwarden.errors import ScopeError
from nhiwarden.model import ScopeResult
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, RoleSpec, UserSpec
from nhiwarden.sandbox.aws.faults import Fault

from .conftest import scan, seed_accounts

OK_ACCT = "300000000001"
DENIED_ACCT = "300000000002"


@pytest.fixture(scope="module")
def two_accounts(sandbox):
    return seed_accounts(
        sandbox,
        AccountSpec(
            OK_ACCT, users=[UserSpec("scanner", keys=[KeySpec(5, 0)]), UserSpec("svc-a", keys=[KeySpec(100, 95)])]
        ),
        AccountSpec(DENIED_ACCT, users=[UserSpec("svc-b")], roles=[RoleSpec("OrganizationAccountAccessRole")]),
    )


def test_one_denied_account_fails_with_a_permission_error_and_the_other_completes(two_accounts, make_provider, sandbox):
    sandbox.faults.add(
        Fault(
            "*",
            code="AccessDenied",
            status=403,
            times=float("inf"),
            account=DENIED_ACCT,
            message=f"User: arn:aws:sts::{DENIED_ACCT}:assumed-role/x is not authorized to perform: "
            "iam:GetAccountAuthorizationDetails",
        )
    )
    provider, _ = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"], accounts=[OK_ACCT, DENIED_ACCT])
    scopes = {s.id: s for s in provider.scopes()}
    ok = scan(provider, scopes[OK_ACCT])
    assert ok.status == "ok" and len(ok.identities) == 2
    with pytest.raises(ScopeError) as raised:
        scan(provider, scopes[DENIED_ACCT])
    assert raised.value.kind == "permission"
    assert "iam:GetAccountAuthorizationDetails" in raised.value.reason
    assert DENIED_ACCT in raised.value.reason and "AccessDenied" in raised.value.reason


def test_denied_credential_report_marks_the_scope_partial_and_still_lists_identities(
    two_accounts, make_provider, sandbox
):
    sandbox.faults.add(Fault("iam:GenerateCredentialReport", code="AccessDenied", status=403, times=1, account=OK_ACCT))
    provider, _ = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"])
    result = scan(provider, provider.scopes()[0])
    assert result.status == "partial"
    assert any(m.startswith("credential-report: AccessDenied") for m in result.missing)
    user = next(i for i in result.identities if i.name == "svc-a")
    assert user.credentials == [] and not user.usage_known  # unknown, not "unused"


def test_throttling_is_retried_with_backoff_and_then_succeeds(two_accounts, make_provider, sandbox):
    sandbox.faults.add(Fault("iam:GetAccountAuthorizationDetails", times=3, account=OK_ACCT))
    provider, sleeps = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"], max_attempts=5)
    result = scan(provider, provider.scopes()[0])
    assert result.status == "ok"
    assert result.api_calls["iam:GetAccountAuthorizationDetails"] == 4  # every attempt sent is counted
    assert len(sleeps) == 3 and all(0 < s <= 20 for s in sleeps)
    assert result.attributes["retries"] == 3


def test_retry_after_header_sets_the_wait(two_accounts, make_provider, sandbox):
    sandbox.faults.add(
        Fault(
            "iam:GetAccountAuthorizationDetails",
            code="ThrottlingException",
            status=429,
            times=1,
            account=OK_ACCT,
            retry_after="7",
        )
    )
    provider, sleeps = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"])
    scan(provider, provider.scopes()[0])
    assert sleeps == [7.0]


def test_throttled_beyond_max_attempts_is_a_throttled_scope_error(two_accounts, make_provider, sandbox):
    sandbox.faults.add(Fault("iam:GetAccountAuthorizationDetails", times=10, account=OK_ACCT))
    provider, sleeps = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"], max_attempts=3)
    result = ScopeResult(provider="aws", scope=OK_ACCT)
    with pytest.raises(ScopeError) as raised:
        provider.discover(provider.scopes()[0], result)
    assert raised.value.kind == "throttled"
    assert "after retries" in raised.value.reason
    assert result.api_calls["iam:GetAccountAuthorizationDetails"] == 3
    assert len(sleeps) == 2


def test_report_in_progress_is_polled_with_growing_waits_not_a_fixed_sleep(two_accounts, make_provider, sandbox):
    sandbox.faults.add(Fault("iam:GetCredentialReport", code="ReportInProgress", status=404, times=2, account=OK_ACCT))
    provider, sleeps = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"])
    result = scan(provider, provider.scopes()[0])
    assert result.status == "ok"
    assert sleeps == [0.5, 1.0]  # exponential backoff between polls
    assert result.api_calls["iam:GetCredentialReport"] == 3


def test_unknown_credentials_fail_listing_scopes_with_an_auth_error(make_provider):
    provider, _ = make_provider(("AKIAUNKNOWN000000000", "nope-not-a-real-secret-value"))
    # moto accepts any key when auth is not enforced; a bad endpoint shows the network path instead.
    provider.settings.endpoint_url = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    provider.settings.max_attempts = 1  # type: ignore[attr-defined]
    with pytest.raises(ScopeError) as raised:
        provider.scopes()
    assert raised.value.kind == "network"
    assert "sts:GetCallerIdentity" in raised.value.reason


def test_a_report_that_never_completes_leaves_the_scope_partial_after_bounded_polling(
    two_accounts, make_provider, sandbox
):
    sandbox.faults.add(
        Fault("iam:GetCredentialReport", code="ReportInProgress", status=404, times=100, account=OK_ACCT)
    )
    provider, sleeps = make_provider(two_accounts.credentials[f"{OK_ACCT}/scanner"])
    result = scan(provider, provider.scopes()[0])
    assert result.status == "partial"
    assert any("credential-report: not ready" in m for m in result.missing)
    assert len(sleeps) == 10 and max(sleeps) == 8.0  # bounded, growing, capped
    assert {i.name for i in result.identities} == {"scanner", "svc-a"}
