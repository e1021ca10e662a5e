"""Plan steps for Kubernetes: replace a legacy service-account token Secret by a bound TokenRequest token.

Read-only at plan time. A legacy token still mounted by a pod is left out (deleting it would break pod
restarts: migrate the pod to a projected token first); so is one already invalidated or inside the
grace period. One kubeconfig context per plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import kubernetes as act
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .delivery import deliver_step, plan_delivery
from .steps import delete_after_step, notify_first

if TYPE_CHECKING:
    from ..planner import PlanRequest

TOKEN_FIELDS = {"token": "token", "token_ref": "token_ref"}


def rotate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    assert finding.credential is not None
    context, ns, sa = act.parse_uid(finding.identity.uid)
    secret = finding.credential.id
    conn = ctx.plan.connections.setdefault("kubernetes", {})
    if conn.setdefault("context", context) != context:
        raise Skip(f"one kubeconfig context per plan: this plan uses {conn['context']}, the finding is in {context}")

    sa_check = Check(
        id=f"{t}.sa",
        observe="k8s.service-account",
        params={"namespace": ns, "name": sa},
        invariant=True,
        text="",
    )
    sa_facts = observe_into(ctx, sa_check, ["exists", "uid"])
    if not sa_facts["exists"]:
        raise Skip(f"service account {ns}/{sa} does not exist")
    sa_check.text = f"service account {ns}/{sa} exists with uid {sa_facts['uid']}"
    token_check = Check(
        id=f"{t}.token",
        observe="k8s.legacy-token",
        params={"namespace": ns, "name": secret, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, token_check, ["exists", "uid", "type", "service_account", "created_at", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"secret {ns}/{secret} does not exist")
    if facts["type"] != act.LEGACY_TYPE or facts["service_account"] != sa:
        raise Skip(f"secret {ns}/{secret} is not a legacy token of service account {sa}")
    if not facts["old_enough"]:
        raise Skip(
            f"secret {ns}/{secret} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period"
        )
    token_check.text = (
        f"legacy token secret {ns}/{secret} of {sa} exists (uid {facts['uid']}, created {facts['created_at']})"
    )
    state_check = Check(
        id=f"{t}.token-state",
        observe="k8s.legacy-token",
        params={"namespace": ns, "name": secret, "with_pods": True},
        text=f"secret {ns}/{secret} is not invalidated and no pod mounts it",
    )
    state = observe_into(ctx, state_check, ["invalidated", "mounted_by"])
    if state["invalidated"]:
        raise Skip(f"secret {ns}/{secret} is already invalidated")
    if state["mounted_by"]:
        raise Skip(
            f"secret {ns}/{secret} is mounted by {', '.join(state['mounted_by'])}: move them to projected tokens first"
        )
    if not req.deliver:
        raise Skip("a legacy token is replaced by a bound token: pass --deliver (vault-kv:..., k8s-secret:...)")
    delivery = plan_delivery(
        ctx,
        t,
        req.deliver,
        fields=TOKEN_FIELDS,
        key_field="token_ref",
        key_id=f"${{{t}.create.bound_secret}}",
        secret_step=f"{t}.create",
    )
    ttl = int(req.token_ttl.total_seconds())
    group = f"{t}:rotate"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="k8s.create-bound-token",
            target=finding.identity.uid,
            api_call=(
                f"POST /api/v1/namespaces/{ns}/secrets {{Opaque {sa}-nhw-token-*}}; POST /api/v1/namespaces/{ns}/"
                f"serviceaccounts/{sa}/token {{expirationSeconds: {ttl}, boundObjectRef: that Secret}}"
            ),
            params={"namespace": ns, "service_account": sa, "expiration_seconds": ttl},
            rollback="DELETE the bound Secret (revokes the new token)",
        ),
        deliver_step(t, group, delivery),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="k8s.verify-token",
            target=finding.identity.uid,
            api_call=(
                f"POST /apis/authentication.k8s.io/v1/tokenreviews with the token read back from {delivery.spec}; "
                f"expect system:serviceaccount:{ns}:{sa}"
            ),
            params={
                "namespace": ns,
                "service_account": sa,
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (read-only)",
        ),
        Step(
            id=f"{t}.deactivate",
            stage="deactivate",
            group=group,
            action="k8s.invalidate-legacy-token",
            target=finding.credential.uid,
            api_call=f"PATCH /api/v1/namespaces/{ns}/secrets/{secret} label {act.INVALID_LABEL}=<today>",
            params={"namespace": ns, "name": secret},
            rollback=f"PATCH: remove the {act.INVALID_LABEL} label",
        ),
        delete_after_step(
            t,
            "delete",
            after="deactivate",
            days=req.delete_after_days,
            action="k8s.delete-secret",
            target=finding.credential.uid,
            api_call=f"DELETE /api/v1/namespaces/{ns}/secrets/{secret}",
            params={"namespace": ns, "name": secret},
            requires=[
                Check(
                    id=f"{t}.token-unused",
                    observe="k8s.legacy-token",
                    params={"namespace": ns, "name": secret, "since": f"${{{t}.deactivate.invalid_since}}"},
                    expect={"invalidated": True, "used_after": False},
                    text=f"{ns}/{secret} is still invalidated and its last-used label shows no use since",
                )
            ],
        ),
    ]
    return Built(
        target=_target(finding, identity), checks=[sa_check, token_check, state_check, delivery.check], steps=steps
    )


def offboard(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    context, ns, sa = act.parse_uid(finding.identity.uid)
    conn = ctx.plan.connections.setdefault("kubernetes", {})
    if conn.setdefault("context", context) != context:
        raise Skip(f"one kubeconfig context per plan: this plan uses {conn['context']}, the finding is in {context}")
    sa_check = Check(
        id=f"{t}.sa",
        observe="k8s.service-account",
        params={"namespace": ns, "name": sa, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, sa_check, ["exists", "uid", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"service account {ns}/{sa} does not exist")
    if not facts["old_enough"]:
        raise Skip(f"service account {ns}/{sa} was created at {facts['created_at']}, inside the grace period")
    sa_check.text = f"service account {ns}/{sa} exists with uid {facts['uid']}, created at {facts['created_at']}"
    bindings_check = Check(id=f"{t}.bindings", observe="k8s.sa-bindings", params={"namespace": ns, "name": sa}, text="")
    bindings = observe_into(ctx, bindings_check, ["bindings"])["bindings"]
    bindings_check.text = f"{ns}/{sa} is a subject of exactly: {', '.join(bindings) or 'no binding'}"
    steps, gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="k8s.remove-sa-bindings",
            target=finding.identity.uid,
            api_call=(
                "json-patch test+remove of the subject (or DELETE when it is the only subject) on "
                + (", ".join(bindings) or "no binding")
            ),
            params={"namespace": ns, "name": sa, "bindings": bindings},
            rollback="re-add exactly the removed subjects / re-create the deleted bindings (recorded in the journal)",
            not_before=gate,
        ),
        delete_after_step(
            t,
            "delete",
            after="disable",
            days=req.delete_after_days,
            action="k8s.delete-service-account",
            target=finding.identity.uid,
            api_call=f"DELETE /api/v1/namespaces/{ns}/serviceaccounts/{sa} (its legacy token Secrets go with it)",
            params={"namespace": ns, "name": sa},
            requires=[
                Check(
                    id=f"{t}.still-unbound",
                    observe="k8s.sa-bindings",
                    params={"namespace": ns, "name": sa},
                    expect={"bindings": []},
                    text=f"{ns}/{sa} is still in no binding (nobody restored one)",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=[sa_check, bindings_check], steps=steps)
