"""Plan steps for GCP: rotate a user-managed service-account key (read-only at plan time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import gcp as act
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .delivery import deliver_step, known_location, plan_delivery
from .steps import delete_after_step, notify_first

if TYPE_CHECKING:
    from ..planner import PlanRequest

KEY_FIELDS = {"key.json": "key.json", "private_key_id": "key_id"}
MAX_KEYS = 10  # user-managed keys per service account


def rotate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    assert finding.credential is not None
    project, email = act.parse_uid(finding.identity.uid)
    key_id = finding.credential.id
    base = {"project": project, "email": email}
    key_check = Check(
        id=f"{t}.key",
        observe="gcp.sa-key",
        params={**base, "key_id": key_id, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, key_check, ["exists", "created_at", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"key {key_id} is not a user-managed key of {email} (keys are matched by id only)")
    if not facts["old_enough"]:
        raise Skip(f"key {key_id} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period")
    if facts["disabled"]:
        raise Skip(f"key {key_id} is already disabled: nothing to rotate")
    key_check.text = f"key {key_id} of {email} exists, created at {facts['created_at']}"
    status_check = Check(
        id=f"{t}.key-status",
        observe="gcp.sa-key",
        params={**base, "key_id": key_id},
        expect={"disabled": False},
        text=f"key {key_id} is enabled",
    )
    keys_check = Check(id=f"{t}.keys", observe="gcp.sa-keys", params=base, text="")
    keys = observe_into(ctx, keys_check, ["key_ids"])["key_ids"]
    if len(keys) >= MAX_KEYS:
        raise Skip(f"{email} already has {len(keys)} user-managed keys (the limit is {MAX_KEYS})")
    keys_check.text = f"{email} has exactly the user-managed keys {', '.join(keys)}"
    spec = req.deliver or known_location(req, finding.credential.uid, finding.credential.id)
    if spec is None:
        raise Skip("no delivery target: pass --deliver (the new key file is never printed)")
    delivery = plan_delivery(
        ctx,
        t,
        spec,
        fields=KEY_FIELDS,
        key_field="private_key_id",
        key_id=f"${{{t}.create.key_id}}",
        current_key_id=key_id,
        secret_step=f"{t}.create",
    )
    name = f"projects/{project}/serviceAccounts/{email}"
    group = f"{t}:rotate"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="gcp.create-sa-key",
            target=finding.identity.uid,
            api_call=f"iam.CreateServiceAccountKey name={name} (TYPE_GOOGLE_CREDENTIALS_FILE, RSA 2048)",
            params={**base, "known_key_ids": keys},
            rollback=f"iam.DeleteServiceAccountKey {name}/keys/<the new key>",
        ),
        deliver_step(t, group, delivery),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="gcp.verify-sa-key",
            target=finding.identity.uid,
            api_call=f"OAuth2 JWT-bearer token request signed with the new key as read back from {delivery.spec}",
            params={
                **base,
                "key_id": f"${{{t}.create.key_id}}",
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (read-only)",
        ),
        Step(
            id=f"{t}.deactivate",
            stage="deactivate",
            group=group,
            action="gcp.disable-sa-key",
            target=finding.credential.uid,
            api_call=f"iam.DisableServiceAccountKey {name}/keys/{key_id}",
            params={**base, "key_id": key_id},
            rollback=f"iam.EnableServiceAccountKey {name}/keys/{key_id}",
            requires=[
                Check(
                    id=f"{t}.new-key-enabled",
                    observe="gcp.sa-key",
                    params={**base, "key_id": f"${{{t}.create.key_id}}"},
                    expect={"exists": True, "disabled": False},
                    text="the new key exists and is enabled",
                )
            ],
        ),
        delete_after_step(
            t,
            "delete",
            after="deactivate",
            days=req.delete_after_days,
            action="gcp.delete-sa-key",
            target=finding.credential.uid,
            api_call=f"iam.DeleteServiceAccountKey {name}/keys/{key_id}",
            params={**base, "key_id": key_id},
            requires=[
                Check(
                    id=f"{t}.old-key-disabled",
                    observe="gcp.sa-key",
                    params={**base, "key_id": key_id},
                    expect={"exists": True, "disabled": True},
                    text=f"key {key_id} is still disabled (nobody re-enabled it)",
                )
            ],
        ),
    ]
    return Built(
        target=_target(finding, identity),
        checks=[key_check, status_check, keys_check, delivery.check],
        steps=steps,
    )


def offboard(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    project, email = act.parse_uid(finding.identity.uid)
    base = {"project": project, "email": email}
    sa_check = Check(id=f"{t}.sa", observe="gcp.sa", params=base, invariant=True, until=f"{t}.delete", text="")
    facts = observe_into(ctx, sa_check, ["exists", "unique_id"])
    if not facts["exists"]:
        raise Skip(f"service account {email} does not exist")
    if facts["disabled"]:
        raise Skip(f"service account {email} is already disabled")
    sa_check.text = f"service account {email} exists (uniqueId {facts['unique_id']})"
    state_check = Check(
        id=f"{t}.sa-enabled", observe="gcp.sa", params=base, expect={"disabled": False}, text=f"{email} is enabled"
    )
    keys_check = Check(id=f"{t}.keys", observe="gcp.sa-keys", params=base, text="")
    keys = observe_into(ctx, keys_check, ["key_ids"])["key_ids"]
    keys_check.text = f"{email} has exactly the user-managed keys {', '.join(keys) or 'none'}"
    checks = [sa_check, state_check, keys_check]
    for key_id in keys:
        c = Check(
            id=f"{t}.key-{key_id[:12]}",
            observe="gcp.sa-key",
            params={**base, "key_id": key_id, "min_age_days": req.grace_days},
            invariant=True,
            until=f"{t}.delete",
            text=f"key {key_id} of {email} is older than {req.grace_days} days",
        )
        if not observe_into(ctx, c, ["exists", "old_enough"])["old_enough"]:
            raise Skip(f"key {key_id} of {email} is inside the {req.grace_days}-day grace period")
        checks.append(c)
    name = f"projects/{project}/serviceAccounts/{email}"
    steps, gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="gcp.disable-sa",
            target=finding.identity.uid,
            api_call=f"iam.DisableServiceAccount name={name}",
            params=base,
            rollback=f"iam.EnableServiceAccount name={name}",
            not_before=gate,
        ),
        delete_after_step(
            t,
            "delete",
            after="disable",
            days=req.delete_after_days,
            action="gcp.delete-sa-keys",
            target=finding.identity.uid,
            api_call=f"iam.DeleteServiceAccountKey for {', '.join(keys) or 'no key'} of {name}",
            params={**base, "key_ids": keys},
            requires=[
                Check(
                    id=f"{t}.still-disabled",
                    observe="gcp.sa",
                    params=base,
                    expect={"disabled": True},
                    text=f"{email} is still disabled (nobody re-enabled it)",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)
