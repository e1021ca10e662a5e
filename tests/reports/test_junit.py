"""JUnit XML: valid against the Apache Ant JUnit XSD; one test case per rule and scope."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pytest
from nhiwarden.report import Report
from nhiwarden.reports import junit
from nhiwarden.reports.baseline import apply_baseline

from tests.reports.conftest import build_report

etree = pytest.importorskip("lxml.etree", reason="lxml validates XML against the XSD")


@cache
def xsd() -> etree.XMLSchema:
    path = resources.files("nhiwarden.reports") / "schema" / "vendor" / "JUnit.xsd"
    return etree.XMLSchema(etree.fromstring(path.read_bytes()))


def parse(report: Report) -> etree._Element:
    doc = etree.fromstring(junit.render(report).encode())
    xsd().assertValid(doc)
    return doc


def suite(doc: etree._Element, name: str) -> etree._Element:
    return doc.xpath(f"testsuite[@name='{name}']")[0]


def test_junit_validates_against_the_xsd(report: Report):
    parse(report)


def test_one_testcase_per_rule_and_scope_failures_carry_the_findings(report: Report):
    doc = parse(report)
    aws = suite(doc, "aws:123456789012")
    names = aws.xpath("testcase/@name")
    assert len(names) == len(set(names))
    assert "rotation-overdue" in names and "unused-credential" in names
    failure = aws.xpath("testcase[@name='unused-credential']/failure")[0]
    assert "svc-old" in failure.text and "AKIAEXAMPLEOLD00001" in failure.text
    assert failure.get("type") == "medium"
    assert not aws.xpath("testcase[@name='human-use']/failure"), "rules without findings pass"
    assert int(aws.get("failures")) == len(aws.xpath("testcase/failure"))
    assert int(aws.get("tests")) == len(names)


def test_a_scope_that_failed_errors_every_testcase(report: Report):
    vault = suite(parse(report), "vault:https://vault.example:8200")
    cases = vault.xpath("testcase")
    assert cases and all(c.xpath("error") for c in cases)
    assert int(vault.get("errors")) == len(cases)


def test_accepted_findings_pass_and_expired_exceptions_fail(report: Report):
    doc = parse(report)
    aws = suite(doc, "aws:123456789012")
    over = aws.xpath("testcase[@name='over-privileged']/failure")[0].text
    assert "svc-ci" not in over.split("\n")[0] or "accepted" not in over
    assert "accepted by exception" in aws.xpath("system-out")[0].text
    exceptions = suite(doc, "nhiwarden.exceptions")
    failures = exceptions.xpath("testcase/failure")
    assert len(failures) == 1 and "bob@example.com" in failures[0].text


def test_with_a_baseline_only_new_findings_fail(report: Report):
    current = apply_baseline(report, build_report(scan_id="old"), file="old.json")
    doc = parse(current)
    assert not doc.xpath("testsuite[not(@name='nhiwarden.exceptions')]/testcase/failure")
    assert "unchanged since baseline" in suite(doc, "aws:123456789012").xpath("system-out")[0].text


def test_properties_carry_audit_evidence(report: Report):
    aws = suite(parse(report), "aws:123456789012")
    props = {p.get("name"): p.get("value") for p in aws.xpath("properties/property")}
    assert props["scan.as_of"].startswith("2026-06-01")
    assert props["nhiwarden.version"]
    assert "unused_days" in props["scan.thresholds"]
    assert props["scope.status"] == "ok"
    assert props["population.identities"] == "5"


def test_control_characters_in_names_do_not_break_the_xml(report: Report):
    report.findings[0].identity.name = "bad\x00\x07name"
    report.findings[0].message = "msg \x1b[31m"
    parse(report)
