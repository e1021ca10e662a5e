"""``nhiwarden doctor``: check credentials and every permission the scan needs, per provider and scope."""

from __future__ import annotations

from typing import Any

import typer
from nhiwarden.redact import redact
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .options import ConfigOpt, ProviderOpt, with_provider_flags
from .run import EXIT_OK, EXIT_SCOPE_FAILED, choose_providers


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


@with_provider_flags
def doctor(
    *,
    provider: ProviderOpt = None,
    config: ConfigOpt = None,
    provider_settings: dict[str, dict[str, Any]],
) -> int:
    """Check that each provider can authenticate and holds each permission the scan needs (read-only).
    Exit 0 when everything is in place, 3 when something is missing."""
    from datetime import UTC, datetime

    from nhiwarden.config import load_config
    from nhiwarden.providers import load_provider

    cfg = load_config(config)
    names = choose_providers(provider, cfg, provider_settings)
    table = Table(title="Doctor", title_justify="left", pad_edge=False)
    for col in ("Provider", "Scope", "Check", "OK", "Detail"):
        table.add_column(col, overflow="fold")
    failed = False
    for name in names:
        cls = load_provider(name)
        raw = {**cfg.providers.get(name, {}), **provider_settings.get(name, {})}
        cls.parse_settings(raw, source=cfg.source)
        instance = cls(raw, as_of=datetime.now(UTC))
        try:
            scopes = instance.scopes()
        except Exception as exc:
            failed = True
            table.add_row(name, "*", "list scopes", Text("no", style="red"), redact(exc))
            continue
        for scope in scopes:
            try:
                checks = instance.doctor(scope)
            except Exception as exc:
                failed = True
                table.add_row(name, scope.id, "doctor", Text("no", style="red"), redact(exc))
                continue
            for check in checks:
                failed |= not check.ok
                ok = Text("yes", style="green") if check.ok else Text("no", style="red")
                table.add_row(name, check.scope, check.check, ok, redact(check.detail))
        instance.close()
    Console().print(table)
    return EXIT_SCOPE_FAILED if failed else EXIT_OK
