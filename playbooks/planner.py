"""Turn findings from a saved JSON report into a plan, after reading (never changing) live state.

Owns the choice of findings (by finding id, or by rule and scope), the safety limits (a credential
inside the grace period is left out, more targets than ``max_changes`` refuses the whole plan), and the
dispatch to the per-platform step builders. A target is named only by the credential or identity id
in the finding: never re-matched by timestamp or name pattern. Must never mutate anything.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nhiwarden.findings import Finding
from nhiwarden.model import Identity
from nhiwarden.redact import redact
from nhiwarden.report import Report

from .actions import Context, StepError
from .engine import mismatches
from .model import Check, Plan, PlanError, Step, Target, state_hash

PLAYBOOKS = {
    "rotate": "create a new credential, deliver it, verify it, deactivate the old one; delete it later",
    "offboard": "notify the owner, then disable the identity reversibly; delete its credentials later",
}
ALIASES = {"disable": "offboard", "rotate-credential": "rotate"}


class Skip(Exception):
    """This finding cannot be planned safely; the reason goes in the plan's ``skipped`` list."""


@dataclass
class PlanRequest:
    playbook: str
    report: Report
    report_path: str = ""
    finding_ids: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    deliver: str | None = None
    max_changes: int = 5
    grace_days: int = 7
    valid_for: timedelta = timedelta(hours=24)
    delete_after_days: int = 7
    notice_days: int = 7
    token_ttl: timedelta = timedelta(days=30)
    notify_webhook: str | None = None
    notify_format: str = "json"
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: datetime | None = None
    env: dict[str, str] | None = None


@dataclass
class Built:
    target: Target
    checks: list[Check]
    steps: list[Step]


Builder = Callable[["PlanRequest", Context, str, Finding, Identity | None], Built]


def select(req: PlanRequest) -> list[Finding]:
    if not req.finding_ids and not req.rules:
        raise PlanError("name the findings to act on: --finding ID or --rule RULE")
    by_id = {f.id: f for f in req.report.findings}
    chosen: list[Finding] = []
    for fid in req.finding_ids:
        if fid not in by_id:
            raise PlanError(f"--finding {fid}: not in the report {req.report_path or ''}".rstrip())
        chosen.append(by_id[fid])
    for rule in req.rules:
        for f in req.report.findings:
            if f.rule_id != rule:
                continue
            if req.scopes and f.identity.scope not in req.scopes and f.identity.provider not in req.scopes:
                continue
            chosen.append(f)
    unique = list({f.id: f for f in chosen}.values())
    if not unique:
        raise PlanError("no finding in the report matches --rule/--scope")
    return unique


def _identity(report: Report, uid: str) -> Identity | None:
    for identity in report.identities:
        if identity.uid == uid:
            return identity
    return None


def make_plan(req: PlanRequest) -> Plan:
    playbook = ALIASES.get(req.playbook, req.playbook)
    if playbook not in PLAYBOOKS:
        raise PlanError(f"unknown playbook {req.playbook!r} (choose from {', '.join(PLAYBOOKS)})")
    if req.max_changes < 1:
        raise PlanError("--max-changes must be at least 1")
    findings = select(req)
    now = req.now or datetime.now(UTC)
    plan = Plan(
        id="plan-" + uuid.uuid4().hex[:16],
        playbook=playbook,
        created_at=now,
        valid_until=now + req.valid_for,
        created_by=_who(),
        report={"file": req.report_path, "scan_id": req.report.scan.id, "as_of": req.report.scan.as_of.isoformat()},
        targets=[],
        max_changes=req.max_changes,
        grace_days=req.grace_days,
        connections=req.connections,
        preconditions=[],
        state_hash="",
        steps=[],
    )
    ctx = Context(plan=plan, now=now)
    if req.env is not None:
        ctx.env = dict(req.env)
    built: list[Built] = []
    seen: set[str] = set()
    for finding in findings:
        key = finding.credential.uid if finding.credential and playbook == "rotate" else finding.identity.uid
        if key in seen:
            continue
        seen.add(key)
        tag = f"t{len(built) + 1}"
        try:
            builder = _builder(playbook, finding)
            built.append(builder(req, ctx, tag, finding, _identity(req.report, finding.identity.uid)))
        except (Skip, StepError) as exc:
            plan.skipped.append(f"{finding.id} ({finding.identity.uid}): {redact(exc)}")
    if len(built) > req.max_changes:
        raise PlanError(
            f"the plan would change {len(built)} credentials or identities, more than --max-changes "
            f"{req.max_changes}: narrow it with --finding/--scope or raise --max-changes"
        )
    if not built:
        raise PlanError("nothing can be planned safely: " + "; ".join(plan.skipped))
    plan.targets = [b.target for b in built]
    plan.preconditions = [c for b in built for c in b.checks]
    rotate = [s for b in built for s in b.steps if not s.manual]
    later = [s for b in built for s in b.steps if s.manual]
    plan.steps = rotate + later
    problems, seen_state = mismatches(ctx, plan.preconditions)
    if problems:  # the state moved while planning
        raise PlanError("live state changed while planning: " + "; ".join(problems))
    plan.state_hash = state_hash(seen_state)
    return plan


