"""Compare two reports by finding id: what is new, what was resolved, what is unchanged.

A finding the old report had and the new one lacks is only "resolved" when the new scan actually looked
at its scope; when that scope failed or was not scanned at all, the finding is "unverified" instead, so a
broken credential never reads as a clean bill of health. A finding now matched by an exception is
"suppressed", not resolved. Renders as a table (terminal) or JSON (pipelines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from nhiwarden.findings import Finding, Severity
from nhiwarden.report import Report
from nhiwarden.reports.audit import iso, sort_findings
from nhiwarden.reports.baseline import known_findings

DIFF_SCHEMA = "nhiwarden-diff/1"


@dataclass
class ReportDiff:
    old: Report
    new: Report
    added: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    unchanged: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    unverified: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.added),
            "resolved": len(self.resolved),
            "unchanged": len(self.unchanged),
            "suppressed": len(self.suppressed),
            "unverified": len(self.unverified),
        }


def _scanned(report: Report) -> tuple[set[tuple[str, str]], set[str]]:
    """(provider, scope) pairs scanned successfully, and providers with a failed scope listing."""
    ok = {(s.provider, s.scope) for s in report.scopes if s.status != "error"}
    providers_failed = {s.provider for s in report.scopes if s.status == "error" and s.scope == "*"}
    return ok, providers_failed


def compare(old: Report, new: Report) -> ReportDiff:
    before = {f.id: f for f in known_findings(old)}
    after = {f.id: f for f in known_findings(new)}
    now_suppressed = {s.finding.id for s in new.suppressed}
    ok_scopes, failed_providers = _scanned(new)
    ok_providers = {p for p, _ in ok_scopes}
    out = ReportDiff(old=old, new=new)
    for fid, finding in after.items():
        (out.unchanged if fid in before else out.added).append(finding)
    for fid, finding in before.items():
        if fid in after:
            continue
        ident = finding.identity
        if fid in now_suppressed:
            out.suppressed.append(finding)
        elif (ident.provider, ident.scope) in ok_scopes or (
            ident.provider in ok_providers and ident.provider not in failed_providers
        ):
            out.resolved.append(finding)
        else:
            out.unverified.append(finding)
    for bucket in (out.added, out.resolved, out.unchanged, out.suppressed, out.unverified):
        bucket[:] = sort_findings(bucket)
    return out


def _finding_json(f: Finding) -> dict[str, Any]:
    return f.model_dump(mode="json")


def _side(report: Report, file: str | None) -> dict[str, Any]:
    return {
        "file": file,
        "scan_id": report.scan.id,
        "as_of": iso(report.scan.as_of),
        "finished_at": iso(report.scan.finished_at),
        "tool_version": report.tool.version,
        "rule_pack": dict(report.tool.rule_pack),
        "scopes": [{"provider": s.provider, "scope": s.scope, "status": s.status} for s in report.scopes],
    }


def render_json(diff: ReportDiff, old_file: str | None = None, new_file: str | None = None) -> str:
    data = {
        "schema": DIFF_SCHEMA,
        "old": _side(diff.old, old_file),
        "new": _side(diff.new, new_file),
        "summary": diff.counts(),
        "findings": {
            "new": [_finding_json(f) for f in diff.added],
            "resolved": [_finding_json(f) for f in diff.resolved],
            "unchanged": [_finding_json(f) for f in diff.unchanged],
            "suppressed": [_finding_json(f) for f in diff.suppressed],
            "unverified": [_finding_json(f) for f in diff.unverified],
        },
    }
    return json.dumps(data, indent=2) + "\n"


def render_table(diff: ReportDiff, width: int = 100) -> str:
    from rich.console import Console

    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, soft_wrap=False)
    print_table(diff, console)
    return buffer.getvalue()


def print_table(diff: ReportDiff, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    labels = [
        ("new", diff.added, "bold red"),
        ("resolved", diff.resolved, "green"),
        ("suppressed", diff.suppressed, "cyan"),
        ("unverified", diff.unverified, "yellow"),
        ("unchanged", diff.unchanged, "dim"),
    ]
    table = Table(title="Findings diff", title_justify="left", pad_edge=False)
    table.add_column("Change", no_wrap=True)
    table.add_column("Sev", no_wrap=True)
    table.add_column("Rule", overflow="fold", max_width=26)
    table.add_column("Identity", overflow="fold", ratio=1)
    table.add_column("Finding id", no_wrap=True)
    for label, bucket, style in labels:
        for f in bucket:
            who = f.identity.name + (f" ({f.credential.id})" if f.credential else "")
            table.add_row(Text(label, style=style), f.severity.value, f.rule_id, Text(who), f.id)
    if table.row_count:
        console.print(table)
    counts = diff.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    console.print(
        Text(f"{summary}  [{iso(diff.old.scan.as_of)} -> {iso(diff.new.scan.as_of)}]"),
    )
    if diff.unverified:
        console.print(
            Text(
                "unverified: their scope was not scanned successfully in the new report, so they are not "
                "counted as resolved",
                style="yellow",
            )
        )


def worst_new(diff: ReportDiff) -> Severity | None:
    return max((f.severity for f in diff.added), key=lambda s: s.rank, default=None)
