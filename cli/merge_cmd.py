"""``nhiwarden merge``: one report from the JSON reports of a sharded scan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .options import FormatOpt, OutputOpt
from .run import emit, parse_formats


def register(app: typer.Typer) -> None:
    app.command("merge")(merge)


def merge(
    reports: Annotated[list[Path], typer.Argument(help="JSON reports of the shards (scan --shard K/N).")],
    format: FormatOpt = None,
    output: OutputOpt = None,
) -> int:
    """Merge shard reports into the report an unsharded scan would have produced."""
    from nhiwarden.merge import merge_reports
    from nhiwarden.reports.json_report import load

    merged = merge_reports([load(p) for p in reports])
    emit(merged, parse_formats(format or ["json"]), output, Console())
    return 0
