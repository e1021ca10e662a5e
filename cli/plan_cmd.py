"""``nhiwarden plan`` and ``nhiwarden apply``: the only commands that lead to a change.

``plan`` reads a saved JSON report and live state (read-only) and writes a plan file plus a readable
table; ``apply`` executes a plan file with a journal. Exit codes: 0 done (or nothing due), 1 a step
failed and its group was rolled back, 2 refused before any change (usage, expired plan, another apply
running, stage not due), 3 live state no longer matches the plan (nothing changed).
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from nhiwarden.errors import UsageError
from nhiwarden.redact import redact
from rich.console import Console

_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, flag: str) -> timedelta:
    m = _DURATION.match(value.strip())
    if not m:
        raise UsageError(f"{flag} {value!r}: expected a duration such as 30m, 24h or 2d")
    return timedelta(seconds=float(m.group("n")) * _UNITS[m.group("unit")])


def plan_command(
    playbook: Annotated[str, typer.Argument(help="rotate | offboard | migrate")],
    report: Annotated[Path, typer.Option("--report", "-r", help="Saved JSON report (nhiwarden scan -f json).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the plan (JSON).")] = Path(
        "nhiwarden-plan.json"
    ),
    finding: Annotated[list[str] | None, typer.Option("--finding", help="Finding id to act on (repeatable).")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Act on every finding of this rule.")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="With --rule: only these scopes/providers.")
    ] = None,
    deliver: Annotated[
        str | None,
        typer.Option(
            "--deliver",
            help="Where the new secret goes: vault-kv:<mount>/<path>, k8s-secret:<ns>/<name> or "
            "aws-secretsmanager:<name> (default: the known location of the old secret).",
        ),
    ] = None,
    max_changes: Annotated[int, typer.Option("--max-changes", help="Refuse plans that change more.")] = 5,
    grace_days: Annotated[
        int, typer.Option("--grace-days", help="Never touch credentials younger than this many days.")
    ] = 7,
    valid_for: Annotated[str, typer.Option("--valid-for", help="How long the plan may be applied.")] = "24h",
    delete_after_days: Annotated[
        int, typer.Option("--delete-after-days", help="Days between deactivate/disable and delete.")
    ] = 7,
    notice_days: Annotated[int, typer.Option("--notice-days", help="Days between notify and disable.")] = 7,
    notify_webhook: Annotated[
        str | None,
        typer.Option("--notify-webhook", help="Webhook for the notify stage: a URL, or env:VAR to read it at apply."),
    ] = None,
    notify_format: Annotated[str, typer.Option("--notify-format", help="json | slack")] = "json",
    aws_endpoint_url: Annotated[str | None, typer.Option("--aws-endpoint-url", help="AWS endpoint override.")] = None,
    aws_region: Annotated[str | None, typer.Option("--aws-region", help="AWS region.")] = None,
    aws_profile: Annotated[str | None, typer.Option("--aws-profile", help="AWS profile.")] = None,
    vault_addr: Annotated[str | None, typer.Option("--vault-addr", help="Vault/OpenBao address.")] = None,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Kubeconfig file.")] = None,
    kube_context: Annotated[
        str | None, typer.Option("--kube-context", help="Kubeconfig context (default: the finding's).")
    ] = None,
    token_ttl: Annotated[
        str, typer.Option("--token-ttl", help="Lifetime of a new Kubernetes TokenRequest token.")
    ] = "720h",  # noqa: S107 - a duration, not a password
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="migrate: the keyless target: aws-role | aws-roles-anywhere | vault-approle | vault-jwt | "
            "vault-dynamic-secrets | azure-federated-credential | azure-mi:[[sub/]rg/]<identity> | gcp-wif | "
            "k8s-projected-token.",
        ),
    ] = None,
    consumer: Annotated[
        str | None, typer.Option("--consumer", help="migrate: who uses the credential (e.g. github:org/repo@main).")
    ] = None,
    role_name: Annotated[str | None, typer.Option("--role-name", help="migrate: name of the role to create.")] = None,
    verify_days: Annotated[
        int, typer.Option("--verify-days", help="migrate: days to watch the consumer before deactivating.")
    ] = 7,
    ca_cert: Annotated[
        Path | None,
        typer.Option("--ca-cert", help="migrate aws-roles-anywhere: the CA certificate (PEM) of the consumer."),
    ] = None,
    engine_config: Annotated[
        str | None,
        typer.Option(
            "--engine-config",
            help="migrate vault-dynamic-secrets: engine settings as a JSON object (no secrets: those come from "
            "the environment at apply time).",
        ),
    ] = None,
    engine_mount: Annotated[
        str | None, typer.Option("--engine-mount", help="migrate vault-dynamic-secrets: mount path of the engine.")
    ] = None,
    lease_ttl: Annotated[str, typer.Option("--lease-ttl", help="migrate vault-dynamic-secrets: lease TTL.")] = "1h",
    lease_max_ttl: Annotated[
        str, typer.Option("--lease-max-ttl", help="migrate vault-dynamic-secrets: maximum lease TTL.")
    ] = "4h",
    session_duration: Annotated[
        int, typer.Option("--session-duration", help="migrate aws-roles-anywhere: session seconds.")
    ] = 3600,
) -> None:
    """Plan a remediation from a saved report: every step, its API call, preconditions and rollback."""
    from nhiwarden.playbooks import PlanRequest, connections, make_plan
    from nhiwarden.playbooks.render import renderable
    from nhiwarden.reports.json_report import load

    if notify_format not in ("json", "slack"):
        raise UsageError("--notify-format: choose json or slack")
    saved = load(report)
    env = dict(os.environ)
    kwargs: dict[str, Any] = dict(
        playbook=playbook,
        report=saved,
        report_path=str(report),
        finding_ids=list(finding or []),
        rules=list(rule or []),
        scopes=[s for item in scope or [] for s in item.split(",") if s],
        deliver=deliver,
        max_changes=max_changes,
        grace_days=grace_days,
        valid_for=parse_duration(valid_for, "--valid-for"),
        token_ttl=parse_duration(token_ttl, "--token-ttl"),
        delete_after_days=delete_after_days,
        notice_days=notice_days,
        notify_webhook=notify_webhook,
        notify_format=notify_format,
        connections=connections(
            saved,
            env,
            {
                "aws": {"endpoint_url": aws_endpoint_url, "region": aws_region, "profile": aws_profile},
                "vault": {"addr": vault_addr},
                "kubernetes": {"kubeconfig": kubeconfig, "context": kube_context},
            },
        ),
        env=env,
    )
    if playbook == "migrate":
        try:
            from nhiwarden.playbooks import migrate
        except ModuleNotFoundError as exc:
            if exc.name != "nhiwarden.playbooks.migrate":
                raise
            raise UsageError("the migrate playbook is not available in this build") from None
        plan = migrate.make_migrate_plan(
            migrate.MigrateRequest(
                **kwargs,
                to=to,
                consumer=consumer,
                role_name=role_name,
                verify_days=verify_days,
                ca_cert_path=str(ca_cert) if ca_cert else None,
                engine_config=_json_object(engine_config, "--engine-config"),
                engine_mount=engine_mount,
                lease_ttl=lease_ttl,
                lease_max_ttl=lease_max_ttl,
                session_duration=session_duration,
            )
        )
    else:
        plan = make_plan(PlanRequest(**kwargs))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(plan.to_json(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write: {exc.strerror}") from None
    console = Console()
    console.print(renderable(plan))
    if playbook == "migrate":
        from nhiwarden.playbooks import migrate as migrate_playbook

        for out in migrate_playbook.consumer_outputs(plan):
            if out.get("role_arn"):
                console.print(f"role: {out['role_arn']}", highlight=False)
            if out.get("snippet"):
                console.print(f"consumer configuration ({out.get('format') or 'snippet'}):", style="bold")
                print(out["snippet"], end="" if str(out["snippet"]).endswith("\n") else "\n")
    Console(stderr=True).print(f"wrote plan to {output}; apply it with `nhiwarden apply {output}`", style="dim")


def _json_object(text: str | None, flag: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: must be a JSON object")
    return value


def apply_command(
    plan_file: Annotated[Path, typer.Argument(help="A plan written by `nhiwarden plan`.")],
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Run up to this stage; delete and disable run only when named."),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option("--journal", help="Journal file (default: <plan>.journal.jsonl).")
    ] = None,
    rollback: Annotated[
        Path | None, typer.Option("--rollback", help="Undo the completed steps recorded in this journal.")
    ] = None,
) -> None:
    """Apply a plan: re-check live state, then run its steps with a journal; resumable and reversible."""
    from nhiwarden.playbooks import Engine, default_journal, load_plan

    plan = load_plan(plan_file)
    err = Console(stderr=True)
    path = rollback or journal or default_journal(plan_file)
    engine = Engine(plan, path, plan_path=plan_file, on_event=lambda msg: err.print(redact(msg), highlight=False))
    result = engine.rollback() if rollback is not None else engine.apply(stage)
    if result.recovered:
        err.print(f"recovered: {', '.join(result.recovered)}", highlight=False)
    if result.ran:
        err.print(f"applied: {', '.join(result.ran)} (journal {path})", highlight=False)
    elif rollback is None:
        err.print("nothing to run now", highlight=False)
    if result.message:
        err.print(result.message, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("apply")(apply_command)
