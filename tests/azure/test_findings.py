"""Exact findings for the seeded tenant, through the real scanner (scopes scanned concurrently)."""

from __future__ import annotations

import json

import pytest
from nhiwarden.findings import Finding
from nhiwarden.report import Report
from nhiwarden.scanner import ScanRequest, run_scan

from tests.azure.conftest import FAST, Tenant
from tests.conftest import AS_OF

APP = "azure-application"
STATIC, ROTATION, EXPIRING = "static-credential", "rotation-overdue", "credential-expiring"
EXPECTED = {
    ("over-privileged", "tenant-automation", None, "critical"),
    ("over-privileged", "directory-sync", None, "high"),
    ("over-privileged", "infra-deployer", None, "high"),
    (EXPIRING, "payroll-sync", "payroll-sync/current", "medium"),
    ("dormant-identity", "stale-integration", None, "medium"),
    (ROTATION, "stale-integration", "stale-integration/partner-feed", "medium"),
    (ROTATION, "legacy-reporting", "legacy-reporting/initial", "medium"),
    (ROTATION, "Contoso CRM Connector", "Contoso CRM Connector/sp-secret", "medium"),
    (STATIC, "stale-integration", "stale-integration/partner-feed", "medium"),
    (STATIC, "forever-bot", "forever-bot/never-expires", "medium"),
    (STATIC, "legacy-reporting", "legacy-reporting/initial", "medium"),
    (STATIC, "payroll-sync", "payroll-sync/current", "medium"),
    (STATIC, "orphan-app", "orphan-app/ci", "medium"),
    (STATIC, "tenant-automation", "tenant-automation/runbook", "medium"),
    (STATIC, "nhiwarden-scanner", "nhiwarden-scanner/scan", "medium"),
    (STATIC, "report-mailer", "report-mailer/old", "medium"),
    (STATIC, "report-mailer", "report-mailer/new", "medium"),
    ("unused-credential", "report-mailer", "report-mailer/old", "medium"),
    ("multiple-active-credentials", "report-mailer", None, "low"),
    (STATIC, "Contoso CRM Connector", "Contoso CRM Connector/sp-secret", "medium"),
    ("azure-sp-credential", "Contoso CRM Connector", "Contoso CRM Connector/sp-secret", "medium"),
    ("credential-expired", "billing-export", "billing-export/prod-2025", "low"),
    ("no-owner", "orphan-app", None, "low"),
    (STATIC, "web-frontend", "web-frontend/pre-federation", "medium"),
    ("azure-secret-with-federation", "web-frontend", "web-frontend/pre-federation", "low"),
}


@pytest.fixture(scope="module")
def report(tenant: Tenant) -> Report:
    return run_scan(ScanRequest(providers=["azure"], as_of=AS_OF, config=FAST, settings={"azure": tenant.settings()}))


def _key(tenant: Tenant, f: Finding) -> tuple[str, str, str | None, str]:
    names = {v: k for k, v in tenant.seeded.key_ids.items()}
    return (f.rule_id, f.identity.name, names[f.credential.id] if f.credential else None, f.severity.value)


def _find(report: Report, rule: str, name: str) -> list[Finding]:
    return [f for f in report.findings if f.rule_id == rule and f.identity.name == name]


def test_seeded_tenant_gives_exactly_the_expected_findings(report: Report, tenant: Tenant) -> None:
    assert {_key(tenant, f) for f in report.findings} == EXPECTED
    assert len(report.findings) == len(EXPECTED)


def test_secret_expired_last_week_is_expired_and_nothing_else(report: Report) -> None:
    (finding,) = [f for f in report.findings if f.identity.name == "billing-export"]
    assert finding.rule_id == "credential-expired"
    assert finding.evidence["days_since_expiry"] == 7


def test_secret_expiring_in_ten_days_warns_before_the_outage(report: Report) -> None:
    (finding,) = _find(report, EXPIRING, "payroll-sync")
    assert finding.evidence["days_left"] == 10


def test_two_year_old_secret_still_in_use_is_overdue_for_rotation_not_unused(report: Report) -> None:
    (finding,) = _find(report, ROTATION, "legacy-reporting")
    assert finding.evidence["age_days"] == 730
    assert not _find(report, "unused-credential", "legacy-reporting")


def test_secret_valid_for_99_years_exceeds_the_maximum_lifetime(report: Report) -> None:
    (finding,) = _find(report, STATIC, "forever-bot")
    assert finding.evidence["lifetime_exceeded"] is True
    assert finding.evidence["lifetime_days"] > 99 * 365 - 40


def test_certificate_only_app_gets_no_static_secret_finding(report: Report) -> None:
    assert [f for f in report.findings if f.identity.name == "cert-only-api"] == []


def test_half_finished_rotation_flags_the_unused_old_secret(report: Report, tenant: Tenant) -> None:
    (unused,) = _find(report, "unused-credential", "report-mailer")
    assert unused.credential is not None and unused.credential.id == tenant.seeded.key_ids["report-mailer/old"]
    assert unused.evidence["idle_days"] == 120
    (multiple,) = _find(report, "multiple-active-credentials", "report-mailer")
    assert len(multiple.evidence["credential_ids"]) == 2


def test_secret_left_beside_a_federated_credential_is_flagged(report: Report) -> None:
    (finding,) = _find(report, "azure-secret-with-federation", "web-frontend")
    assert finding.evidence["federated_credentials"][0]["issuer"] == "https://token.actions.githubusercontent.com"
    assert "OWASP-NHI7" in finding.controls


def test_ownerless_app_is_flagged_no_owner(report: Report) -> None:
    (finding,) = _find(report, "no-owner", "orphan-app")
    assert finding.identity.kind == APP


def test_directory_readwrite_all_is_over_privileged_with_evidence(report: Report) -> None:
    (finding,) = _find(report, "over-privileged", "directory-sync")
    assert finding.evidence["grants"][0]["source"] == "Directory.ReadWrite.All"
    assert finding.evidence["grants"][0]["source_kind"] == "graph-app-permission"


def test_owner_on_a_subscription_is_over_privileged(report: Report, tenant: Tenant) -> None:
    (finding,) = _find(report, "over-privileged", "infra-deployer")
    grant = finding.evidence["grants"][0]
    assert (grant["source"], grant["privilege"]) == ("Owner", "admin")
    assert grant["resource_scope"] == f"/subscriptions/{tenant.seeded.prod_subscription}"
    assert "CIS-AZURE-5.23" in finding.controls


def test_denied_subscription_is_an_error_scope_and_the_rest_is_scanned(report: Report, tenant: Tenant) -> None:
    by_scope = {s.scope: s for s in report.scopes}
    denied = by_scope[tenant.seeded.denied_subscription]
    assert denied.status == "error"
    assert denied.error is not None and "permission" in denied.error and "AuthorizationFailed" in denied.error
    assert by_scope[tenant.seeded.prod_subscription].status == "ok"
    tenant_scope = by_scope[tenant.seeded.tenant.tenant_id]
    assert tenant_scope.status == "partial"
    assert any(tenant.seeded.denied_subscription in m for m in tenant_scope.missing)
    assert tenant_scope.identity_count == len(report.identities) == 17


def test_no_planted_secret_appears_in_the_report(report: Report, tenant: Tenant) -> None:
    text = report.model_dump_json() + json.dumps(tenant.seeded.tenant.requests(), default=str)
    assert tenant.seeded.canaries
    for canary in tenant.seeded.canaries:
        assert canary not in text
