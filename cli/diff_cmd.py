"""``nhiwarden diff OLD.json NEW.json``: new, resolved and unchanged findings between two saved reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from nhiwarden.errors import UsageError
from rich.console import Console


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


def diff(
    old: Annotated[Path, typer.Argument(help="The earlier JSON report (the baseline).", metavar="OLD.json")],
    new: Annotated[Path, typer.Argument(help="The later JSON report.", metavar="NEW.json")],
    format: Annotated[str, typer.Option("--format", "-f", help="table (terminal) or json (pipelines).")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a NEW finding is at or above this severity (critical, high, medium, low, info).",
        ),
    ] = None,
) -> int:
    """Compare two saved reports by finding id. Exit 0, or 1 with --fail-on and a new finding at/above it."""
    from nhiwarden.findings import Severity
    from nhiwarden.reports.diff import compare, print_table, render_json, render_table
    from nhiwarden.reports.json_report import load

    if format not in ("table", "json"):
        raise UsageError(f"--format: {format!r} is not one of table, json")
    threshold = None
    if fail_on is not None:
        try:
            threshold = Severity(fail_on.lower())
        except ValueError:
            raise UsageError(f"--fail-on: {fail_on!r} is not one of critical, high, medium, low, info") from None
    result = compare(load(old), load(new))
    if format == "json":
        text = render_json(result, str(old), str(new))
    elif output is None:
        print_table(result, Console())
        text = ""
    else:
        text = render_table(result)
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {output}: cannot write: {exc.strerror}") from None
    elif text:
        sys.stdout.write(text)
        sys.stdout.flush()
    if threshold is not None and any(f.severity.at_least(threshold) for f in result.added):
        return 1
    return 0
