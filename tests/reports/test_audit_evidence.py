"""Audit evidence in every format that can carry it, the compliance view, and no secret in any output."""

from __future__ import annotations

import json

import pytest
from nhiwarden.model import ScopeResult
from nhiwarden.redact import redact, register_secret
from nhiwarden.report import Report
from nhiwarden.reports import FORMATS, compliance, render

from tests.reports.conftest import build_report, estate

CANARY = "CanaryReportSecret-5d1e9f0a77"
EVIDENCE_FORMATS = ("json", "sarif", "junit", "markdown", "html")


@pytest.mark.parametrize("fmt", EVIDENCE_FORMATS)
def test_each_format_carries_versions_as_of_scopes_and_exceptions(report: Report, fmt: str):
    text = render(report, fmt)
    plain = text.replace("\\", "")
    assert report.tool.version in plain
    assert report.tool.rule_pack["version"] in plain
    assert "2026-06-01" in plain  # as_of
    assert report.scan.id in plain
    assert "https://vault.example:8200" in plain  # the failed scope is named
    assert "Policy Analyzer API disabled" in plain  # what was missing and why
    assert "bob@example.com" in plain and "2026-01-31" in plain  # the expired exception, owner, expiry
    assert "alice@example.com" in plain


@pytest.mark.parametrize("fmt", ("sarif", "junit", "html"))
def test_each_evidence_format_carries_thresholds_and_population(report: Report, fmt: str):
    text = render(report, fmt)
    assert "unused_days" in text and "rotation_days" in text
    assert "credential_kinds" in text or "population.identities" in text


def test_every_registered_format_renders_an_empty_report(empty_report: Report):
    for fmt in FORMATS:
        assert render(empty_report, fmt)


def test_compliance_pass_fail_and_not_evaluated(report: Report):
    views = {v.prefix: v for v in compliance.evaluate(report)}
    aws = {c.control: c for c in views["CIS-AWS"].controls}
    assert aws["1.14"].status == "fail"  # rotation-overdue on access keys
    assert aws["1.13"].status == "pass"  # multiple keys: rule ran on AWS, nothing found
    azure = views["CIS-AZURE"].controls
    assert azure and all(c.status == "not-evaluated" and "azure" in c.note for c in azure)
    k8s = {c.control: c for c in views["CIS-K8S"].controls}
    assert k8s["5.1.1"].status == "fail"
    owasp = {c.control: c for c in views["OWASP"].controls}
    assert owasp["NHI5"].accepted == 1  # svc-ci's admin rights, accepted by exception
    for prefix in ("OWASP", "PCI-DSS", "NIST-800-53", "ISO27001", "SOC2", "CIS-GCP"):
        assert views[prefix].controls, prefix
    assert json.dumps(compliance.as_json(report))


def test_controls_of_a_disabled_rule_are_not_evaluated():
    from nhiwarden.config import parse_config

    report = build_report(config=parse_config({"rules": {"rotation-overdue": {"enabled": False}}}))
    aws = {c.control: c for c in next(v for v in compliance.evaluate(report) if v.prefix == "CIS-AWS").controls}
    assert aws["1.14"].status == "not-evaluated"


def test_a_registered_secret_in_a_scope_error_appears_in_no_format():
    register_secret(CANARY)
    scopes: list[ScopeResult] = estate()
    failed = next(s for s in scopes if s.status == "error")
    failed.error = redact(f"auth: token {CANARY} rejected by https://vault.example:8200")
    failed.missing.append(redact(f"audit devices: lookup with {CANARY} failed"))
    report = build_report(scopes)
    for fmt in FORMATS:
        assert CANARY not in render(report, fmt), fmt
