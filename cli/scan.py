"""``nhiwarden scan`` and ``nhiwarden inventory``: read-only discovery and judgement."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from nhiwarden.errors import UsageError
from rich.console import Console

from .options import (
    AsOfOpt,
    ConcurrencyOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    OutputOpt,
    ProviderOpt,
    RateLimitOpt,
    ShardOpt,
    parse_as_of,
    parse_rates,
    parse_shard,
    with_provider_flags,
)
from .run import ScanArgs, emit, execute, exit_code, parse_fail_on, parse_formats, wants_progress


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("inventory")(inventory)


@with_provider_flags
def scan(
    *,
    provider: ProviderOpt = None,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    concurrency: ConcurrencyOpt = None,
    shard: ShardOpt = None,
    rate_limit: RateLimitOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A previous JSON report: only findings new since it count for the exit code and CI outputs.",
            dir_okay=False,
        ),
    ] = None,
    fail_on_expired_exceptions: Annotated[
        bool,
        typer.Option("--fail-on-expired-exceptions", help="Exit 1 when an exception in the config has expired."),
    ] = False,
    provider_settings: dict[str, dict[str, Any]],
) -> int:
    """Scan providers (read-only) and report findings. Exit 0 clean, 1 findings at/above --fail-on,
    2 usage or config error, 3 a scope could not be scanned."""
    formats = parse_formats(format)
    args = ScanArgs(
        provider,
        config,
        parse_as_of(as_of),
        provider_settings,
        concurrency,
        shard=parse_shard(shard),
        rate_limits=parse_rates(rate_limit),
    )
    report, cfg = execute(args, show_progress=wants_progress(formats, output))
    threshold = parse_fail_on(fail_on, cfg)
    if baseline is not None:
        from nhiwarden.reports.baseline import apply_baseline
        from nhiwarden.reports.json_report import load

        report = apply_baseline(report, load(baseline), file=str(baseline))
    emit(report, formats, output, Console())
    code = exit_code(report, threshold)
    if code == 0 and fail_on_expired_exceptions and any(e.expired for e in report.exceptions):
        code = 1
    return code


@with_provider_flags
def inventory(
    *,
    provider: ProviderOpt = None,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    concurrency: ConcurrencyOpt = None,
    provider_settings: dict[str, dict[str, Any]],
) -> int:
    """List every identity and credential found (read-only), without judging them."""
    formats = parse_formats(format)
    if set(formats) - {"table", "json"}:
        raise UsageError("inventory --format: choose table and/or json")
    args = ScanArgs(provider, config, parse_as_of(as_of), provider_settings, concurrency)
    report, _cfg = execute(args, show_progress=wants_progress(formats, output))
    emit(report, formats, output, Console(), inventory=True)
    return 3 if report.failed_scopes else 0
