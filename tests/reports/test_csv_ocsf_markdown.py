"""CSV (spreadsheet-safe), OCSF (IAM Analysis Finding fields) and the Markdown step summary."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from typing import Any

from nhiwarden.report import Report
from nhiwarden.reports import csv_report, markdown, ocsf
from nhiwarden.reports.baseline import apply_baseline

from tests.reports.conftest import FORMULA_NAME, HTML_NAME, MD_NAME, build_report

# ----------------------------------------------------------------------------------------------- CSV


def rows(report: Report) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_report.render(report), newline="")))


def test_csv_has_one_row_per_finding_with_status(report: Report):
    data = rows(report)
    assert len(data) == len(report.findings) + len(report.suppressed)
    assert {r["finding_id"] for r in data} == {f.id for f in report.findings} | {
        s.finding.id for s in report.suppressed
    }
    suppressed = [r for r in data if r["status"] == "suppressed"]
    assert suppressed[0]["exception_owner"] == "alice@example.com"
    assert suppressed[0]["exception_expires"] == "2026-12-31"


def test_identity_named_like_a_formula_is_neutralised(report: Report):
    data = rows(report)
    names = [r["identity_name"] for r in data if "HYPERLINK" in r["identity_name"]]
    assert names and all(n == "'" + FORMULA_NAME for n in names)
    for row in data:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_every_dangerous_leading_character_gets_an_apostrophe():
    for lead in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_report.neutralise(lead + "cmd|' /C calc'!A0") == "'" + lead + "cmd|' /C calc'!A0"
    assert csv_report.neutralise("svc-ci") == "svc-ci"


def test_csv_marks_new_and_unchanged_with_a_baseline(report: Report):
    old = build_report(scan_id="old")
    old.findings = old.findings[2:]
    data = rows(apply_baseline(report, old, file="old.json"))
    statuses = [r["status"] for r in data]
    assert statuses.count("new") == 2
    assert statuses.count("unchanged") == len(report.findings) - 2


# ---------------------------------------------------------------------------------------------- OCSF


@cache
def ocsf_class() -> dict[str, Any]:
    path = resources.files("nhiwarden.reports") / "schema" / "vendor" / "ocsf-1.6.0-iam_analysis_finding.json"
    return dict(json.loads(path.read_text()))


def check_object(name: str, value: dict[str, Any]) -> None:
    spec = ocsf_class()["objects"][name]
    missing = [k for k in spec["required"] if k not in value]
    assert not missing, f"{name}: missing required {missing}"
    unknown = set(value) - set(spec["attributes"])
    assert not unknown, f"{name}: unknown attributes {unknown}"
    for key, allowed in spec.get("enums", {}).items():
        if key in value:
            assert value[key] in allowed, f"{name}.{key}={value[key]}"


def check_event(event: dict[str, Any]) -> None:
    cls = ocsf_class()["class"]
    missing = [k for k in cls["required"] if k not in event]
    assert not missing, f"missing required {missing}"
    unknown = set(event) - set(cls["attributes"])
    assert not unknown, f"unknown attributes {unknown}"
    assert any(k in event for k in cls["at_least_one"])
    for key, allowed in cls["enums"].items():
        if key in event:
            assert event[key] in allowed, f"{key}={event[key]}"
    py_types = {"integer": int, "string": str, "array": list, "object": dict}
    for key, kind in cls["types"].items():
        if key in event:
            assert isinstance(event[key], py_types[kind]), f"{key} is not {kind}"
    assert event["class_uid"] == cls["uid"] == 2008
    assert event["category_uid"] == cls["category_uid"]
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    assert event["severity"] == cls["captions"]["severity_id"][str(event["severity_id"])]
    check_object("metadata", event["metadata"])
    check_object("product", event["metadata"]["product"])
    check_object("finding_info", event["finding_info"])
    check_object("analytic", event["finding_info"]["analytic"])
    check_object("user", event["user"])
    check_object("account", event["user"]["account"])
    check_object("identity_activity_metrics", event["identity_activity_metrics"])
    check_object("remediation", event["remediation"])
    for resource in event.get("resources", []):
        check_object("resource_details", resource)
    for result in event.get("permission_analysis_results", []):
        check_object("permission_analysis_result", result)
        check_object("policy", result["policy"])
    if "cloud" in event:
        check_object("cloud", event["cloud"])
        assert "cloud" in event["metadata"]["profiles"]


def test_every_ocsf_event_has_the_iam_analysis_finding_fields(report: Report):
    events = json.loads(ocsf.render(report))
    assert len(events) == len(report.findings) + len(report.suppressed)
    for event in events:
        check_event(event)
    assert ocsf_class()["version"] == ocsf.OCSF_VERSION


def test_ocsf_user_and_credential_map_our_identity_and_credential(report: Report):
    events = {e["finding_info"]["uid"]: e for e in ocsf.events(report)}
    finding = next(f for f in report.findings if f.rule_id == "unused-credential")
    event = events[finding.id]
    assert event["user"]["uid"] == finding.identity.uid
    assert event["user"]["credential_uid"] == finding.credential.id == "AKIAEXAMPLEOLD00001"
    assert event["identity_activity_metrics"]["credential_uid"] == "AKIAEXAMPLEOLD00001"
    assert event["identity_activity_metrics"]["credential_last_used_time"] > 0
    assert event["finding_info"]["analytic"]["uid"] == "unused-credential"
    assert event["unmapped"]["nhiwarden"]["evidence"]["threshold_days"] == 90


def test_over_privileged_maps_grants_to_permission_analysis(report: Report):
    event = next(
        e
        for e in ocsf.events(report)
        if e["user"]["name"] == HTML_NAME and e["finding_info"]["types"] == ["over-privileged"]
    )
    result = event["permission_analysis_results"][0]
    assert result["policy"]["name"] == "AdministratorAccess"
    assert result["granted_privileges"] == ["*"]


def test_suppressed_findings_have_status_suppressed(report: Report):
    suppressed = [e for e in ocsf.events(report) if e["status_id"] == 3]
    assert len(suppressed) == 1 and suppressed[0]["status"] == "Suppressed"
    assert suppressed[0]["unmapped"]["nhiwarden"]["exception"]["owner"] == "alice@example.com"


# ------------------------------------------------------------------------------------------ Markdown


def test_markdown_summary_has_counts_scopes_exceptions_and_evidence(report: Report):
    text = markdown.render(report)
    assert "| 🟥 critical | 2 |" in text
    assert "could not be scanned" in text
    assert "### Exceptions" in text and "bob@example.com" in text.replace("\\", "")
    assert "expired" in text
    assert "<details><summary>Audit evidence</summary>" in text
    assert "### Compliance" in text and "| CIS Kubernetes Benchmark | 1.12 |" in text
    assert "2026-06-01" in text


def test_markdown_escapes_attacker_controlled_names(report: Report):
    text = markdown.render(report)
    assert "<img" not in text and "</script>" not in text
    assert "&lt;img src=x" in text
    assert "<b>x</b>" not in text
    assert MD_NAME not in text
    for line in text.splitlines():
        if "bold" in line and "over-privileged" in line and line.startswith("|"):
            # the name's pipes are escaped so the table keeps its five columns
            cells = [c for c in line.replace("\\|", "").split("|")]
            assert len(cells) == 7, line


def test_markdown_with_baseline_reports_new_unchanged_resolved(report: Report):
    old = build_report(scan_id="old")
    old.findings = old.findings[1:]
    text = markdown.render(apply_baseline(report, old, file="baseline.json"))
    assert "**1 new**" in text
    assert "### New findings" in text


def test_markdown_caps_rows_for_the_step_summary(report: Report):
    base = report.findings[0]
    report.findings = [base.model_copy(update={"id": f"nhw-{i:020d}"}) for i in range(markdown.MAX_ROWS + 50)]
    text = markdown.render(report)
    assert "50 more in the full report" in text
    assert len(text.encode()) < 1024 * 1024
