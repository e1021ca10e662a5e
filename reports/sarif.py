"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One ``reportingDescriptor`` per rule id with help text from the rule's metadata; one result per
finding with ``partialFingerprints`` taken from the finding id, so an alert follows its identity or
credential across scans; ``level`` and ``security-severity`` from the finding's severity.

Location: the identity is the result's *logical* location (``fullyQualifiedName`` = identity uid).
GitHub's upload rejects results without a physical ``artifactLocation`` ("locationFromSarifResult:
expected at least one location" / "expected artifact location"), so each result also names one real
file: the nhiwarden configuration the scan used (``nhiwarden.yaml`` when none was given) — the file where
an exception for the finding would be recorded — at line 1. No path is invented per identity.
The ``primaryLocationLineHash`` fingerprint is the finding id too, which keeps GitHub from hashing that
file's line 1 and makes alerts per-finding.

GitHub's limits (25,000 results per run, 10 MB gzipped upload) are enforced here: results are kept
worst-first and the run says so in a tool notification and ``run.properties.truncated``.
No ``automationDetails`` is written: upload-sarif's ``category`` input is ignored when the file has
one, so the category stays the workflow's choice.

Findings held back by ``--baseline`` are included with ``baselineState: unchanged`` (so code scanning
does not close their alerts), new ones with ``baselineState: new``; suppressed findings carry an
``accepted`` external suppression with the exception's reason, owner and expiry.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from nhiwarden.findings import Finding, Severity
from nhiwarden.report import ExceptionInForce, Report
from nhiwarden.reports import audit
from nhiwarden.reports.baseline import unchanged_findings

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/nhiwarden/nhiwarden"
MAX_RESULTS = 25_000
MAX_GZIP_BYTES = 10 * 1024 * 1024
MAX_TAGS = 20
FINGERPRINT_KEY = "nhiwardenFindingId/v1"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.1",
}


def _rule_name(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)


def _rules(report: Report, findings: list[Finding]) -> list[dict[str, Any]]:
    from nhiwarden.rules import all_rules

    known = all_rules()
    recorded = report.scan.parameters.get("rules")
    params: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    ids = sorted(set(audit.enabled_rule_ids(report)) | {f.rule_id for f in findings})
    controls: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for f in findings:
        titles.setdefault(f.rule_id, f.title)
        for c in f.controls:
            if c not in controls.setdefault(f.rule_id, []):
                controls[f.rule_id].append(c)
    out = []
    for rule_id in ids:
        rule = known.get(rule_id)
        title = rule.title if rule else titles.get(rule_id, rule_id)
        rationale = rule.rationale if rule else title
        severity = rule.severity if rule else Severity.MEDIUM
        override = params.get(rule_id, {})
        if isinstance(override, dict) and str(override.get("severity")) in {s.value for s in Severity}:
            severity = Severity(str(override["severity"]))
        rule_params = override.get("params", {}) if isinstance(override, dict) else {}
        remediation = ", ".join(rule.remediation) if rule and rule.remediation else "see nhiwarden plan"
        help_md = (
            f"**{title}**\n\n{rationale}\n\n"
            f"Parameters: `{json.dumps(rule_params, sort_keys=True, default=str)}`\n\n"
            f"Remediation playbooks: {remediation}. Run `nhiwarden rules show {rule_id}` for details; "
            "accept a risk with an exception (owner, reason, expiry) in nhiwarden.yaml."
        )
        tags = ["security", "non-human-identity", *controls.get(rule_id, [])][:MAX_TAGS]
        out.append(
            {
                "id": rule_id,
                "name": _rule_name(rule_id),
                "shortDescription": {"text": title},
                "fullDescription": {"text": rationale},
                "help": {"text": help_md.replace("**", "").replace("`", ""), "markdown": help_md},
                "defaultConfiguration": {"level": LEVEL[severity]},
                "properties": {
                    "tags": tags,
                    "precision": "high",
                    "security-severity": SECURITY_SEVERITY[severity],
                    "nhiwarden-severity": severity.value,
                    "version": rule.version if rule else "unknown",
                    "parameters": rule_params,
                },
            }
        )
    return out


def _artifact_uri(report: Report) -> str:
    source = report.scan.parameters.get("config_file")
    if isinstance(source, str) and source and not source.startswith("/") and ".." not in source.split("/"):
        return source.replace("\\", "/")
    if isinstance(source, str) and source:
        return source.replace("\\", "/").rsplit("/", 1)[-1]
    return "nhiwarden.yaml"


def _result(
    finding: Finding,
    rule_index: dict[str, int],
    uri: str,
    *,
    baseline_state: str | None,
    exception: ExceptionInForce | None,
) -> dict[str, Any]:
    ident = finding.identity
    logical = [
        {
            "fullyQualifiedName": ident.uid,
            "name": ident.name,
            "kind": "resource",
            "decoratedName": f"{ident.provider}:{ident.scope}",
        }
    ]
    if finding.credential is not None:
        logical.append(
            {"fullyQualifiedName": finding.credential.uid, "name": finding.credential.id, "kind": "resource"}
        )
    who = ident.name + (f" ({finding.credential.kind} {finding.credential.id})" if finding.credential else "")
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index[finding.rule_id],
        "level": LEVEL[finding.severity],
        "kind": "fail",
        "message": {"text": f"{audit.one_line(finding.message, 1000)} [{audit.one_line(who, 300)}]"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1},
                },
                "logicalLocations": logical,
                "message": {"text": f"identity {ident.uid}"},
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.id, "primaryLocationLineHash": finding.id},
        "properties": {
            "finding_id": finding.id,
            "severity": finding.severity.value,
            "security-severity": SECURITY_SEVERITY[finding.severity],
            "identity": finding.identity.model_dump(mode="json"),
            "credential": finding.credential.model_dump(mode="json") if finding.credential else None,
            "evidence": finding.evidence,
            "controls": list(finding.controls),
            "compliance": [c.model_dump(mode="json") for c in finding.compliance],
            "remediation": list(finding.remediation),
        },
    }
    if baseline_state is not None:
        result["baselineState"] = baseline_state
    if exception is not None:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": (
                    f"{exception.reason} (owner {exception.owner}, expires {exception.expires.isoformat()})"
                ),
                "properties": {
                    "owner": exception.owner,
                    "approver": exception.approver,
                    "ticket": exception.ticket,
                    "expires": exception.expires.isoformat(),
                    "match": dict(exception.match),
                },
            }
        ]
    return result


