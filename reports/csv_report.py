"""CSV: one row per finding, safe to open in a spreadsheet.

Identity names, messages and evidence come from the scanned systems and are attacker-controlled, so
every cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) gets a leading apostrophe (OWASP "CSV injection"). Rows cover active findings
(``status`` new or active), findings held back by a baseline (``unchanged``) and findings accepted by an
exception (``suppressed``, with the exception's owner, reason and expiry).
"""

from __future__ import annotations

import csv
import json
from io import StringIO

from nhiwarden.findings import Finding
from nhiwarden.report import ExceptionInForce, Report
from nhiwarden.reports.audit import sort_findings
from nhiwarden.reports.baseline import unchanged_findings

COLUMNS = [
    "finding_id",
    "status",
    "severity",
    "rule_id",
    "title",
    "provider",
    "scope",
    "identity_uid",
    "identity_name",
    "identity_kind",
    "credential_id",
    "credential_kind",
    "credential_uid",
    "message",
    "controls",
    "remediation",
    "evidence",
    "exception_owner",
    "exception_reason",
    "exception_expires",
    "as_of",
    "scan_id",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Make a cell inert: spreadsheets never evaluate text that starts with an apostrophe."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _row(report: Report, f: Finding, status: str, exception: ExceptionInForce | None) -> list[str]:
    cred = f.credential
    cells = [
        f.id,
        status,
        f.severity.value,
        f.rule_id,
        f.title,
        f.identity.provider,
        f.identity.scope,
        f.identity.uid,
        f.identity.name,
        f.identity.kind,
        cred.id if cred else "",
        cred.kind if cred else "",
        cred.uid if cred else "",
        f.message,
        ";".join(f.controls),
        ";".join(f.remediation),
        json.dumps(f.evidence, sort_keys=True, default=str),
        exception.owner if exception else "",
        exception.reason if exception else "",
        exception.expires.isoformat() if exception else "",
        report.scan.as_of.isoformat(),
        report.scan.id,
    ]
    return [neutralise(c) for c in cells]


def render(report: Report) -> str:
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    active = "new" if report.baseline is not None else "active"
    for f in sort_findings(report.findings):
        writer.writerow(_row(report, f, active, None))
    for f in sort_findings(unchanged_findings(report)):
        writer.writerow(_row(report, f, "unchanged", None))
    for s in sorted(report.suppressed, key=lambda s: (-s.finding.severity.rank, s.finding.id)):
        writer.writerow(_row(report, s.finding, "suppressed", s.exception))
    return buffer.getvalue()
