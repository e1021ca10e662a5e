"""Command-line options shared by ``scan``, ``inventory``, ``doctor`` and ``demo``.

Provider flags are not written here: each provider's ``Settings`` fields become flags
(``--aws-accounts``, ``--kube-context`` ...), so a plugin gets its flags without touching the CLI.
``with_provider_flags`` adds them to a command's signature and hands the command one
``provider_settings`` mapping instead.
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from nhiwarden.errors import UsageError
from nhiwarden.providers import load_provider, provider_names

log = logging.getLogger("nhiwarden.cli")

F = TypeVar("F", bound=Callable[..., Any])

ProviderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider",
        "-p",
        help="Providers to scan (comma-separated or repeated): aws, gcp, azure, kubernetes, vault, or a plugin.",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: ./nhiwarden.yaml when present).", dir_okay=False),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Evaluate every age as of this date or time (ISO 8601, UTC). Default: now."),
]
FormatOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        "-f",
        help="Output format(s), repeatable or comma-separated: table, json, ... (default: table).",
    ),
]
OutputOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--output",
        "-o",
        help="Where to write: a file (one format), FORMAT=PATH per format, or an existing directory "
        "(one report.<ext> per format). Default: stdout.",
    ),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding is at or above this severity: critical, high, medium, low, info, or none. "
        "Default: high (or fail_on in the config).",
    ),
]
ShardOpt = Annotated[
    str | None,
    typer.Option("--shard", help="Scan only shard K of N (e.g. 2/8): scopes are partitioned deterministically."),
]
RateLimitOpt = Annotated[
    list[str] | None,
    typer.Option("--rate-limit", help="Requests per second per provider, e.g. aws=10 (repeatable)."),
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", min=1, max=64, help="Scopes scanned at once (default 32).")
]


def parse_as_of(value: str | None) -> datetime:
    """``--as-of``: a date (midnight UTC) or a datetime; naive values are UTC."""
    if value is None:
        return datetime.now(UTC)
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--as-of: {value!r} is not an ISO 8601 date (e.g. 2026-11-29)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    k, sep, n = value.partition("/")
    if sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
        return int(k), int(n)
    raise UsageError(f"--shard: {value!r} is not K/N with 1 <= K <= N (e.g. 1/4)")


def parse_rates(values: list[str] | None) -> dict[str, float]:
    rates: dict[str, float] = {}
    for raw in split_list(values):
        name, sep, rate = raw.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = 0.0
        if not sep or value <= 0:
            raise UsageError(f"--rate-limit: {raw!r} is not PROVIDER=REQUESTS_PER_SECOND (e.g. aws=10)")
        rates[name] = value
    return rates


def split_list(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated values as one list."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def _flag_for(provider: str, field: str, extra: Any) -> str | None:
    if isinstance(extra, dict) and "flag" in extra:
        flag = extra["flag"]
        return str(flag) if flag else None
    return f"--{provider}-{field.replace('_', '-')}"


def _cli_type(annotation: Any) -> tuple[Any, str]:
    """The Python type typer should parse, and how to post-process it (list / bool / scalar)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        return list[str] | None, "list"
    if annotation is bool:
        return bool | None, "bool"
    if annotation is int:
        return int | None, "scalar"
    return str | None, "scalar"


@functools.cache
def provider_flag_specs() -> list[tuple[str, str, str, inspect.Parameter]]:
    """(parameter name, provider, field, kind) -> inspect.Parameter for every provider setting with a flag."""
    specs = []
    for name in provider_names():
        try:
            cls = load_provider(name)
        except UsageError as exc:
            log.debug("provider flags unavailable: %s", exc)
            continue
        panel = f"{cls.title or name} options"
        for field, info in cls.Settings.model_fields.items():
            flag = _flag_for(name, field, info.json_schema_extra)
            if flag is None:
                continue
            py_type, kind = _cli_type(info.annotation)
            decls = [flag] if kind != "bool" else [f"{flag}/{flag.replace('--', '--no-', 1)}"]
            option = typer.Option(*decls, help=info.description or "", rich_help_panel=panel, show_default=False)
            pname = f"{name}__{field}".replace("-", "_")
            param = inspect.Parameter(
                pname, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[py_type, option]
            )
            specs.append((pname, name, kind, param))
    return specs


def with_provider_flags(fn: F) -> F:
    """Add every provider's flags to ``fn`` and pass them as ``provider_settings={provider: {field: value}}``."""
    sig = inspect.signature(fn, eval_str=True)
    specs = provider_flag_specs()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings: dict[str, dict[str, Any]] = {}
        for pname, provider, kind, _param in specs:
            value = kwargs.pop(pname, None)
            if value is None or value == []:
                continue
            field = pname.split("__", 1)[1]
            settings.setdefault(provider, {})[field] = split_list(value) if kind == "list" else value
        return fn(*args, provider_settings=settings, **kwargs)

    params = [p for p in sig.parameters.values() if p.name != "provider_settings"]
    params += [spec[3] for spec in specs]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    del wrapper.__wrapped__  # typer must see the new signature, not the original's
    return typing.cast(F, wrapper)