def _compliance(report: Report) -> list[dict[str, Any]]:
    """Per framework: counts and the failing controls (the HTML report lists every control)."""
    from nhiwarden.reports import compliance

    out = []
    for view in compliance.evaluate(report):
        out.append(
            {
                "framework": view.prefix,
                "name": view.name,
                "version": view.version,
                "counts": view.counts(),
                "failing": [c.control for c in view.controls if c.status == "fail"],
                "not_evaluated": [c.control for c in view.controls if c.status == "not-evaluated"],
            }
        )
    return out


def _notifications(report: Report) -> list[dict[str, Any]]:
    out = []
    for s in report.scopes:
        where = f"{s.provider}:{s.scope}"
        if s.status == "error":
            out.append(
                {
                    "level": "error",
                    "message": {"text": f"scope {where} could not be scanned: {s.error}"},
                    "descriptor": {"id": "scope-error"},
                }
            )
        for missing in s.missing:
            out.append(
                {
                    "level": "warning",
                    "message": {"text": f"scope {where} partial: {missing}"},
                    "descriptor": {"id": "scope-partial"},
                }
            )
        for skipped in s.skipped:
            out.append(
                {
                    "level": "note",
                    "message": {"text": f"scope {where} skipped: {skipped}"},
                    "descriptor": {"id": "scope-skipped"},
                }
            )
    for e in report.exceptions:
        if e.expired:
            out.append(
                {
                    "level": "warning",
                    "message": {
                        "text": f"exception expired on {e.expires.isoformat()} (owner {e.owner}): "
                        f"{e.reason}; it no longer suppresses"
                    },
                    "descriptor": {"id": "exception-expired"},
                }
            )
    return out


def build(report: Report, *, max_results: int = MAX_RESULTS, max_gzip_bytes: int = MAX_GZIP_BYTES) -> dict[str, Any]:
    """The SARIF log as a dict, within GitHub's limits."""
    return _build(report, max_results, max_gzip_bytes)[0]


def _build(report: Report, max_results: int, max_gzip_bytes: int) -> tuple[dict[str, Any], str]:
    baselined = report.baseline is not None
    entries: list[tuple[Finding, str | None, ExceptionInForce | None]] = [
        (f, "new" if baselined else None, None) for f in report.findings
    ]
    entries += [(f, "unchanged", None) for f in unchanged_findings(report)]
    entries += [(s.finding, None, s.exception) for s in report.suppressed]
    # Worst first, active before unchanged before suppressed: what truncation drops matters least.
    order = {None: 0, "new": 0, "unchanged": 1}
    entries.sort(key=lambda e: (e[2] is not None, order.get(e[1], 0), -e[0].severity.rank, e[0].rule_id, e[0].id))
    rules = _rules(report, [e[0] for e in entries])
    rule_index = {r["id"]: i for i, r in enumerate(rules)}
    uri = _artifact_uri(report)
    results = [_result(f, rule_index, uri, baseline_state=b, exception=x) for f, b, x in entries]

    total = len(results)
    limit = min(total, max_results)
    log = _log(report, rules, results[:limit], total)
    text = _dump(log)
    while limit > 0 and len(gzip.compress(text.encode(), compresslevel=6)) > max_gzip_bytes:
        limit = limit * 3 // 4
        log = _log(report, rules, results[:limit], total)
        text = _dump(log)
    return log, text


def _log(report: Report, rules: list[dict[str, Any]], results: list[dict[str, Any]], total: int) -> dict[str, Any]:
    notifications = _notifications(report)
    properties: dict[str, Any] = {"nhiwarden": audit.facts(report), "compliance": _compliance(report)}
    if len(results) < total:
        text = (
            f"SARIF truncated to {len(results)} of {total} results to stay within GitHub code scanning limits "
            f"({MAX_RESULTS} results per run, 10 MB gzipped); the worst findings were kept. "
            "The JSON report has every finding."
        )
        notifications.insert(
            0, {"level": "warning", "message": {"text": text}, "descriptor": {"id": "sarif-truncated"}}
        )
        properties["truncated"] = {"kept": len(results), "total": total, "reason": text}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": report.tool.name,
                        "version": report.tool.version,
                        "semanticVersion": report.tool.version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                        "properties": {"rule_pack": dict(report.tool.rule_pack)},
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.failed_scopes,
                        "startTimeUtc": audit.iso(report.scan.started_at),
                        "endTimeUtc": audit.iso(report.scan.finished_at),
                        "toolExecutionNotifications": notifications,
                        "properties": {"as_of": audit.iso(report.scan.as_of), "parameters": report.scan.parameters},
                    }
                ],
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "The repository holding the nhiwarden configuration."}}
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": properties,
            }
        ],
    }


def _dump(log: dict[str, Any]) -> str:
    # Compact: the C encoder is used only without indent, and large estates produce 25,000 results.
    return json.dumps(log, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"


def render(report: Report) -> str:
    return _build(report, MAX_RESULTS, MAX_GZIP_BYTES)[1]
