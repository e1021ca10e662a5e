"""The terminal report: findings worst first, scope status, and a one-line summary.

Built from rich renderables so the console decides on colour and width; it stays readable at 80
columns by wrapping the message column rather than truncating identifiers.
"""

from __future__ import annotations

from io import StringIO

from nhiwarden.findings import Severity
from nhiwarden.report import Report
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
NOTE_LIMIT = 160
STATUS_STYLE = {"ok": "green", "partial": "yellow", "error": "bold red"}


def findings_table(report: Report) -> Table:
    table = Table(title="Findings", title_justify="left", expand=False, show_lines=False, pad_edge=False)
    table.add_column("Sev", no_wrap=True)
    table.add_column("Rule", overflow="fold", max_width=22)
    table.add_column("Identity", overflow="fold", max_width=30)
    table.add_column("Detail", overflow="fold", ratio=1)
    for f in report.findings:
        identity = Text(f.identity.name, style="bold")
        identity.append(f"\n{f.identity.provider}:{f.identity.scope}", style="dim")
        detail = Text(f.message)
        if f.credential is not None and f.credential.id not in f.message:
            detail.append(f"\n{f.credential.kind} {f.credential.id}", style="dim")
        table.add_row(Text(f.severity.value, style=SEVERITY_STYLE[f.severity]), f.rule_id, identity, detail)
    return table


def scopes_table(report: Report) -> Table:
    table = Table(title="Scopes", title_justify="left", pad_edge=False)
    table.add_column("Provider", no_wrap=True)
    table.add_column("Scope", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Ids", justify="right")
    table.add_column("Creds", justify="right")
    table.add_column("Note", overflow="fold", ratio=1)
    for s in report.scopes:
        note = s.error or "; ".join(s.missing)
        if len(note) > NOTE_LIMIT:
            note = note[: NOTE_LIMIT - 1] + "…"  # the JSON report keeps the full reason
        table.add_row(
            s.provider,
            s.name or s.scope,
            Text(s.status, style=STATUS_STYLE[s.status]),
            str(s.identity_count),
            str(s.credential_count),
            note,
        )
    return table


def summary_line(report: Report) -> Text:
    s = report.summary
    text = Text(f"{s.identities} identities, {s.credentials} credentials, {s.findings} findings")
    if s.by_severity:
        parts = [f"{n} {sev}" for sev, n in s.by_severity.items()]
        text.append(f" ({', '.join(parts)})")
    if s.suppressed:
        text.append(f", {s.suppressed} suppressed by exceptions")
    if s.throttled:
        text.append(f", {s.throttled} API requests retried after throttling or errors", style="yellow")
    expired = [e for e in report.exceptions if e.expired]
    if expired:
        text.append(f", {len(expired)} expired exception(s) no longer suppress", style="yellow")
    failed = report.failed_scopes
    if failed:
        text.append(f"; {len(failed)} scope(s) could not be scanned", style="bold red")
    text.append(f"  [as of {report.scan.as_of:%Y-%m-%d}]", style="dim")
    return text


def renderable(report: Report) -> RenderableType:
    parts: list[RenderableType] = []
    if report.findings:
        parts.append(findings_table(report))
    else:
        parts.append(Text("No findings.", style="green"))
    parts.append(scopes_table(report))
    parts.append(summary_line(report))
    return Group(*parts)


def render(report: Report, width: int = 100) -> str:
    """Plain text (no colour) for files and pipes."""
    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, soft_wrap=False)
    console.print(renderable(report))
    return buffer.getvalue()
