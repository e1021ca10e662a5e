"""Audit evidence shared by the report formats: what every renderer says about the scan itself.

Auditors test "information produced by the entity" for completeness and accuracy: they need the
versions, parameters, ``as_of``, start/end, each scope with its status and what was skipped, the
population examined (not only the findings) and the exceptions in force. This module gathers those
facts from a ``Report`` as plain JSON values; it computes no findings and never reads the clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from nhiwarden.findings import Finding, Severity
from nhiwarden.report import Report

SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def population(report: Report) -> dict[str, Any]:
    """Counts that reconcile with the source systems: per provider, scope, identity and credential kind."""
    by_provider: dict[str, dict[str, int]] = {}
    identity_kinds: Counter[str] = Counter()
    credential_kinds: Counter[str] = Counter()
    for identity in report.identities:
        row = by_provider.setdefault(identity.provider, {"identities": 0, "credentials": 0})
        row["identities"] += 1
        row["credentials"] += len(identity.credentials)
        identity_kinds[identity.kind] += 1
        credential_kinds.update(c.kind for c in identity.credentials)
    return {
        "identities": len(report.identities),
        "credentials": sum(len(i.credentials) for i in report.identities),
        "by_provider": dict(sorted(by_provider.items())),
        "identity_kinds": dict(sorted(identity_kinds.items())),
        "credential_kinds": dict(sorted(credential_kinds.items())),
        "scopes": [
            {
                "provider": s.provider,
                "scope": s.scope,
                "status": s.status,
                "identities": s.identity_count,
                "credentials": s.credential_count,
            }
            for s in report.scopes
        ],
    }


def scopes(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "provider": s.provider,
            "scope": s.scope,
            "name": s.name,
            "status": s.status,
            "error": s.error,
            "missing": list(s.missing),
            "skipped": list(s.skipped),
            "identities": s.identity_count,
            "credentials": s.credential_count,
            "api_calls": dict(s.api_calls),
            "started_at": iso(s.started_at),
            "finished_at": iso(s.finished_at),
        }
        for s in report.scopes
    ]


def exceptions(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "match": dict(e.match),
            "reason": e.reason,
            "owner": e.owner,
            "approver": e.approver,
            "ticket": e.ticket,
            "expires": e.expires.isoformat(),
            "expired": e.expired,
            "matched": e.matched,
        }
        for e in report.exceptions
    ]


def thresholds(report: Report) -> dict[str, Any]:
    value = report.scan.parameters.get("thresholds")
    return dict(value) if isinstance(value, dict) else {}


def facts(report: Report) -> dict[str, Any]:
    """Everything an auditor needs to judge the report, as one JSON-ready mapping."""
    baseline = report.baseline
    return {
        "report_schema_version": report.schema_version,
        "tool": {"name": report.tool.name, "version": report.tool.version},
        "rule_pack": dict(report.tool.rule_pack),
        "scan_id": report.scan.id,
        "started_at": iso(report.scan.started_at),
        "finished_at": iso(report.scan.finished_at),
        "as_of": iso(report.scan.as_of),
        "parameters": report.scan.parameters,
        "scopes": scopes(report),
        "population": population(report),
        "exceptions": exceptions(report),
        "baseline": baseline.model_dump(mode="json") if baseline is not None else None,
        "findings": len(report.findings),
        "suppressed": len(report.suppressed),
    }


def enabled_rule_ids(report: Report) -> list[str]:
    """Rules the scan ran: from the recorded parameters, else the findings' rules."""
    rules = report.scan.parameters.get("rules")
    if isinstance(rules, dict) and rules:
        return sorted(rules)
    return sorted({f.rule_id for f in report.findings})


def providers_scanned(report: Report) -> list[str]:
    """Providers with at least one scope that was scanned (status ok or partial)."""
    return sorted({s.provider for s in report.scopes if s.status != "error"})


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (-f.severity.rank, f.rule_id, f.identity.uid, f.credential.uid if f.credential else ""),
    )


def one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace (names and messages may carry newlines) and bound the length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
