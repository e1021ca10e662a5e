"""Plan steps for Azure: rotate an application's client secret (read-only at plan time).

Entra ID has no way to disable one secret, so there is no deactivate stage: the old secret is removed in
the held delete stage, after the new one is delivered and verified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import azure as act
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .delivery import deliver_step, known_location, plan_delivery
from .steps import delete_after_step, notify_first

if TYPE_CHECKING:
    from ..planner import PlanRequest

SECRET_FIELDS = {
    "client_id": "client_id",
    "tenant_id": "tenant_id",
    "client_secret": "client_secret",
    "secret_key_id": "key_id",
}
NEW_SECRET_DAYS = 180


def rotate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    assert finding.credential is not None
    tenant, app_id = act.parse_uid(finding.identity.uid)
    if ":sp-secret/" in finding.credential.uid:
        raise Skip("the secret belongs to the service principal, not the application: not rotated here")
    key_id = finding.credential.id.lower()
    conn = ctx.plan.connections.setdefault("azure", {})
    if conn.setdefault("tenant", tenant) != tenant:
        raise Skip(f"one tenant per plan: this plan uses {conn['tenant']}, the finding is in {tenant}")
    base = {"app_id": app_id}
    secret_check = Check(
        id=f"{t}.secret",
        observe="azure.app-secret",
        params={**base, "key_id": key_id, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, secret_check, ["exists", "object_id", "created_at", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"client secret {key_id} is not on application {app_id} (matched by keyId only)")
    if not facts["old_enough"]:
        raise Skip(
            f"client secret {key_id} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period"
        )
    secret_check.text = (
        f"client secret {key_id} exists on application {app_id} (object {facts['object_id']}), "
        f"created at {facts['created_at']}"
    )
    all_check = Check(id=f"{t}.secrets", observe="azure.app-secrets", params=base, text="")
    known = observe_into(ctx, all_check, ["key_ids"])["key_ids"]
    all_check.text = f"application {app_id} has exactly the client secrets {', '.join(known)}"
    spec = req.deliver or known_location(req, finding.credential.uid, finding.credential.id)
    if spec is None:
        raise Skip("no delivery target: pass --deliver (the new secret is never printed)")
    delivery = plan_delivery(
        ctx,
        t,
        spec,
        fields=SECRET_FIELDS,
        key_field="secret_key_id",
        key_id=f"${{{t}.create.key_id}}",
        current_key_id=key_id,
        secret_step=f"{t}.create",
    )
    object_id = facts["object_id"]
    group = f"{t}:rotate"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="azure.add-password",
            target=finding.identity.uid,
            api_call=(
                f"POST /v1.0/applications/{object_id}/addPassword {{displayName, endDateTime: +{NEW_SECRET_DAYS}d}}"
            ),
            params={**base, "tenant": tenant, "valid_days": NEW_SECRET_DAYS, "known_key_ids": known},
            rollback=f"POST /v1.0/applications/{object_id}/removePassword {{keyId: <the new secret>}}",
        ),
        deliver_step(t, group, delivery),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="azure.verify-client-secret",
            target=finding.identity.uid,
            api_call=f"client-credentials token request for {app_id} with the secret read from {delivery.spec}",
            params={
                **base,
                "tenant": tenant,
                "key_id": f"${{{t}.create.key_id}}",
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (read-only)",
        ),
        delete_after_step(
            t,
            "delete",
            after="verify",
            days=req.delete_after_days,
            action="azure.remove-password",
            target=finding.credential.uid,
            api_call=f"POST /v1.0/applications/{object_id}/removePassword {{keyId: {key_id}}}",
            params={**base, "key_id": key_id},
        ),
    ]
    return Built(target=_target(finding, identity), checks=[secret_check, all_check, delivery.check], steps=steps)


def offboard(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    tenant, app_id = act.parse_uid(finding.identity.uid)
    conn = ctx.plan.connections.setdefault("azure", {})
    if conn.setdefault("tenant", tenant) != tenant:
        raise Skip(f"one tenant per plan: this plan uses {conn['tenant']}, the finding is in {tenant}")
    base = {"app_id": app_id}
    sp_check = Check(id=f"{t}.sp", observe="azure.sp", params=base, invariant=True, text="")
    facts = observe_into(ctx, sp_check, ["exists", "object_id"])
    if not facts["exists"]:
        raise Skip(f"no service principal for application {app_id}")
    if not facts["account_enabled"]:
        raise Skip(f"service principal of {app_id} is already disabled")
    sp_check.text = f"service principal {facts['object_id']} of application {app_id} exists"
    state_check = Check(
        id=f"{t}.sp-enabled",
        observe="azure.sp",
        params=base,
        expect={"account_enabled": True},
        text="the service principal is enabled",
    )
    secrets_check = Check(id=f"{t}.secrets", observe="azure.app-secrets", params=base, text="")
    key_ids = observe_into(ctx, secrets_check, ["key_ids"])["key_ids"]
    secrets_check.text = f"application {app_id} has exactly the client secrets {', '.join(key_ids) or 'none'}"
    checks = [sp_check, state_check, secrets_check]
    for key_id in key_ids:
        c = Check(
            id=f"{t}.secret-{key_id[:8]}",
            observe="azure.app-secret",
            params={**base, "key_id": key_id, "min_age_days": req.grace_days},
            invariant=True,
            until=f"{t}.delete",
            text=f"client secret {key_id} is older than {req.grace_days} days",
        )
        if not observe_into(ctx, c, ["exists", "old_enough"])["old_enough"]:
            raise Skip(f"client secret {key_id} is inside the {req.grace_days}-day grace period")
        checks.append(c)
    object_id = facts["object_id"]
    steps, gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="azure.disable-sp",
            target=finding.identity.uid,
            api_call=f"PATCH /v1.0/servicePrincipals/{object_id} {{accountEnabled: false}}",
            params={**base, "object_id": object_id},
            rollback=f"PATCH /v1.0/servicePrincipals/{object_id} {{accountEnabled: true}}",
            not_before=gate,
        ),
        delete_after_step(
            t,
            "delete",
            after="disable",
            days=req.delete_after_days,
            action="azure.remove-passwords",
            target=finding.identity.uid,
            api_call=f"POST /v1.0/applications/<app>/removePassword for {', '.join(key_ids) or 'no secret'}",
            params={**base, "key_ids": key_ids},
            requires=[
                Check(
                    id=f"{t}.still-disabled",
                    observe="azure.sp",
                    params=base,
                    expect={"account_enabled": False},
                    text="the service principal is still disabled (nobody re-enabled it)",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)
