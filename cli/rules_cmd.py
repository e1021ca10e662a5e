"""``nhiwarden rules list`` and ``nhiwarden rules show ID``: the rule reference, from the rules themselves."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from nhiwarden.errors import UsageError
from rich.console import Console
from rich.table import Table

from .options import ConfigOpt

rules_app = typer.Typer(help="Describe the built-in and plugin rules.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


def _describe(rule_id: str, config_path: Any) -> dict[str, Any]:
    from nhiwarden.config import load_config
    from nhiwarden.rules import all_rules
    from nhiwarden.rules.controls import controls_for
    from nhiwarden.rules.engine import effective_params, enabled_rules

    config = load_config(config_path)
    rules = all_rules()
    rule = rules[rule_id]
    enabled = {r.id for r in enabled_rules(config)}
    override = config.rules.get(rule_id)
    return {
        "id": rule.id,
        "title": rule.title,
        "severity": (override.severity if override and override.severity else rule.severity).value,
        "enabled": rule.id in enabled,
        "providers": list(rule.providers) or ["all"],
        "params": effective_params(rule, config),
        "rationale": rule.rationale,
        "remediation": list(rule.remediation),
        "controls": {p: controls_for(rule.id, p) for p in ("aws", "gcp", "azure", "kubernetes", "vault")},
        "version": rule.version,
    }


@rules_app.command("list")
def list_rules(
    config: ConfigOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> int:
    """List every rule with its default severity, parameters and whether it is enabled."""
    from nhiwarden.rules import all_rules

    described = [_describe(rid, config) for rid in all_rules()]
    if format == "json":
        typer.echo(json.dumps(described, indent=2, default=str))
        return 0
    table = Table(title="Rules", title_justify="left", pad_edge=False)
    for col in ("Rule", "Severity", "On", "Parameters", "Title"):
        table.add_column(col, overflow="fold")
    for d in described:
        params = ", ".join(f"{k}={v}" for k, v in d["params"].items())
        table.add_row(d["id"], d["severity"], "yes" if d["enabled"] else "no", params or "-", d["title"])
    Console().print(table)
    return 0


@rules_app.command("show")
def show_rule(
    rule_id: Annotated[str, typer.Argument(help="Rule id, e.g. unused-credential.")],
    config: ConfigOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> int:
    """Show one rule: what fires it, why it matters, thresholds, controls and the fixing playbooks."""
    from nhiwarden.rules import all_rules

    if rule_id not in all_rules():
        raise UsageError(f"unknown rule {rule_id!r}; see 'nhiwarden rules list'")
    d = _describe(rule_id, config)
    if format == "json":
        typer.echo(json.dumps(d, indent=2, default=str))
        return 0
    console = Console()
    console.print(f"[bold]{d['id']}[/] — {d['title']}")
    console.print(f"severity: {d['severity']}   enabled: {'yes' if d['enabled'] else 'no'}   version: {d['version']}")
    console.print(f"applies to: {', '.join(d['providers'])}")
    console.print(f"\n{d['rationale']}\n")
    for k, v in d["params"].items():
        console.print(f"  {k} = {v}")
    console.print(f"remediation playbooks: {', '.join(d['remediation']) or '-'}")
    for provider, labels in d["controls"].items():
        if labels:
            console.print(f"controls ({provider}): {', '.join(labels)}", highlight=False)
    return 0
