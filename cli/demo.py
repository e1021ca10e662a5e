"""``nhiwarden demo``: start the local stand-in clouds, seed them, scan them for real, stop them.

The scan goes over the network (loopback) through the real SDKs exactly as against a real estate;
only the endpoints differ. No cloud account is needed.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from nhiwarden.errors import UsageError
from rich.console import Console

from .options import AsOfOpt, FormatOpt, OutputOpt, ProviderOpt, parse_as_of, split_list, with_provider_flags
from .run import ScanArgs, emit, execute, exit_code, parse_fail_on, parse_formats, wants_progress


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@contextmanager
def _environment(overlay: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in overlay}
    os.environ.update(overlay)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@with_provider_flags
def demo(
    *,
    provider: ProviderOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="As for scan; the demo defaults to none (exit 0).")
    ] = "none",
    provider_settings: dict[str, dict[str, Any]],
) -> int:
    """Scan a seeded local estate (moto, OpenBao, fake Kubernetes/GCP/Azure servers): no cloud needed."""
    from nhiwarden.config import Config
    from nhiwarden.sandbox import DEMOS, DemoUnavailable

    err = Console(stderr=True, soft_wrap=True)
    formats = parse_formats(format)
    names = split_list(provider) or list(DEMOS)
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        raise UsageError(f"no demo estate for provider {unknown[0]!r} (available: {', '.join(DEMOS)})")
    with tempfile.TemporaryDirectory(prefix="nhiwarden-demo-") as tmp, ExitStack() as stack:
        estates = {}
        for name in names:
            module_name, _, func = DEMOS[name].partition(":")
            try:
                start = getattr(importlib.import_module(module_name), func)
            except (ImportError, AttributeError):
                err.print(f"[yellow]skipping {name}:[/] its demo estate is not available in this build")
                continue
            err.print(f"starting local {name} estate...", style="dim")
            try:
                estates[name] = stack.enter_context(start(Path(tmp) / name))
            except DemoUnavailable as exc:
                err.print(f"[yellow]skipping {name}:[/] {exc}")
        if not estates:
            raise UsageError("no demo estate could be started")
        env = {k: v for e in estates.values() for k, v in e.env.items()}
        stack.enter_context(_environment(env))
        settings = {n: {**e.settings, **provider_settings.get(n, {})} for n, e in estates.items()}
        args = ScanArgs(list(estates), None, parse_as_of(as_of), settings)
        # Loopback servers need no protection from the scanner: lift the production rate caps.
        config = Config(rate_limits=dict.fromkeys(estates, 1000.0))
        report, cfg = execute(args, show_progress=wants_progress(formats, output), config=config)
        emit(report, formats, output, Console())
        expected = {(n, scope) for n, e in estates.items() for scope in e.expected_errors}
        unexpected = [s for s in report.failed_scopes if (s.provider, s.scope) not in expected]
        if report.failed_scopes and not unexpected:
            err.print("(the failed scope(s) above are seeded to fail: that is how a denied scope is reported)")
            return exit_code(report.model_copy(update={"scopes": []}), parse_fail_on(fail_on, cfg))
        return exit_code(report, parse_fail_on(fail_on, cfg))
