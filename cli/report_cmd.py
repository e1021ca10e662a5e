"""``nhiwarden report SCAN.json``: re-render a saved JSON report in other formats, without scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .options import FormatOpt, OutputOpt
from .run import emit, parse_formats


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    scan_json: Annotated[Path, typer.Argument(help="A JSON report written by 'nhiwarden scan --format json'.")],
    format: FormatOpt = None,
    output: OutputOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Limit the findings to those new since this earlier report.", dir_okay=False),
    ] = None,
) -> int:
    """Render a saved scan report in other formats."""
    from nhiwarden.reports.json_report import load

    saved = load(scan_json)
    if baseline is not None:
        from nhiwarden.reports.baseline import apply_baseline

        saved = apply_baseline(saved, load(baseline), file=str(baseline))
    emit(saved, parse_formats(format), output, Console())
    return 0
