"""What ``scan``, ``inventory`` and ``demo`` share: choose providers, run the scan, route output, exit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nhiwarden.config import Config, load_config
from nhiwarden.errors import UsageError
from nhiwarden.findings import Severity
from nhiwarden.providers import provider_names
from nhiwarden.report import Report
from nhiwarden.reports import EXTENSIONS, FORMATS, render
from nhiwarden.scanner import ScanRequest, ScopeEvent, run_scan
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .options import split_list

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SCOPE_FAILED = 0, 1, 2, 3


@dataclass
class ScanArgs:
    providers: list[str] | None
    config_path: Path | None
    as_of: datetime
    provider_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    concurrency: int | None = None
    shard: tuple[int, int] | None = None
    rate_limits: dict[str, float] = field(default_factory=dict)


def choose_providers(requested: list[str] | None, config: Config, settings: dict[str, Any]) -> list[str]:
    """Providers named on the command line, else those configured, else those given flags."""
    names = split_list(requested)
    if not names:
        names = list(config.providers) or list(settings)
    if not names:
        known = ", ".join(provider_names())
        raise UsageError(
            f"no provider selected: pass --provider (registered: {known}) or list providers in nhiwarden.yaml"
        )
    known_names = set(provider_names())
    unknown = [n for n in names if n not in known_names]
    if unknown:
        raise UsageError(f"unknown provider {unknown[0]!r} (registered: {', '.join(provider_names())})")
    return list(dict.fromkeys(names))


def execute(args: ScanArgs, *, show_progress: bool, config: Config | None = None) -> tuple[Report, Config]:
    config = config or load_config(args.config_path)
    if args.rate_limits:
        config = config.model_copy(update={"rate_limits": {**config.rate_limits, **args.rate_limits}})
    providers = choose_providers(args.providers, config, args.provider_settings)
    request = ScanRequest(
        providers=providers,
        as_of=args.as_of,
        config=config,
        settings=args.provider_settings,
        concurrency=args.concurrency,
        shard=args.shard,
    )
    with _progress(show_progress) as on_progress:
        request.on_progress = on_progress
        report = run_scan(request)
    return report, config


@contextmanager
def _progress(live: bool) -> Iterator[Any]:
    """On a terminal: a live per-scope display on stderr. Otherwise one line per finished scope on
    stderr (CI logs), never on stdout where a machine format may be streaming."""
    console = Console(stderr=True, soft_wrap=True)
    if not live:

        def line(event: ScopeEvent) -> None:
            r = event.result
            if r is None:
                return
            took = (r.finished_at - r.started_at).total_seconds() if r.finished_at and r.started_at else 0.0
            calls = sum(r.api_calls.values())
            note = f": {r.error}" if r.error else (f": missing {'; '.join(r.missing)}" if r.missing else "")
            manners = f", {r.throttled} retried" if r.throttled else ""
            if r.rate_limited_seconds >= 1:
                manners += f", {r.rate_limited_seconds:.0f}s under the rate cap"
            console.print(
                f"nhiwarden: {r.provider}:{r.scope} {r.status} ({r.identity_count} identities, "
                f"{calls} API calls{manners}, {took:.1f}s){note}",
                highlight=False,
                markup=False,
            )

        yield line
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[tuple[str, str], Any] = {}

    def on_progress(event: ScopeEvent) -> None:
        key = (event.provider, event.scope)
        label = f"{event.provider}:{event.scope}"
        if key not in tasks:
            tasks[key] = progress.add_task(label, total=1)
        if event.result is not None:
            progress.update(tasks[key], completed=1, description=f"{label} {event.result.status}")

    with progress:
        yield on_progress


def parse_formats(formats: list[str] | None) -> list[str]:
    names = split_list(formats) or ["table"]
    for name in names:
        if name not in FORMATS:
            raise UsageError(f"--format: unknown format {name!r} (choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(names))


def plan_outputs(formats: list[str], outputs: list[str] | None) -> dict[str, Path | None]:
    """Map each format to a file, or None for stdout."""
    targets: dict[str, Path | None] = dict.fromkeys(formats)
    plain: list[str] = []
    for raw in outputs or []:
        fmt, sep, path = raw.partition("=")
        if sep and fmt in FORMATS:
            if fmt not in targets:
                raise UsageError(f"--output {raw}: format {fmt!r} was not requested with --format")
            targets[fmt] = Path(path)
        else:
            plain.append(raw)
    if len(plain) > 1:
        raise UsageError("--output: give one path, a directory, or FORMAT=PATH for each format")
    if plain:
        target = Path(plain[0])
        rest = [f for f, p in targets.items() if p is None]
        if target.is_dir():
            for fmt in rest:
                targets[fmt] = target / f"report.{EXTENSIONS[fmt]}"
        elif len(rest) == 1:
            targets[rest[0]] = target
        elif len(rest) > 1:
            raise UsageError("--output: several formats need a directory or FORMAT=PATH for each")
    return targets


def emit(
    report: Report,
    formats: list[str],
    outputs: list[str] | None,
    console: Console,
    *,
    inventory: bool = False,
) -> None:
    """Write every requested format; the table goes to a terminal with colour."""
    from nhiwarden.reports import inventory as inventory_view
    from nhiwarden.reports import table

    def text(fmt: str) -> str:
        return inventory_view.render(report, fmt) if inventory else render(report, fmt)

    from nhiwarden.reports import json_report

    for fmt, path in plan_outputs(formats, outputs).items():
        streamed = fmt == "json" and not inventory
        if path is None:
            if fmt == "table":
                console.print(inventory_view.renderable(report) if inventory else table.renderable(report))
            elif streamed:
                json_report.write(report, sys.stdout)
            else:
                sys.stdout.write(text(fmt))
            sys.stdout.flush()
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if streamed:
                with path.open("w", encoding="utf-8") as fp:
                    json_report.write(report, fp)
            else:
                path.write_text(text(fmt), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {path}: cannot write: {exc.strerror}") from None
        Console(stderr=True).print(f"wrote {fmt} report to {path}", style="dim")


def parse_fail_on(value: str | None, config: Config) -> Severity | None:
    if value is None:
        return config.fail_on
    if value.lower() == "none":
        return None
    try:
        return Severity(value.lower())
    except ValueError:
        raise UsageError(f"--fail-on: {value!r} is not one of critical, high, medium, low, info, none") from None


def exit_code(report: Report, fail_on: Severity | None) -> int:
    """3 when a scope failed (the evidence is incomplete), else 1 for findings at/above fail_on, else 0."""
    if report.failed_scopes:
        return EXIT_SCOPE_FAILED
    if fail_on is not None and any(f.severity.at_least(fail_on) for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def wants_progress(formats: list[str], outputs: list[str] | None) -> bool:
    """A live display only on a terminal and never while a machine format streams to stdout
    (per-scope lines on stderr otherwise)."""
    if not sys.stderr.isatty():
        return False
    to_stdout = [f for f, p in plan_outputs(formats, outputs).items() if p is None]
    return all(f == "table" for f in to_stdout)
