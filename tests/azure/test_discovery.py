"""What the Azure provider discovers from the seeded tenant, through the real SDKs over HTTPS."""

from __future__ import annotations

import subprocess
import sys

from nhiwarden.model import Privilege

from tests.azure.conftest import Scan, Tenant
from tests.conftest import AS_OF, days_ago


def test_scopes_are_the_tenant_and_every_visible_subscription(seeded_scan: Scan, tenant: Tenant) -> None:
    seeded = tenant.seeded
    assert [r.scope for r in seeded_scan.results] == [
        seeded.tenant.tenant_id,
        seeded.prod_subscription,
        seeded.denied_subscription,
    ]
    assert seeded_scan.results[1].name == "subscription Contoso Production"


def test_app_registration_and_its_service_principal_are_one_identity(seeded_scan: Scan, tenant: Tenant) -> None:
    app = seeded_scan.identity("payroll-sync")
    app_id = tenant.seeded.app_ids["payroll-sync"]
    assert app.uid == f"azure:{tenant.seeded.tenant.tenant_id}:sp/{app_id}"
    assert app.kind == "azure-application"
    assert app.owner == "alice@contoso.example"
    assert app.attributes["service_principal_id"] == tenant.seeded.sp_ids["payroll-sync"]
    assert [i.name for i in seeded_scan.tenant.identities].count("payroll-sync") == 1


def test_client_secret_is_static_with_public_metadata_only(seeded_scan: Scan, tenant: Tenant) -> None:
    (secret,) = seeded_scan.identity("payroll-sync").credentials
    key_id = tenant.seeded.key_ids["payroll-sync/current"]
    assert secret.kind == "azure-client-secret"
    assert secret.static is True
    assert secret.id == key_id
    assert secret.uid.endswith(f":secret/{key_id}")
    assert secret.name == "current"
    assert secret.created_at == days_ago(80)
    assert secret.expires_at == days_ago(-10)
    assert secret.last_used_at == days_ago(1)
    assert secret.last_used_source == "graph-beta:reports/appCredentialSignInActivities"


def test_certificate_is_not_a_static_secret(seeded_scan: Scan) -> None:
    (cert,) = seeded_scan.identity("cert-only-api").credentials
    assert cert.kind == "azure-certificate"
    assert cert.static is False
    assert cert.expires_at == days_ago(-305)
    assert cert.attributes["key_type"] == "AsymmetricX509Cert"


def test_federated_credential_on_an_app_is_recorded_without_secret(seeded_scan: Scan) -> None:
    (fic,) = seeded_scan.identity("infra-deployer").credentials
    assert fic.kind == "azure-federated-credential"
    assert fic.static is False
    assert fic.attributes["issuer"] == "https://token.actions.githubusercontent.com"
    assert fic.attributes["subject"] == "repo:contoso/infra:environment:prod"


def test_identity_last_use_comes_from_service_principal_sign_in_activity(seeded_scan: Scan) -> None:
    stale = seeded_scan.identity("stale-integration")
    assert stale.last_used_at == days_ago(200)
    assert stale.last_used_source == "graph-beta:reports/servicePrincipalSignInActivities"
    assert seeded_scan.tenant.status == "partial"  # only because one subscription is denied
    assert all(m.startswith("arm-grants:") for m in seeded_scan.tenant.missing)


def test_graph_permission_is_resolved_through_the_graph_service_principal(seeded_scan: Scan) -> None:
    (grant,) = seeded_scan.identity("directory-sync").grants
    assert grant.source == "Directory.ReadWrite.All"
    assert grant.source_kind == "graph-app-permission"
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION
    assert grant.permissions == ["Directory.ReadWrite.All"]


def test_directory_role_membership_is_an_admin_grant(seeded_scan: Scan) -> None:
    grants = {g.source: g for g in seeded_scan.identity("tenant-automation").grants}
    assert grants["Global Administrator"].privilege is Privilege.ADMIN
    assert grants["Global Administrator"].source_kind == "entra-directory-role"
    uaa = grants["User Access Administrator"]
    assert uaa.privilege is Privilege.PRIVILEGE_ESCALATION
    assert uaa.resource_scope == "/providers/Microsoft.Management/managementGroups/contoso-root"


def test_subscription_owner_grant_joins_the_tenant_identity(seeded_scan: Scan, tenant: Tenant) -> None:
    (grant,) = seeded_scan.identity("infra-deployer").grants
    assert grant.source == "Owner"
    assert grant.source_kind == "azure-role-assignment"
    assert grant.privilege is Privilege.ADMIN
    assert grant.resource_scope == f"/subscriptions/{tenant.seeded.prod_subscription}"


def test_owner_below_the_subscription_is_not_read_as_subscription_wide(seeded_scan: Scan) -> None:
    assert seeded_scan.identity("orphan-app").grants == []


