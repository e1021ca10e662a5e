"""Failures the Azure provider must survive or report: licences, throttling, denials, bad secrets."""

from __future__ import annotations

import json

import pytest
from nhiwarden.config import Config
from nhiwarden.errors import ScopeError
from nhiwarden.providers.azure import AzureProvider
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.azure.state import Fault

from tests.azure.conftest import Tenant, scan
from tests.conftest import AS_OF


def test_without_premium_licence_scope_is_partial_and_usage_unknown(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.premium = False
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    tenant = result.tenant
    assert tenant.status == "partial"
    (missing,) = tenant.missing
    assert missing.startswith("last-used: beta servicePrincipalSignInActivities: HTTP 403")
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in missing
    stale = result.identity("stale-integration")
    assert stale.last_used_source is None and stale.last_used_at is None
    assert all(c.last_used_source is None for i in tenant.identities for c in i.credentials)
    rules = {f.rule_id for f in evaluate(result.inventory, as_of=AS_OF, config=Config())}
    assert "dormant-identity" not in rules and "unused-credential" not in rules
    assert "static-credential" in rules  # everything that does not need usage still works


def test_graph_429_retry_after_is_honoured(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(Fault(path="/v1.0/servicePrincipals$", status=429, times=2, retry_after="7"))
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert result.sleeps == [7.0, 7.0]
    assert result.tenant.status == "ok"
    statuses = [e["status"] for e in fresh_tenant.seeded.tenant.requests("graph", "/v1.0/servicePrincipals$")]
    assert statuses[:3] == [429, 429, 200]
    assert len(result.tenant.identities) == 17


def test_throttled_beyond_the_retry_budget_fails_the_scope_as_throttled(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(Fault(path="/v1.0/applications$", status=429, times=10, retry_after="3"))
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription], max_retries=2)
    assert result.sleeps == [3.0, 3.0]
    assert result.tenant.status == "error"
    assert result.tenant.error is not None and result.tenant.error.startswith("throttled: ")
    assert len(fresh_tenant.seeded.tenant.requests("graph", "/v1.0/applications$")) == 3


def test_service_unavailable_blip_is_retried(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(
        Fault(path="/beta/reports/appCredentialSignInActivities", status=503, code="ServiceUnavailable", message="busy")
    )
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert len(result.sleeps) == 1
    assert result.tenant.status == "ok"
    assert result.identity("payroll-sync").credentials[0].last_used_at is not None


def test_missing_application_read_permission_fails_the_tenant_scope(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(
        Fault(
            path="/v1.0/applications$",
            status=403,
            code="Authorization_RequestDenied",
            message="Insufficient privileges to complete the operation.",
        )
    )
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert result.tenant.status == "error"
    assert result.tenant.error == (
        "permission: Microsoft Graph: HTTP 403 Authorization_RequestDenied: "
        "Insufficient privileges to complete the operation."
    )


def test_unreadable_directory_roles_are_a_missing_signal_not_a_failure(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(
        Fault(
            path="/v1.0/directoryRoles$",
            status=403,
            code="Authorization_RequestDenied",
            message="Insufficient privileges",
        )
    )
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert result.tenant.status == "partial"
    assert result.tenant.missing == ["directory-roles: HTTP 403 Authorization_RequestDenied: Insufficient privileges"]
    assert all(g.source_kind != "entra-directory-role" for i in result.tenant.identities for g in i.grants)


def test_wrong_client_secret_is_an_auth_error_that_never_shows_the_secret(
    fresh_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong8Q~thisIsNotTheSecretAtAll1234567"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", wrong)
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert result.tenant.status == "error"
    assert result.tenant.error is not None
    assert result.tenant.error.startswith("auth: ") and "AADSTS7000215" in result.tenant.error
    assert wrong not in json.dumps([r.model_dump(mode="json") for r in result.results])


def test_subscription_listing_failure_still_scans_the_tenant(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(
        Fault(path="^/subscriptions$", status=403, code="AuthorizationFailed", message="no access")
    )
    result = scan(fresh_tenant, max_retries=0)
    assert [r.scope for r in result.results] == [fresh_tenant.seeded.tenant.tenant_id]
    assert result.tenant.status == "partial"
    assert result.tenant.missing == ["arm: listing subscriptions: HTTP 403 AuthorizationFailed: no access"]


def test_tenant_comes_from_the_token_when_not_configured(fresh_tenant: Tenant) -> None:
    provider = AzureProvider(fresh_tenant.settings(tenant=None, subscriptions=["x"]), as_of=AS_OF)
    assert provider.scopes()[0].id == fresh_tenant.seeded.tenant.tenant_id


def test_named_subscriptions_are_the_only_ones_read(fresh_tenant: Tenant) -> None:
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    assert [r.status for r in result.results] == ["ok", "ok"]
    assert not fresh_tenant.seeded.tenant.requests("arm", fresh_tenant.seeded.denied_subscription)
    assert not fresh_tenant.seeded.tenant.requests("arm", "^/subscriptions$")


def test_each_subscription_is_read_once_however_many_scopes_ask(fresh_tenant: Tenant) -> None:
    scan(fresh_tenant)
    calls = fresh_tenant.seeded.tenant.requests("arm", "userAssignedIdentities$")
    assert len(calls) == 1


def test_unknown_credential_type_is_a_config_error(tenant: Tenant) -> None:
    from nhiwarden.errors import ConfigError

    with pytest.raises(ConfigError):
        AzureProvider(tenant.settings(credential="password"), as_of=AS_OF)


def test_scope_error_kinds_are_mapped_from_http_status(fresh_tenant: Tenant) -> None:
    provider = AzureProvider(fresh_tenant.settings(max_retries=0), as_of=AS_OF)
    fresh_tenant.seeded.tenant.add_fault(
        Fault(
            path="/providers/Microsoft.Authorization/roleAssignments$",
            status=404,
            code="SubscriptionNotFound",
            message="gone",
        )
    )
    data = provider.subscription_data(fresh_tenant.seeded.prod_subscription)
    assert isinstance(data.error, ScopeError) and data.error.kind == "not-found"


def test_arm_429_is_retried_by_the_azure_mgmt_pipeline(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(Fault(path="roleAssignments$", status=429, times=1, retry_after="0"))
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription])
    prod = result.scope(fresh_tenant.seeded.prod_subscription)
    assert prod.status == "ok"
    assert prod.api_calls["arm:roleAssignments.list"] == 4  # three pages and one retry
    assert [g.source for g in result.identity("infra-deployer").grants] == ["Owner"]


def test_arm_throttled_beyond_the_retry_budget_fails_that_subscription_only(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.add_fault(Fault(path="roleAssignments$", status=429, times=5, retry_after="0"))
    result = scan(fresh_tenant, subscriptions=[fresh_tenant.seeded.prod_subscription], max_retries=1)
    prod = result.scope(fresh_tenant.seeded.prod_subscription)
    assert prod.status == "error"
    assert prod.error is not None and prod.error.startswith("throttled: ")
    assert result.tenant.status == "partial"
    assert len(result.tenant.identities) == 17


def test_doctor_names_each_missing_signal(fresh_tenant: Tenant) -> None:
    fresh_tenant.seeded.tenant.premium = False
    provider = AzureProvider(fresh_tenant.settings(subscriptions=[fresh_tenant.seeded.prod_subscription]), as_of=AS_OF)
    tenant_scope, prod_scope = provider.scopes()
    checks = provider.doctor(tenant_scope)
    assert [(c.check, c.ok) for c in checks] == [("scan", True), ("last-used", False)]
    assert [(c.check, c.ok) for c in provider.doctor(prod_scope)] == [("scan", True)]