def connections(
    report: Report, env: dict[str, str], overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Non-secret endpoints for apply: the scan's provider settings, then the environment, then flags."""
    settings = (report.scan.parameters or {}).get("provider_settings") or {}
    aws = dict(settings.get("aws") or {})
    vault = dict(settings.get("vault") or {})
    out: dict[str, dict[str, Any]] = {
        "aws": {
            "endpoint_url": env.get("AWS_ENDPOINT_URL_IAM") or env.get("AWS_ENDPOINT_URL") or aws.get("endpoint_url"),
            "region": aws.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            "profile": env.get("AWS_PROFILE") or aws.get("profile"),
        },
        "gcp": {
            "credentials": (settings.get("gcp") or {}).get("credentials"),
            "iam_grpc_endpoint": (settings.get("gcp") or {}).get("iam_grpc_endpoint"),
            "rest_endpoint": (settings.get("gcp") or {}).get("rest_endpoint"),
        },
        "azure": {
            k: (settings.get("azure") or {}).get(k)
            for k in ("tenant", "credential", "client_id", "authority_host", "graph_endpoint", "ca_bundle")
        },
        "kubernetes": {
            "kubeconfig": env.get("KUBECONFIG") or (settings.get("kubernetes") or {}).get("kubeconfig"),
        },
        "vault": {
            "addr": env.get("VAULT_ADDR") or env.get("BAO_ADDR") or vault.get("addr") or vault.get("address"),
            "namespace": env.get("VAULT_NAMESPACE") or env.get("BAO_NAMESPACE") or vault.get("namespace"),
        },
    }
    for name, values in (overrides or {}).items():
        out.setdefault(name, {}).update({k: v for k, v in values.items() if v is not None})
    return {name: {k: v for k, v in values.items() if v is not None} for name, values in out.items()}


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _builder(playbook: str, finding: Finding) -> Builder:
    if playbook == "rotate":
        if finding.credential is None:
            raise Skip("the finding names no credential to rotate")
        kind = finding.credential.kind
        if kind == "aws-access-key":
            from .builders import aws

            return aws.rotate
        if kind == "vault-token":
            from .builders import vault

            return vault.rotate_token
        if kind == "vault-secret-id":
            from .builders import vault

            return vault.rotate
        if kind == "azure-client-secret":
            from .builders import azure

            return azure.rotate
        if kind == "gcp-sa-key":
            from .builders import gcp

            return gcp.rotate
        if kind == "k8s-legacy-token":
            from .builders import kubernetes

            return kubernetes.rotate
        raise Skip(f"rotation of {kind} credentials is not implemented yet")
    kind = finding.identity.kind
    if kind == "aws-iam-user":
        from .builders import aws

        return aws.offboard
    if kind == "azure-service-principal":
        from .builders import azure

        return azure.offboard
    if kind == "gcp-service-account":
        from .builders import gcp

        return gcp.offboard
    if kind == "k8s-service-account":
        from .builders import kubernetes

        return kubernetes.offboard
    if kind == "vault-token":
        from .builders import vault

        return vault.offboard_token
    if kind == "vault-approle":
        from .builders import vault

        return vault.offboard
    raise Skip(f"offboarding of {kind} identities is not implemented yet")


def observe_into(ctx: Context, check: Check, keys: list[str]) -> dict[str, Any]:
    """Observe ``check`` and set its ``expect`` to the live values of ``keys``; return all facts."""
    from .actions import get_observer

    facts = get_observer(check.observe)(ctx, ctx.resolve(check.params))
    check.expect = {k: facts.get(k) for k in keys}
    return facts


def report_path_str(path: Path | None) -> str:
    return str(path) if path else ""
