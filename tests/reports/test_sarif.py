"""SARIF: valid against the official 2.1.0 schema, and shaped the way GitHub code scanning accepts it."""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from nhiwarden.report import Report
from nhiwarden.reports import sarif
from nhiwarden.reports.baseline import apply_baseline

from tests.reports.conftest import HTML_NAME, build_report


@cache
def sarif_schema() -> dict[str, Any]:
    text = (resources.files("nhiwarden.reports") / "schema" / "vendor" / "sarif-schema-2.1.0.json").read_text()
    return dict(json.loads(text))


def validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(sarif_schema()).validate(log)


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    return list(log["runs"][0]["results"])


def test_sarif_validates_against_the_official_2_1_0_schema(report: Report):
    log = json.loads(sarif.render(report))
    validate(log)
    assert log["version"] == "2.1.0"


def test_one_rule_per_rule_id_with_help_text_and_security_severity(report: Report):
    log = sarif.build(report)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert {f.rule_id for f in report.findings} <= set(ids)
    over = next(r for r in rules if r["id"] == "over-privileged")
    assert over["help"]["text"] and over["help"]["markdown"]
    assert over["fullDescription"]["text"]
    assert float(over["properties"]["security-severity"]) >= 7.0
    assert "security" in over["properties"]["tags"] and len(over["properties"]["tags"]) <= 20
    for res in results(log):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


def test_level_and_security_severity_follow_the_finding_severity(report: Report):
    log = sarif.build(report)
    by_id = {r["partialFingerprints"]["nhiwardenFindingId/v1"]: r for r in results(log)}
    for f in report.findings:
        res = by_id[f.id]
        assert res["level"] == sarif.LEVEL[f.severity]
        assert res["properties"]["security-severity"] == sarif.SECURITY_SEVERITY[f.severity]
    assert sarif.LEVEL[next(f for f in report.findings if f.severity.value == "critical").severity] == "error"


def test_identity_is_the_logical_location_and_the_only_file_is_the_config(report: Report):
    log = sarif.build(report)
    res = next(r for r in results(log) if r["properties"]["identity"]["name"] == HTML_NAME)
    location = res["locations"][0]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == res["properties"]["identity"]["uid"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results(log)}
    assert uris == {"nhiwarden.yaml"}


def test_partial_fingerprints_are_stable_across_scans_when_messages_change():
    first = build_report(scan_id="a")
    second = build_report(scan_id="b")
    for f in second.findings:
        f.message = f.message + " (reworded)"
        f.evidence["extra"] = 1
    prints = [
        sorted(r["partialFingerprints"]["nhiwardenFindingId/v1"] for r in results(sarif.build(rep)))
        for rep in (first, second)
    ]
    assert prints[0] == prints[1]
    assert all(r["partialFingerprints"]["primaryLocationLineHash"] for r in results(sarif.build(first)))


def test_truncation_keeps_the_worst_results_and_says_so(report: Report):
    log = sarif.build(report, max_results=3)
    validate(log)
    kept = results(log)
    assert len(kept) == 3
    assert [r["properties"]["severity"] for r in kept][:2] == ["critical", "critical"]
    run = log["runs"][0]
    assert run["properties"]["truncated"]["total"] == len(report.findings) + len(report.suppressed)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("truncated" in n["message"]["text"] for n in notes)


def test_gzipped_size_limit_is_enforced(report: Report):
    base = report.findings[0]
    report.findings = [
        base.model_copy(update={"id": f"nhw-{i:020d}", "message": f"finding {i} " + "x" * (i % 97)}) for i in range(800)
    ]
    full = len(gzip.compress(sarif.render(report).encode()))
    limit = full // 2
    log = sarif.build(report, max_gzip_bytes=limit)
    assert len(gzip.compress(sarif._dump(log).encode())) <= limit
    assert 0 < log["runs"][0]["properties"]["truncated"]["kept"] < 800


def test_github_limits_are_the_documented_ones():
    assert sarif.MAX_RESULTS == 25_000
    assert sarif.MAX_GZIP_BYTES == 10 * 1024 * 1024


def test_suppressed_findings_carry_an_accepted_suppression_with_owner_and_expiry(report: Report):
    log = sarif.build(report)
    suppressed = [r for r in results(log) if "suppressions" in r]
    assert len(suppressed) == len(report.suppressed) == 1
    sup = suppressed[0]["suppressions"][0]
    assert sup["status"] == "accepted" and sup["properties"]["owner"] == "alice@example.com"
    assert sup["properties"]["expires"] == "2026-12-31"


def test_with_a_baseline_new_and_unchanged_results_are_marked(report: Report):
    old = build_report(scan_id="old")
    old.findings = old.findings[1:]
    current = apply_baseline(report, old, file="old.json")
    log = sarif.build(current)
    validate(log)
    states = [r.get("baselineState") for r in results(log) if "suppressions" not in r]
    assert states.count("new") == 1
    assert states.count("unchanged") == len(report.findings) - 1


def test_run_carries_audit_evidence_and_scope_problems(report: Report):
    run = sarif.build(report)["runs"][0]
    facts = run["properties"]["nhiwarden"]
    assert facts["as_of"].startswith("2026-06-01")
    assert facts["rule_pack"]["sha256"]
    assert facts["parameters"]["thresholds"]["unused_days"] == 90
    cis_aws = next(c for c in run["properties"]["compliance"] if c["framework"] == "CIS-AWS")
    assert "1.14" in cis_aws["failing"]
    assert run["invocations"][0]["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any("could not be scanned" in t for t in texts)
    assert any("partial" in t for t in texts)
    assert any("exception expired" in t for t in texts)


def test_empty_report_is_valid_sarif(empty_report: Report):
    log = sarif.build(empty_report)
    validate(log)
    assert results(log) == []
