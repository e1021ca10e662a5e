"""A scan of the seeded organisation: scopes, the model the rules need, and the exact findings."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from nhiwarden.config import Config
from nhiwarden.findings import Finding
from nhiwarden.model import Identity, Inventory
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.gcp import FakeGcp, SeededOrg
from nhiwarden.scanner import ScanRequest, run_scan

from .conftest import NOW, scan

PAY = "acme-payments-prod"
STG = "acme-data-staging"


def sa(project: str, name: str) -> str:
    return f"{name}@{project}.iam.gserviceaccount.com"


COMPUTE = "481529637201-compute@developer.gserviceaccount.com"


@pytest.fixture(scope="module")
def inventory(org: SeededOrg, fake: FakeGcp, key_file: Any) -> Inventory:
    fake.store.clear_log()
    _provider, inv = scan(fake.settings(key_file, organization="584732910456"))
    return inv


@pytest.fixture(scope="module")
def findings(inventory: Inventory) -> list[Finding]:
    return evaluate(inventory, as_of=NOW, config=Config())


def identity(inventory: Inventory, email: str) -> Identity:
    return next(i for i in inventory.identities if i.name == email)


def test_organisation_scan_covers_active_projects_under_the_organisation_only(inventory: Inventory) -> None:
    assert [s.scope for s in inventory.scopes] == ["acme-data-staging", "acme-payments-prod", "acme-sandbox-dev"]


def test_denied_project_is_an_error_scope_with_the_permission_named(inventory: Inventory) -> None:
    dev = next(s for s in inventory.scopes if s.scope == "acme-sandbox-dev")
    assert dev.status == "error"
    assert dev.error is not None and dev.error.startswith("permission:")
    assert "iam.serviceAccounts.list" in dev.error


def test_policy_analyzer_disabled_makes_the_scope_partial_with_usage_unknown(inventory: Inventory) -> None:
    stg = next(s for s in inventory.scopes if s.scope == STG)
    assert stg.status == "partial"
    assert stg.missing == [
        "last-authentication: Policy Analyzer unavailable (API not enabled in the project); no usage verdicts"
    ]
    etl = identity(inventory, sa(STG, "etl-loader"))
    assert etl.last_used_source is None and etl.last_used_at is None
    assert all(c.last_used_source is None for c in etl.credentials)


def test_fully_readable_project_is_ok(inventory: Inventory) -> None:
    pay = next(s for s in inventory.scopes if s.scope == PAY)
    assert pay.status == "ok" and pay.missing == []
    assert pay.attributes["service_account_count"] == 10
    assert pay.attributes["service_account_quota"] == 100
    assert pay.attributes["ancestors"] == ["folders/731904662018", "folders/268401937755", "organizations/584732910456"]


def test_service_account_identity_carries_uid_usage_and_impersonators(inventory: Inventory, org: SeededOrg) -> None:
    ci = identity(inventory, sa(PAY, "ci-deployer"))
    assert ci.uid == f"gcp:{PAY}:sa/{sa(PAY, 'ci-deployer')}"
    assert ci.kind == "gcp-service-account" and ci.scope == PAY and ci.enabled and not ci.system
    assert ci.last_used_source == "gcp-policy-analyzer"
    assert ci.last_used_at is not None and (NOW - ci.last_used_at).days == 1
    assert ci.attributes["impersonators"] == [
        {"member": "user:alice@acme.example", "role": "roles/iam.serviceAccountTokenCreator"},
        {"member": "group:release-eng@acme.example", "role": "roles/iam.serviceAccountUser"},
    ]
    assert ci.attributes["unique_id"].isdigit() and len(ci.attributes["unique_id"]) == 21


def test_only_user_managed_keys_become_static_credentials(inventory: Inventory, org: SeededOrg) -> None:
    ids = {c.id for i in inventory.identities for c in i.credentials}
    assert ids == {
        org.keys[k]
        for k in (
            "exposed-auto-disabled",
            "successor",
            "dormant",
            "exposed",
            "old-never-used",
            "aged-in-use",
            "disabled",
            "staging-unknown-usage",
            "on-disabled-account",
        )
    }
    for cred in (c for i in inventory.identities for c in i.credentials):
        assert cred.kind == "gcp-sa-key" and cred.static and cred.attributes["key_type"] == "USER_MANAGED"
        assert cred.expires_at is None  # 9999-12-31 means never


def test_key_fields_map_age_usage_origin_and_exposure(inventory: Inventory, org: SeededOrg) -> None:
    keys = {c.id: c for i in inventory.identities for c in i.credentials}
    exposed = keys[org.keys["exposed"]]
    assert exposed.attributes["exposure"] == "exposed" and exposed.enabled
    assert exposed.locations and exposed.locations[0].startswith("https://github.com/")
    aged = keys[org.keys["aged-in-use"]]
    assert aged.created_at is not None and (NOW - aged.created_at).days == 400
    assert aged.last_used_at is not None and (NOW - aged.last_used_at).days == 1
    assert aged.attributes["key_origin"] == "uploaded"
    old = keys[org.keys["old-never-used"]]
    assert old.last_used_source == "gcp-policy-analyzer" and old.last_used_at is None
    disabled = keys[org.keys["disabled"]]
    assert not disabled.enabled
    assert disabled.attributes["disable_reason"] == "SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED"
    assert disabled.attributes["exposure"] is None


def test_disabled_account_disables_its_keys(inventory: Inventory, org: SeededOrg) -> None:
    retired = identity(inventory, sa(PAY, "retired-etl"))
    assert not retired.enabled
    [key] = retired.credentials
    assert key.id == org.keys["on-disabled-account"] and not key.enabled
    assert key.attributes["key_disabled"] is False  # the key itself is enabled; the account is not


def test_grants_carry_privilege_evidence_including_inherited_bindings(inventory: Inventory) -> None:
    compute = identity(inventory, COMPUTE)
    assert compute.attributes["default_service_account"] == "compute"
    [editor] = compute.grants
    assert (editor.privilege, editor.source, editor.source_kind) == ("admin", "roles/editor", "project-iam-binding")
    assert editor.controls == ["CIS-GCP-1.5"]
    broker = identity(inventory, sa(PAY, "token-broker"))
    [tc] = broker.grants
    assert tc.privilege == "privilege-escalation" and tc.controls == ["CIS-GCP-1.6"]
    assert tc.resource_scope == f"projects/{PAY}"
    reporting = identity(inventory, sa(PAY, "reporting"))
    by_role = {g.source: g for g in reporting.grants}
    assert by_role["roles/storage.admin"].via == "inherited from folders/268401937755"
    assert by_role["roles/storage.admin"].privilege == "admin"
    assert "conditional: business-hours" in by_role["roles/storage.objectViewer"].reason
    billing = identity(inventory, sa(PAY, "billing-exporter"))
    assert {g.source: g.privilege.value for g in billing.grants} == {
        "roles/cloudsql.client": "write",
        "roles/iam.securityReviewer": "read",
    }


def test_google_managed_service_agent_is_a_system_identity(inventory: Inventory) -> None:
    agent = identity(inventory, "service-481529637201@compute-system.iam.gserviceaccount.com")
    assert agent.system and agent.attributes["google_managed"]
    assert agent.uid == f"gcp:{PAY}:sa/service-481529637201@compute-system.iam.gserviceaccount.com"


def test_seeded_organisation_gives_exactly_the_expected_findings(findings: list[Finding], org: SeededOrg) -> None:
    got = {(f.rule_id, f.identity.name, f.credential.id if f.credential else None) for f in findings}
    exposed, old, aged, stg, successor, dormant = (
        org.keys[k]
        for k in ("exposed", "old-never-used", "aged-in-use", "staging-unknown-usage", "successor", "dormant")
    )
    assert got == {
        # exposed key: leaked, and a static key
        ("gcp-key-exposed", sa(PAY, "ci-deployer"), exposed),
        ("gcp-key-exposed", sa(PAY, "ci-deployer"), org.keys["exposed-auto-disabled"]),  # high: disabled
        ("static-credential", sa(PAY, "ci-deployer"), exposed),
        # old key never used
        ("unused-credential", sa(PAY, "legacy-batch"), old),
        ("rotation-overdue", sa(PAY, "legacy-batch"), old),
        ("static-credential", sa(PAY, "legacy-batch"), old),
        # key used yesterday but 400 days old: rotation, not unused; its successor is live too
        ("rotation-overdue", sa(PAY, "billing-exporter"), aged),
        ("static-credential", sa(PAY, "billing-exporter"), aged),
        ("static-credential", sa(PAY, "billing-exporter"), successor),
        ("multiple-active-credentials", sa(PAY, "billing-exporter"), None),
        # account last used 250 days ago: dormant (one finding for the root cause, not unused per key)
        ("dormant-identity", sa(PAY, "archive-reader"), None),
        ("rotation-overdue", sa(PAY, "archive-reader"), dormant),
        ("static-credential", sa(PAY, "archive-reader"), dormant),
        # default compute account with Editor
        ("gcp-default-service-account-privileged", COMPUTE, None),
        ("over-privileged", COMPUTE, None),
        # project-level Token Creator
        ("over-privileged", sa(PAY, "token-broker"), None),
        # storage.admin inherited from the prod folder
        ("over-privileged", sa(PAY, "reporting"), None),
        # Policy Analyzer disabled: age-based findings only, no unused verdict
        ("rotation-overdue", sa(STG, "etl-loader"), stg),
        ("static-credential", sa(STG, "etl-loader"), stg),
        # the whole github-ci pool (provider without attributeCondition) may act as gh-actions-deployer
        ("federation-trust-too-broad", sa(PAY, "gh-actions-deployer"), None),
    }
    # disabled key, key of a disabled account, system-managed keys, the service agent, gh-release
    # (pinned by its provider's attributeCondition and its member), the denied project and the
    # projects outside the organisation or being deleted give nothing


def test_exposed_key_finding_is_critical_with_evidence(findings: list[Finding], org: SeededOrg) -> None:
    by_key = {f.credential.id: f for f in findings if f.rule_id == "gcp-key-exposed" and f.credential}
    live, disabled = by_key[org.keys["exposed"]], by_key[org.keys["exposed-auto-disabled"]]
    assert live.severity == "critical" and disabled.severity == "high"
    assert live.evidence["exposure"] == "exposed" and live.evidence["enabled"] is True
    assert disabled.evidence["disable_reason"] == "SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED"
    assert "OWASP-NHI2" in live.controls


def test_project_level_token_creator_maps_to_cis_gcp_1_6(findings: list[Finding]) -> None:
    [f] = [f for f in findings if f.rule_id == "over-privileged" and f.identity.name == sa(PAY, "token-broker")]
    assert "CIS-GCP-1.6" in f.controls


def test_scan_requests_are_authenticated_paged_and_filtered_server_side(inventory: Inventory, fake: FakeGcp) -> None:
    log = fake.store.log
    assert log and all(r.authenticated for r in log if r.api != "token")
    keys = [r for r in log if r.path.endswith("/keys")]
    assert keys and all(r.query == {"keyTypes": "USER_MANAGED"} for r in keys)
    assert not [r for r in log if r.method == "ListServiceAccountKeys"]  # one listing, one API: REST only
    policies = [r for r in log if r.path.endswith(":getIamPolicy")]
    assert policies and all(r.body == {"options": {"requestedPolicyVersion": 3}} for r in policies)
    activity = [r for r in log if "activities:query" in r.path]
    assert activity and all(r.query.get("pageSize") == "1000" and "filter" not in r.query for r in activity)
    listing = [r for r in log if r.method == "ListServiceAccounts" and r.status == 200]
    assert all(r.query["page_size"] == "100" for r in listing)
    # the fake caps pages at 2: every listing of more than 2 items followed nextPageToken
    assert any(r.query["page_token"] for r in listing)
    assert any("pageToken" in r.query for r in activity)
    # one token exchange for the whole scan
    assert len([r for r in log if r.api == "token"]) == 1


def test_ancestor_policies_are_fetched_once_per_scan(inventory: Inventory) -> None:
    calls: dict[str, int] = {}
    for s in inventory.scopes:
        for action, n in s.api_calls.items():
            calls[action] = calls.get(action, 0) + n
    assert calls["GetOrganizationIamPolicy"] == 1
    assert calls["GetFolderIamPolicy"] == 2  # prod and payments-team


def test_no_planted_secret_or_token_appears_in_any_output(
    org: SeededOrg, fake: FakeGcp, key_file: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = run_scan(
        ScanRequest(
            providers=["gcp"],
            as_of=NOW,
            settings={"gcp": fake.settings(key_file, organization="584732910456")},
            provider_classes={"gcp": GcpProvider},
        )
    )
    text = report.model_dump_json() + json.dumps([s.model_dump(mode="json") for s in report.scopes]) + caplog.text
    text += json.dumps([i.model_dump(mode="json") for i in report.identities])
    canaries = [fake.private_key, *org.canaries, *fake.store.tokens]
    canaries += [line for line in fake.private_key.splitlines() if len(line) > 40]
    assert len(canaries) > 5
    for canary in canaries:
        assert canary not in text
    legacy = next(i for i in report.identities if i.name == sa(PAY, "legacy-batch"))
    assert "password=***" in legacy.attributes["description"]
    assert {s.status for s in report.scopes} == {"ok", "partial", "error"}