def test_custom_role_is_classified_from_its_actions(seeded_scan: Scan) -> None:
    grants = {g.source: g for g in seeded_scan.identity("payroll-sync").grants}
    assert grants["Custom Deployment Operator"].privilege is Privilege.WRITE
    assert grants["User.Read.All"].privilege is Privilege.READ


def test_user_assigned_managed_identity_has_federated_credential_and_arm_grant(seeded_scan: Scan) -> None:
    mi = seeded_scan.identity("id-aks-payments")
    assert mi.kind == "azure-managed-identity"
    assert mi.attributes["managed_identity"]["assignment"] == "user"
    assert mi.owner == "payments-team"  # from the resource's owner tag
    (fic,) = mi.credentials
    assert fic.kind == "azure-federated-credential" and fic.static is False
    assert fic.attributes["subject"] == "system:serviceaccount:payments:worker"
    assert [(g.source, g.privilege) for g in mi.grants] == [("Contributor", Privilege.WRITE)]


def test_system_assigned_managed_identity_has_no_credentials(seeded_scan: Scan) -> None:
    vm = seeded_scan.identity("vm-web-01")
    assert vm.kind == "azure-managed-identity"
    assert vm.attributes["managed_identity"]["assignment"] == "system"
    assert vm.credentials == []
    assert vm.last_used_at is None and vm.attributes["sign_in_record"] is False


def test_service_principal_own_secret_is_kept_apart_from_app_secrets(seeded_scan: Scan) -> None:
    crm = seeded_scan.identity("Contoso CRM Connector")
    assert crm.kind == "azure-service-principal"
    (secret,) = crm.credentials
    assert ":sp-secret/" in secret.uid
    assert secret.attributes["credential_origin"] == "servicePrincipal"


def test_microsoft_first_party_service_principal_is_system(seeded_scan: Scan) -> None:
    assert seeded_scan.identity("Microsoft Graph").system is True
    assert seeded_scan.identity("payroll-sync").system is False


def test_every_graph_and_arm_list_pages(seeded_scan: Scan, tenant: Tenant) -> None:
    log = tenant.seeded.tenant
    for path in ("/v1.0/applications$", "/v1.0/servicePrincipals$", "/beta/reports/"):
        assert any("$skiptoken" in e["query"] for e in log.requests("graph", path)), path
    assert any("$skiptoken" in e["query"] for e in log.requests("arm", "roleAssignments$"))


def test_graph_lists_select_only_needed_fields(seeded_scan: Scan, tenant: Tenant) -> None:
    first_pages = [
        e
        for e in tenant.seeded.tenant.requests("graph")
        if "$skiptoken" not in e["query"] and not e["path"].startswith("/beta/reports/")
    ]
    assert first_pages and all("$select" in e["query"] for e in first_pages)
    apps = tenant.seeded.tenant.requests("graph", "/v1.0/applications$")[0]["query"]["$select"].split(",")
    assert "passwordCredentials" in apps and "keyCredentials" in apps


def test_owners_and_graph_permissions_cost_no_call_per_principal(seeded_scan: Scan, tenant: Tenant) -> None:
    log = tenant.seeded.tenant
    assert not log.requests("graph", "/owners$")  # owners come with $expand on the list
    assert not log.requests("graph", "/appRoleAssignments$")  # one appRoleAssignedTo list on Graph's SP
    assert len(log.requests("graph", "/appRoleAssignedTo$")) == 3  # six grants, two per page
    assert all(e["query"].get("$expand") == "owners" for e in log.requests("graph", "/v1.0/applications$"))


def test_role_assignments_are_read_at_scope_with_api_version(seeded_scan: Scan, tenant: Tenant) -> None:
    calls = tenant.seeded.tenant.requests("arm", "roleAssignments$")
    assert calls and all(e["query"]["$filter"] == "atScope()" for e in calls)
    assert all(e["query"]["api-version"] == "2022-04-01" for e in calls)


def test_api_calls_are_counted_per_scope(seeded_scan: Scan, tenant: Tenant) -> None:
    graph_calls = len(tenant.seeded.tenant.requests("graph"))
    assert sum(seeded_scan.tenant.api_calls.values()) == graph_calls
    prod = seeded_scan.scope(tenant.seeded.prod_subscription)
    assert prod.api_calls["arm:roleAssignments.list"] == 3  # six assignments at or above, two per page


def test_as_of_is_the_fixed_evaluation_date(seeded_scan: Scan) -> None:
    assert seeded_scan.provider.as_of == AS_OF


def test_importing_the_provider_does_not_load_the_azure_sdk() -> None:
    code = (
        "import sys, nhiwarden.providers.azure as p; p.AzureProvider.Settings.model_json_schema();"
        "print(sorted(m for m in sys.modules if m.startswith(('azure.', 'msal'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
