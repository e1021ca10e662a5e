"""The inventory view: every identity and credential found, without verdicts."""

from __future__ import annotations

from io import StringIO

from nhiwarden.report import Report
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .table import scopes_table


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d}" if value is not None else "-"


def identities_table(report: Report) -> Table:
    table = Table(title="Identities", title_justify="left", pad_edge=False)
    table.add_column("Identity", overflow="fold", max_width=34)
    table.add_column("Kind", overflow="fold")
    table.add_column("Priv", no_wrap=True)
    table.add_column("Last used", no_wrap=True)
    table.add_column("Credentials", overflow="fold", ratio=1)
    for i in sorted(report.identities, key=lambda x: (x.provider, x.scope, x.kind, x.name)):
        name = Text(i.name, style="bold" if i.enabled else "dim")
        name.append(f"\n{i.provider}:{i.scope}", style="dim")
        last = _when(i.last_used_at) if i.usage_known else "unknown"
        creds = "\n".join(
            f"{c.kind} {c.id}{'' if c.enabled else ' (disabled)'} used "
            f"{_when(c.last_used_at) if c.usage_known else '?'}"
            for c in i.credentials
        )
        table.add_row(name, i.kind, i.privilege.value if i.privilege else "-", last, creds or "-")
    return table


def renderable(report: Report) -> RenderableType:
    s = report.summary
    return Group(
        identities_table(report),
        scopes_table(report),
        Text(f"{s.identities} identities, {s.credentials} credentials"),
    )


def render(report: Report, fmt: str = "table", width: int = 100) -> str:
    if fmt == "json":
        return (
            report.model_dump_json(indent=2, include={"schema_version", "tool", "scan", "scopes", "identities"}) + "\n"
        )
    buffer = StringIO()
    Console(file=buffer, width=width, color_system=None).print(renderable(report))
    return buffer.getvalue()
