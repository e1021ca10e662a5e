"""JUnit XML for CI test panels (GitLab, Jenkins, Azure DevOps): one test case per rule and scope.

Each scanned scope is a ``testsuite``; each enabled rule that applies to the scope's provider is a
``testcase`` that fails when the rule has findings there, with every finding in the failure text. A
scope that could not be scanned gives each of its test cases an ``error``. Findings accepted by an
exception do not fail (they are listed in ``system-out``); with ``--baseline`` only new findings fail.
A last suite, ``nhiwarden.exceptions``, has one test case per exception that fails once it expired.
Audit evidence (versions, parameters, as_of, scope status, population) goes in ``properties``.

The output validates against the Apache Ant JUnit XSD (``schema/vendor/JUnit.xsd``).
"""

from __future__ import annotations

import json
import socket
from collections import defaultdict
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from nhiwarden.findings import Finding
from nhiwarden.report import Report
from nhiwarden.reports import audit
from nhiwarden.reports.baseline import unchanged_findings

_XML_BAD = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def _clean(text: object) -> str:
    """XML 1.0 cannot carry most control characters: drop them (names are attacker-controlled)."""
    return str(text).translate(_XML_BAD).replace("\ufffe", "").replace("\uffff", "")


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _duration(report: Report) -> str:
    seconds = (report.scan.finished_at - report.scan.started_at).total_seconds()
    return f"{max(seconds, 0.0):.3f}"


def _applies(rule_id: str, provider: str) -> bool:
    from nhiwarden.rules import all_rules

    rule = all_rules().get(rule_id)
    return rule is None or not rule.providers or provider in rule.providers


def _finding_text(f: Finding) -> str:
    lines = [
        f"[{f.severity.value}] {audit.one_line(f.identity.name, 300)} ({f.identity.uid})",
        f"  finding: {f.id}",
    ]
    if f.credential is not None:
        lines.append(f"  credential: {f.credential.kind} {f.credential.id}")
    lines.append(f"  {audit.one_line(f.message, 1000)}")
    if f.controls:
        lines.append(f"  controls: {', '.join(f.controls)}")
    if f.evidence:
        lines.append(f"  evidence: {json.dumps(f.evidence, sort_keys=True, default=str)}")
    if f.remediation:
        lines.append(f"  remediation: {', '.join(f.remediation)}")
    return "\n".join(lines)


def _properties(parent: ET.Element, values: dict[str, object]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        ET.SubElement(props, "property", name=name, value=_clean(text))


def _suite(root: ET.Element, index: int, name: str, report: Report) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        name=_clean(name) or "nhiwarden",
        package="nhiwarden",
        id=str(index),
        timestamp=_timestamp(report.scan.started_at),
        hostname=_clean(socket.gethostname() or "localhost") or "localhost",
        tests="0",
        failures="0",
        errors="0",
        skipped="0",
        time=_duration(report),
    )


