"""Markdown summary for ``$GITHUB_STEP_SUMMARY`` and merge-request comments.

Short on top (verdict, counts by severity, failed scopes), the worst findings in a table, then the
exceptions register and the audit evidence folded in ``<details>``. Every value from a scanned
system is escaped for both Markdown and HTML (GitHub renders inline HTML; identity names are
attacker-controlled) and flattened to one line so it cannot break the table. The finding table is
capped so the summary stays far below GitHub's 1 MiB step-summary limit; the JSON report has all.
"""

from __future__ import annotations

import json
import re

from nhiwarden.findings import Finding
from nhiwarden.report import Report
from nhiwarden.reports import audit, compliance
from nhiwarden.reports.baseline import unchanged_findings

MAX_ROWS = 100
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
ICON = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "🟦", "info": "⬜"}
STATUS_ICON = {"ok": "✅", "partial": "⚠️", "error": "❌"}


def esc(value: object, limit: int = 300) -> str:
    """One line, HTML-escaped, Markdown punctuation backslash-escaped: renders as literal text."""
    text = audit.one_line(str(value), limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(value: object, limit: int = 120) -> str:
    """An identifier in a code span; backticks inside become a safe lookalike, pipes are escaped."""
    text = audit.one_line(str(value), limit).replace("`", "\u02cb").replace("|", "\\|")
    return f"`{text}`" if text else ""


def _finding_row(f: Finding) -> str:
    cred = f" {code(f.credential.kind + ' ' + f.credential.id)}" if f.credential else ""
    return (
        f"| {ICON.get(f.severity.value, '')} {f.severity.value} | {code(f.rule_id)} | {esc(f.identity.name, 80)}<br>"
        f"{code(f.identity.provider + ':' + f.identity.scope)}{cred} | {esc(f.message, 240)} | {code(f.id)} |"
    )


def render(report: Report) -> str:
    s = report.summary
    lines: list[str] = ["## nhiwarden: non-human identity scan", ""]
    failed = report.failed_scopes
    verdict = (
        "❌ some scopes could not be scanned" if failed else ("⚠️ findings" if report.findings else "✅ no findings")
    )
    lines.append(
        f"**{verdict}** — {s.identities} identities and {s.credentials} credentials examined in "
        f"{len(report.scopes)} scope(s), as of {report.scan.as_of:%Y-%m-%d}."
    )
    lines.append("")
    if report.baseline is not None:
        b = report.baseline
        lines.append(
            f"Compared with baseline {code(b.file)}: **{b.new} new**, {b.unchanged} unchanged, {b.resolved} resolved. "
            "Only new findings count for the exit code."
        )
        lines.append("")
    lines += ["| Severity | Findings |", "|---|---:|"]
    for sev in audit.SEVERITY_ORDER:
        lines.append(f"| {ICON[sev.value]} {sev.value} | {s.by_severity.get(sev.value, 0)} |")
    lines.append(f"| accepted by exception | {s.suppressed} |")
    if report.baseline is not None:
        lines.append(f"| unchanged since baseline | {len(unchanged_findings(report))} |")
    lines.append("")

    expired = [e for e in report.exceptions if e.expired]
    if failed or expired:
        lines.append("> [!WARNING]")
        for scope in failed:
            lines.append(
                f"> Scope {code(scope.provider + ':' + scope.scope)} could not be scanned: {esc(scope.error or '')}"
            )
        for e in expired:
            lines.append(
                f"> Exception owned by {esc(e.owner)} expired on {e.expires.isoformat()}; it no longer suppresses."
            )
        lines.append("")

    if report.findings:
        title = "New findings" if report.baseline is not None else "Findings"
        lines += [f"### {title}", "", "| Severity | Rule | Identity | Detail | Finding id |", "|---|---|---|---|---|"]
        ordered = audit.sort_findings(report.findings)
        lines += [_finding_row(f) for f in ordered[:MAX_ROWS]]
        if len(ordered) > MAX_ROWS:
            lines.append(f"\n_{len(ordered) - MAX_ROWS} more in the full report (JSON/HTML)._")
        lines.append("")

    lines += [
        "### Scopes",
        "",
        "| Provider | Scope | Status | Identities | Credentials | Note |",
        "|---|---|---|---:|---:|---|",
    ]
    for scope in report.scopes:
        notes = [scope.error or ""] + list(scope.missing) + [f"skipped: {x}" for x in scope.skipped]
        note = esc("; ".join(n for n in notes if n), 300)
        lines.append(
            f"| {esc(scope.provider)} | {code(scope.name or scope.scope)} | "
            f"{STATUS_ICON.get(scope.status, '')} {scope.status} | "
            f"{scope.identity_count} | {scope.credential_count} | {note} |"
        )
    lines.append("")

    if report.exceptions:
        lines += [
            "### Exceptions",
            "",
            "| Match | Owner | Approver | Reason | Expires | Status | Matched |",
            "|---|---|---|---|---|---|---:|",
        ]
        for e in report.exceptions:
            match = ", ".join(f"{k}={v}" for k, v in sorted(e.match.items()))
            status = "❌ expired" if e.expired else "in force"
            lines.append(
                f"| {code(match)} | {esc(e.owner)} | {esc(e.approver or '-')} | {esc(e.reason)} | "
                f"{e.expires.isoformat()} | {status} | {e.matched} |"
            )
        lines.append("")

    views = compliance.evaluate(report)
    if views:
        lines += [
            "### Compliance",
            "",
            "| Framework | Version | Pass | Fail | Not evaluated | Failing controls |",
            "|---|---|---:|---:|---:|---|",
        ]
        for view in views:
            counts = view.counts()
            failing = ", ".join(code(c.control, 40) for c in view.controls if c.status == "fail")
            lines.append(
                f"| {esc(view.name)} | {esc(view.version)} | {counts['pass']} | {counts['fail']} | "
                f"{counts['not-evaluated']} | {failing or '-'} |"
            )
        lines += ["", "_Suggested crosswalk, not an official mapping; the HTML report lists every control._", ""]

    facts = audit.facts(report)
    lines += [
        "<details><summary>Audit evidence</summary>",
        "",
        f"- Tool: nhiwarden {esc(report.tool.version)}; rule pack {esc(report.tool.rule_pack.get('version', '-'))} "
        f"(sha256 {code(report.tool.rule_pack.get('sha256', '-')[:16])}); report schema {report.schema_version}",
        f"- Scan {code(report.scan.id)}: started {report.scan.started_at.isoformat()}, "
        f"finished {report.scan.finished_at.isoformat()}, as of {report.scan.as_of.isoformat()}",
        f"- Thresholds: {code(json.dumps(audit.thresholds(report), sort_keys=True), 300)}",
        f"- Population: {code(json.dumps(facts['population']['by_provider'], sort_keys=True), 400)}",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)
