"""Faults from the fakes: throttling with Retry-After / RetryInfo, 503 blips, 404 races, denials, bad auth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.errors import ScopeError
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.sandbox.gcp import FakeGcp
from nhiwarden.sandbox.gcp.fake import rsa_keypair

from .conftest import NOW, Sleeps, discover

PAY = Scope(provider="gcp", id="acme-payments-prod", name="acme-payments-prod")


def provider(settings: dict[str, Any], sleeps: Sleeps) -> GcpProvider:
    return GcpProvider({**settings, "organization": None, "projects": [PAY.id]}, as_of=NOW, sleep=sleeps)


def test_rest_429_with_retry_after_is_retried_after_the_delay_given(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.clear_log()
    fake.store.inject("/serviceAccounts/legacy-batch@", 429, times=2, retry_after=7)
    sleeps = Sleeps()
    result = discover(provider(settings, sleeps), PAY)
    assert result.status == "ok"
    assert sleeps == [7.0, 7.0]
    assert result.api_calls["ListServiceAccountKeys"] == 10 + 2  # each attempt is a counted call
    assert [r.status for r in fake.store.requests("rest", "/serviceAccounts/legacy-batch@")] == [429, 429, 200]


def test_grpc_resource_exhausted_honours_retry_info(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("ListServiceAccounts", 429, times=1, retry_after=3)
    sleeps = Sleeps()
    result = discover(provider(settings, sleeps), PAY)
    assert result.status == "ok" and sleeps == [3.0]


def test_grpc_unavailable_blip_is_retried_with_backoff(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("GetIamPolicy", 503, times=1)
    sleeps = Sleeps()
    result = discover(provider(settings, sleeps), PAY)
    assert result.status == "ok" and len(sleeps) == 1 and 0 < sleeps[0] <= 20


def test_throttling_that_outlasts_the_retries_fails_the_scope_as_throttled(
    fake: FakeGcp, settings: dict[str, Any]
) -> None:
    fake.store.inject("ListServiceAccounts", 429, times=5, retry_after=1)
    sleeps = Sleeps()
    result = discover(provider(settings, sleeps), PAY)
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("throttled:")
    assert len(sleeps) == 4  # five attempts, bounded


def test_account_deleted_between_list_and_keys_is_skipped_not_fatal(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("/serviceAccounts/reporting@", 404, times=1)
    result = discover(provider(settings, Sleeps()), PAY)
    assert result.status == "ok"
    assert "reporting@acme-payments-prod.iam.gserviceaccount.com" not in {i.name for i in result.identities}
    assert result.skipped == ["1 service account(s) deleted during the scan"]


def test_denied_key_listing_marks_the_keys_signal_partial(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("/serviceAccounts/billing-exporter@", 403, times=1)
    result = discover(provider(settings, Sleeps()), PAY)
    assert result.status == "partial"
    assert result.missing[0].startswith("keys: not listed for 1 account(s)")
    billing = next(i for i in result.identities if i.name.startswith("billing-exporter@"))
    assert billing.credentials == [] and billing.attributes["keys_listed"] is False


def test_policy_analyzer_denied_means_no_usage_signal(fake: FakeGcp, settings: dict[str, Any]) -> None:
    project = fake.store.projects["acme-payments-prod"]
    project.policy_analyzer = "denied"
    try:
        result = discover(provider(settings, Sleeps()), PAY)
    finally:
        project.policy_analyzer = "enabled"
    assert result.status == "partial"
    assert result.missing[0].startswith("last-authentication: Policy Analyzer unavailable (permission denied")
    assert all(i.last_used_source is None for i in result.identities)
    assert "QueryActivity:serviceAccountKeyLastAuthentication" not in result.api_calls


def test_key_activity_failure_alone_keeps_account_usage(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("serviceAccountKeyLastAuthentication", 403, times=1)
    result = discover(provider(settings, Sleeps()), PAY)
    assert result.status == "partial"
    assert result.missing[0].startswith("key last-authentication:")
    ci = next(i for i in result.identities if i.name.startswith("ci-deployer@"))
    assert ci.last_used_source == "gcp-policy-analyzer"
    assert all(c.last_used_source is None for c in ci.credentials)


def test_project_policy_denied_marks_grants_partial(fake: FakeGcp, settings: dict[str, Any]) -> None:
    fake.store.inject("/v3/projects/acme-payments-prod:getIamPolicy", 403, times=1)
    result = discover(provider(settings, Sleeps()), PAY)
    assert result.status == "partial"
    assert result.missing[0].startswith("grants: project IAM policy unavailable")


def test_a_key_the_token_endpoint_rejects_is_an_auth_error(fake: FakeGcp, tmp_path: Path) -> None:
    stranger, _public = rsa_keypair()  # a private key the fake does not know
    info = {**fake.credentials_info(), "private_key": stranger}
    path = tmp_path / "stranger.json"
    path.write_text(json.dumps(info))
    p = GcpProvider(fake.settings(path, projects=[PAY.id]), as_of=NOW, sleep=Sleeps())
    result = discover(p, PAY)
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("auth:")
    assert "invalid_grant" in result.error and stranger not in result.error


def test_unreadable_credentials_file_is_an_auth_scope_error(fake: FakeGcp, tmp_path: Path) -> None:
    p = GcpProvider(fake.settings(tmp_path / "missing.json", organization="584732910456"), as_of=NOW)
    with pytest.raises(ScopeError) as err:
        p.scopes()
    assert err.value.kind == "auth" and "missing.json" in err.value.reason


def test_application_default_credentials_are_used_without_a_file(
    fake: FakeGcp, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    settings = {k: v for k, v in fake.settings(key_file).items() if k != "credentials"}
    p = GcpProvider(settings, as_of=NOW, sleep=Sleeps())
    [scope] = p.scopes()  # no project named: the ADC default project
    assert scope.id == "acme-security-tools"
    result = ScopeResult(provider="gcp", scope=PAY.id)
    p.discover(PAY, result)
    assert result.status == "ok" and result.identities
