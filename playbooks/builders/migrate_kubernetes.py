"""Plan the migration of a legacy service-account token Secret to projected tokens (read-only).

For every Deployment, StatefulSet, DaemonSet and CronJob in the namespace whose pod template mounts the
Secret as a volume, one step replaces that volume (same name, same files ``token``/``ca.crt``/
``namespace``) by a projected volume with a bound, expiring ``serviceAccountToken``; the patch is
guarded by a JSON-patch ``test`` of the exact volume seen now. Workloads that read the token through
``env``/``envFrom``, run as another service account, or bare Pods, cannot be patched safely: the plan is
refused and names them. External consumers get a TokenRequest (``kubectl create token``) snippet.
Final stages, each separate: ``deactivate`` labels the Secret ``kubernetes.io/legacy-token-invalid-
since`` (reversible) once no workload mounts it and a fresh scan shows the token unused since the
migration; ``delete`` removes the Secret later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import k8s_federation as fed
from ..actions.kubernetes import parse_uid
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .steps import consumer_config_step, delete_after_step, unused_since_verify_check

if TYPE_CHECKING:
    from ..planner import PlanRequest

LEGACY_TYPE = "kubernetes.io/service-account-token"
TOKEN_SECONDS = 3600


def migrate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    from ..migrate import MigrateRequest

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "k8s-legacy-token":
        raise Skip("migration to projected tokens starts from a legacy token finding")
    context, ns, sa = parse_uid(finding.identity.uid)
    conn = ctx.plan.connections.setdefault("kubernetes", {})
    if conn.setdefault("context", context) != context:
        raise Skip(f"one kubeconfig context per plan: this plan uses {conn['context']}, the finding is in {context}")
    secret = cred.id
    secret_check = Check(
        id=f"{t}.secret",
        observe="k8sfed.legacy-secret",
        params={"namespace": ns, "name": secret},
        invariant=True,
        until=f"{t}.delete",
        text=f"Secret {ns}/{secret} is a legacy token of {sa}",
    )
    facts = observe_into(ctx, secret_check, ["exists", "type", "service_account"])
    if not facts["exists"] or facts["type"] != LEGACY_TYPE or facts["service_account"] != sa:
        raise Skip(f"Secret {ns}/{secret} is not a legacy token of service account {sa}")

    users = fed.mounting_workloads(ctx, ns, secret)
    blockers = [f"{u['kind']}/{u['name']} reads it through env/envFrom" for u in users if u["index"] is None]
    blockers += [
        f"{u['kind']}/{u['name']} runs as {u['spec'].get('serviceAccountName') or 'default'}, not {sa}"
        for u in users
        if u["index"] is not None and (u["spec"].get("serviceAccountName") or "default") != sa
    ]
    users_check = Check(
        id=f"{t}.users", observe="k8sfed.secret-users", params={"namespace": ns, "secret": secret}, text=""
    )
    seen = observe_into(ctx, users_check, ["workloads", "pods"])
    bare = [p for p in seen["pods"] if not _owned(p, users)]
    if blockers:
        raise Skip("cannot switch every user of the token to projected tokens: " + "; ".join(blockers))
    users_check.text = f"Secret {ns}/{secret} is used by exactly: " + (", ".join(seen["workloads"]) or "no workload")

    audience = None
    group = f"{t}:migrate"
    steps: list[Step] = []
    checks = [secret_check, users_check]
    patched = [u for u in users if u["index"] is not None]
    for u in patched:
        new = fed.projected_volume(str(u["volume"]["name"]), TOKEN_SECONDS, audience)
        params = {
            "kind": u["kind"],
            "namespace": ns,
            "name": u["name"],
            "index": u["index"],
            "old": u["volume"],
            "new": new,
        }
        sid = f"{t}.project-{u['kind'].lower()}-{u['name']}"
        steps.append(
            Step(
                id=sid,
                stage="create",
                group=group,
                action="k8sfed.project-token",
                target=f"{u['kind']}/{ns}/{u['name']}",
                api_call=(
                    f"PATCH {fed.workload_path(u['kind'], ns, u['name'])} (json-patch: test volumes[{u['index']}] "
                    f"= secret {secret}; replace it by projected serviceAccountToken, expirationSeconds "
                    f"{TOKEN_SECONDS}, + ca.crt + namespace)"
                ),
                params=params,
                rollback="the inverse json-patch (test the projected volume, put the Secret volume back)",
            )
        )
    snippet = yaml.safe_dump(
        {
            "projectedVolume": fed.projected_volume("token", TOKEN_SECONDS, audience),
            "externalConsumers": f"kubectl create token {sa} -n {ns} --duration=1h --audience=<your audience>",
            "tokenRequest": {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS, "audiences": ["<your audience>"]},
            },
        },
        sort_keys=False,
    )
    steps.append(
        consumer_config_step(
            t,
            group,
            target=req.consumer or f"{ns}/{sa}",
            api_call="write the projected-volume and TokenRequest snippet (printed with the plan)",
            kind="k8s-projected-token",
            consumer=req.consumer,
            role_arn=f"system:serviceaccount:{ns}:{sa}",
            snippet=snippet,
            path=req.snippet_path,
        )
    )
    steps.append(
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="k8sfed.verify-unmounted",
            target=f"Secret/{ns}/{secret}",
            api_call=f"list workloads in {ns}: none mounts Secret {secret} any more",
            params={"namespace": ns, "secret": secret},
            rollback="none needed (read-only)",
        )
    )
    steps += [
        Step(
            id=f"{t}.deactivate",
            stage="deactivate",
            group=f"{t}:retire",
            manual=True,
            action="k8sfed.invalidate-legacy-token",
            target=cred.uid,
            api_call=f"PATCH Secret {ns}/{secret} label {fed.INVALID_SINCE}=<today> (the API server rejects the token)",
            params={"namespace": ns, "name": secret},
            rollback=f"PATCH Secret {ns}/{secret}: remove the label {fed.INVALID_SINCE}",
            not_before={"after": f"{t}.verify", "days": req.verify_days},
            requires=[
                Check(
                    id=f"{t}.no-mounts",
                    observe="k8sfed.secret-users",
                    params={"namespace": ns, "secret": secret},
                    expect={"workloads": [], "pods": []},
                    text=f"no workload or pod mounts Secret {ns}/{secret}",
                ),
                unused_since_verify_check(
                    t,
                    "old-token-unused",
                    cred.uid,
                    f"a scan made after the migration shows legacy token {secret} unused since",
                ),
            ],
        ),
        delete_after_step(
            t,
            "delete",
            after="deactivate",
            days=req.delete_after_days,
            action="k8sfed.delete-legacy-token",
            target=cred.uid,
            api_call=f"DELETE /api/v1/namespaces/{ns}/secrets/{secret}",
            params={"namespace": ns, "name": secret},
            requires=[
                Check(
                    id=f"{t}.still-invalid",
                    observe="k8sfed.legacy-secret",
                    params={"namespace": ns, "name": secret, "invalid_since": f"${{{t}.deactivate.invalid_since}}"},
                    expect={"exists": True, "marked": True},
                    text=f"Secret {ns}/{secret} is still labelled invalid (nobody restored it)",
                )
            ],
        ),
    ]
    if bare:
        raise Skip(f"bare Pods mount the token and cannot be patched (pod volumes are immutable): {', '.join(bare)}")
    return Built(target=_target(finding, identity), checks=checks, steps=steps)


def _owned(pod: str, users: list[dict[str, object]]) -> bool:
    """Pods of a patched workload carry its name as prefix (ReplicaSet/StatefulSet naming)."""
    return any(pod.startswith(f"{u['name']}-") for u in users)