def build(report: Report) -> ET.Element:
    root = ET.Element("testsuites")
    by_scope: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_scope[(f.identity.provider, f.identity.scope)].append(f)
    held: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in unchanged_findings(report):
        held[(f.identity.provider, f.identity.scope)].append(
            f"unchanged since baseline: {f.rule_id} {f.identity.uid} ({f.id})"
        )
    for s in report.suppressed:
        f = s.finding
        held[(f.identity.provider, f.identity.scope)].append(
            f"accepted by exception (owner {s.exception.owner}, expires {s.exception.expires}): "
            f"{f.rule_id} {f.identity.uid} ({f.id})"
        )
    rule_ids = audit.enabled_rule_ids(report)
    scopes = list(report.scopes)
    known = {(s.provider, s.scope) for s in scopes}
    # Findings whose identity scope differs from the scope id still need a home.
    extra = sorted(k for k in by_scope if k not in known)

    for index, scope in enumerate(scopes):
        key = (scope.provider, scope.scope)
        suite = _suite(root, index, f"{scope.provider}:{scope.scope}", report)
        _properties(
            suite,
            {
                "provider": scope.provider,
                "scope": scope.scope,
                "scope.status": scope.status,
                "scope.error": scope.error or "",
                "scope.missing": scope.missing,
                "scope.skipped": scope.skipped,
                "population.identities": scope.identity_count,
                "population.credentials": scope.credential_count,
                "api_calls": scope.api_calls,
                **_run_properties(report),
            },
        )
        tests = failures = errors = 0
        findings = by_scope.get(key, [])
        ids = sorted(set(r for r in rule_ids if _applies(r, scope.provider)) | {f.rule_id for f in findings})
        for rule_id in ids:
            case = ET.SubElement(
                suite, "testcase", name=rule_id, classname=_clean(f"nhiwarden.{scope.provider}.{scope.scope}"), time="0"
            )
            tests += 1
            mine = [f for f in findings if f.rule_id == rule_id]
            if scope.status == "error":
                err = ET.SubElement(
                    case, "error", message=_clean(f"scope could not be scanned: {scope.error}"), type="scope-error"
                )
                err.text = _clean(scope.error or "")
                errors += 1
            elif mine:
                worst = max(mine, key=lambda f: f.severity.rank).severity.value
                fail = ET.SubElement(
                    case, "failure", message=_clean(f"{len(mine)} finding(s), worst {worst}"), type=worst
                )
                fail.text = _clean("\n\n".join(_finding_text(f) for f in mine))
                failures += 1
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        out = ET.SubElement(suite, "system-out")
        lines = (
            [f"status: {scope.status}"]
            + [f"missing: {m}" for m in scope.missing]
            + [f"skipped: {m}" for m in scope.skipped]
        )
        out.text = _clean("\n".join(lines + held.get(key, [])))
        err_el = ET.SubElement(suite, "system-err")
        err_el.text = _clean(scope.error or "")

    for offset, key in enumerate(extra):
        suite = _suite(root, len(scopes) + offset, f"{key[0]}:{key[1]}", report)
        _properties(suite, {"provider": key[0], "scope": key[1], **_run_properties(report)})
        findings = by_scope[key]
        ids = sorted({f.rule_id for f in findings})
        for rule_id in ids:
            case = ET.SubElement(
                suite, "testcase", name=rule_id, classname=_clean(f"nhiwarden.{key[0]}.{key[1]}"), time="0"
            )
            mine = [f for f in findings if f.rule_id == rule_id]
            worst = max(mine, key=lambda f: f.severity.rank).severity.value
            fail = ET.SubElement(case, "failure", message=f"{len(mine)} finding(s), worst {worst}", type=worst)
            fail.text = _clean("\n\n".join(_finding_text(f) for f in mine))
        suite.set("tests", str(len(ids)))
        suite.set("failures", str(len(ids)))
        ET.SubElement(suite, "system-out").text = _clean("\n".join(held.get(key, [])))
        ET.SubElement(suite, "system-err").text = ""

    suite = _suite(root, len(scopes) + len(extra), "nhiwarden.exceptions", report)
    _properties(suite, _run_properties(report))
    failures = 0
    for e in report.exceptions:
        match = ",".join(f"{k}={v}" for k, v in sorted(e.match.items()))
        case = ET.SubElement(
            suite,
            "testcase",
            name=_clean(f"exception {match}") or "exception",
            classname="nhiwarden.exceptions",
            time="0",
        )
        if e.expired:
            fail = ET.SubElement(
                case,
                "failure",
                message=_clean(f"expired on {e.expires.isoformat()}; it no longer suppresses"),
                type="exception-expired",
            )
            fail.text = _clean(
                f"owner: {e.owner}\napprover: {e.approver or '-'}\nticket: {e.ticket or '-'}\nreason: {e.reason}"
            )
            failures += 1
    suite.set("tests", str(len(report.exceptions)))
    suite.set("failures", str(failures))
    ET.SubElement(suite, "system-out").text = _clean(
        "\n".join(
            f"{'EXPIRED' if e.expired else 'in force'} until {e.expires.isoformat()}: "
            f"owner {e.owner}; reason {e.reason}; matched {e.matched}"
            for e in report.exceptions
        )
    )
    ET.SubElement(suite, "system-err").text = ""
    return root


def _run_properties(report: Report) -> dict[str, object]:
    out: dict[str, object] = {
        "nhiwarden.version": report.tool.version,
        "nhiwarden.rule_pack": report.tool.rule_pack,
        "nhiwarden.report_schema_version": report.schema_version,
        "scan.id": report.scan.id,
        "scan.as_of": audit.iso(report.scan.as_of) or "",
        "scan.started_at": audit.iso(report.scan.started_at) or "",
        "scan.finished_at": audit.iso(report.scan.finished_at) or "",
        "scan.thresholds": audit.thresholds(report),
        "scan.parameters": report.scan.parameters,
        "population.total": {"identities": report.summary.identities, "credentials": report.summary.credentials},
    }
    if report.baseline is not None:
        out["baseline"] = report.baseline.model_dump(mode="json")
    return out


def render(report: Report) -> str:
    root = build(report)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
