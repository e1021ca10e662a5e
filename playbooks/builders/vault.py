"""Plan steps for Vault/OpenBao AppRoles: offboarding (notify -> disable entity -> destroy secret-ids).

Read-only at plan time. The Vault address in the plan must be the one in the finding's identity uid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import vault as act
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .steps import delete_after_step, notify_first

if TYPE_CHECKING:
    from ..planner import PlanRequest


def offboard(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    addr_part, mount, role = act.parse_uid(finding.identity.uid)
    conn = ctx.plan.connections.setdefault("vault", {})
    if not conn.get("addr"):
        conn["addr"] = addr_part
    if not addr_part.startswith(str(conn["addr"]).rstrip("/")):
        raise Skip(f"the Vault address in use ({conn['addr']}) is not the finding's ({addr_part})")
    role_check = Check(
        id=f"{t}.role",
        observe="vault.approle",
        params={"mount": mount, "role": role},
        invariant=True,
        text="",
    )
    facts = observe_into(ctx, role_check, ["exists", "role_id"])
    if not facts["exists"]:
        raise Skip(f"AppRole {mount}/{role} does not exist")
    if facts["entity_disabled"]:
        raise Skip(f"AppRole {mount}/{role} is already disabled")
    role_check.text = f"AppRole auth/{mount}/role/{role} exists with role_id {facts['role_id']}"
    state_check = Check(
        id=f"{t}.entity",
        observe="vault.approle",
        params={"mount": mount, "role": role},
        expect={"entity_disabled": False},
        text=f"the identity entity of AppRole {role} is not disabled",
    )
    ids_check = Check(
        id=f"{t}.secret-ids",
        observe="vault.approle-secret-ids",
        params={"mount": mount, "role": role, "min_age_days": req.grace_days},
        text="",
    )
    ids = observe_into(ctx, ids_check, ["accessors", "all_old_enough"])
    if not ids["all_old_enough"]:
        raise Skip(f"secret-ids {', '.join(ids['young'])} are inside the {req.grace_days}-day grace period")
    ids_check.text = f"AppRole {role} has secret-id accessors {', '.join(ids['accessors']) or 'none'}"
    role_id = facts["role_id"]

    steps, gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="vault.disable-approle-entity",
            target=finding.identity.uid,
            api_call=(
                f"POST identity/lookup/entity {{alias_name: {role_id}}}; POST identity/entity/id/<id> "
                "{disabled: true} (or create a disabled entity + alias when the role never logged in)"
            ),
            params={"mount": mount, "role": role, "role_id": role_id},
            rollback="POST identity/entity/id/<id> {disabled: false} (or delete the entity it created)",
            not_before=gate,
        ),
        delete_after_step(
            t,
            "delete",
            after="disable",
            days=req.delete_after_days,
            action="vault.destroy-secret-ids",
            target=finding.identity.uid,
            api_call=(
                f"POST auth/{mount}/role/{role}/secret-id-accessor/destroy for {', '.join(ids['accessors']) or 'none'}"
            ),
            params={"mount": mount, "role": role, "accessors": ids["accessors"]},
            requires=[
                Check(
                    id=f"{t}.still-disabled",
                    observe="vault.approle",
                    params={"mount": mount, "role": role},
                    expect={"entity_disabled": True},
                    text=f"AppRole {role} is still disabled (nobody restored it)",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=[role_check, state_check, ids_check], steps=steps)


SECRET_ID_FIELDS = {"role_id": "role_id", "secret_id": "secret_id", "secret_id_accessor": "secret_id_accessor"}


def rotate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """Rotate an AppRole secret-id: create a new one, deliver, test a login, destroy the old one later.

    A secret-id cannot be disabled, only destroyed, so there is no deactivate stage: the old one is
    destroyed in the held delete stage.
    """
    from .delivery import deliver_step, known_location, plan_delivery

    assert finding.credential is not None
    addr_part, mount, role = act.parse_uid(finding.identity.uid)
    conn = ctx.plan.connections.setdefault("vault", {})
    if not conn.get("addr"):
        conn["addr"] = addr_part
    if not addr_part.startswith(str(conn["addr"]).rstrip("/")):
        raise Skip(f"the Vault address in use ({conn['addr']}) is not the finding's ({addr_part})")
    accessor = finding.credential.id
    base = {"mount": mount, "role": role}
    sid_check = Check(
        id=f"{t}.secret-id",
        observe="vault.secret-id",
        params={**base, "accessor": accessor, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, sid_check, ["exists", "created_at", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"secret-id accessor {accessor} is not on AppRole {mount}/{role} (matched by accessor only)")
    if not facts["old_enough"]:
        raise Skip(
            f"secret-id {accessor} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period"
        )
    sid_check.text = f"secret-id {accessor} of AppRole {mount}/{role} exists, created at {facts['created_at']}"
    role_check = Check(id=f"{t}.role", observe="vault.role-config", params=base, invariant=True, text="")
    config = observe_into(ctx, role_check, ["role_id"])
    role_check.text = f"AppRole {mount}/{role} has role_id {config['role_id']}"
    ids_check = Check(id=f"{t}.secret-ids", observe="vault.approle-secret-ids", params=base, text="")
    known = observe_into(ctx, ids_check, ["accessors"])["accessors"]
    ids_check.text = f"AppRole {role} has exactly the secret-id accessors {', '.join(known)}"
    spec = req.deliver or known_location(req, finding.credential.uid, finding.credential.id)
    if spec is None:
        raise Skip("no delivery target: pass --deliver (the new secret-id is never printed)")
    delivery = plan_delivery(
        ctx,
        t,
        spec,
        fields=SECRET_ID_FIELDS,
        key_field="secret_id_accessor",
        key_id=f"${{{t}.create.accessor}}",
        current_key_id=accessor,
        secret_step=f"{t}.create",
    )
    limited = config["secret_id_num_uses"] > 0
    group = f"{t}:rotate"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="vault.create-secret-id",
            target=finding.identity.uid,
            api_call=f"POST auth/{mount}/role/{role}/secret-id {{metadata: created_by nhiwarden}}",
            params={**base, "role_id": config["role_id"], "known_accessors": known},
            rollback=f"POST auth/{mount}/role/{role}/secret-id-accessor/destroy {{<the new accessor>}}",
        ),
        deliver_step(t, group, delivery),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="vault.verify-secret-id",
            target=finding.identity.uid,
            api_call=(
                "lookup of the new accessor (the role limits uses)"
                if limited
                else f"POST auth/{mount}/login with the role_id/secret_id read from {delivery.spec}, then revoke-self"
            ),
            params={
                **base,
                "accessor": f"${{{t}.create.accessor}}",
                "uses_limited": limited,
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (the test token is revoked at once)",
        ),
        delete_after_step(
            t,
            "delete",
            after="verify",
            days=req.delete_after_days,
            action="vault.destroy-secret-id",
            target=finding.credential.uid,
            api_call=f"POST auth/{mount}/role/{role}/secret-id-accessor/destroy {{secret_id_accessor: {accessor}}}",
            params={**base, "accessor": accessor},
        ),
    ]
    return Built(
        target=_target(finding, identity), checks=[sid_check, role_check, ids_check, delivery.check], steps=steps
    )


TOKEN_FIELDS = {"token": "token", "token_accessor": "token_accessor"}


def rotate_token(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """Rotate a periodic token: same policies/period/orphan status; the old one is revoked later."""
    from .delivery import deliver_step, plan_delivery

    assert finding.credential is not None
    accessor = finding.credential.id
    conn = ctx.plan.connections.setdefault("vault", {})
    addr_part = finding.identity.uid.split(":auth/", 1)[0].removeprefix("vault:")
    if not conn.get("addr"):
        conn["addr"] = addr_part
    check = Check(
        id=f"{t}.token",
        observe="vault.token",
        params={"accessor": accessor, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, check, ["exists", "policies", "period", "orphan", "created_at", "old_enough"])
    if not facts["exists"]:
        raise Skip(f"token accessor {accessor} does not exist")
    if not facts["period"]:
        raise Skip(f"token {accessor} is not periodic: only periodic tokens are rotated (others expire)")
    if not facts["old_enough"]:
        raise Skip(
            f"token {accessor} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period"
        )
    check.text = (
        f"token {accessor} exists (policies {', '.join(facts['policies']) or 'default'}, period {facts['period']}s, "
        f"{'orphan' if facts['orphan'] else 'child'}), created at {facts['created_at']}"
    )
    if not req.deliver:
        raise Skip("no delivery target: pass --deliver (the new token is never printed)")
    delivery = plan_delivery(
        ctx,
        t,
        req.deliver,
        fields=TOKEN_FIELDS,
        key_field="token_accessor",
        key_id=f"${{{t}.create.accessor}}",
        current_key_id=accessor,
        secret_step=f"{t}.create",
    )
    group = f"{t}:rotate"
    create_path = "auth/token/create-orphan" if facts["orphan"] else "auth/token/create"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="vault.create-token",
            target=finding.identity.uid,
            api_call=f"POST {create_path} {{policies: {facts['policies']}, period: {facts['period']}s}}",
            params={
                "policies": facts["policies"],
                "period": facts["period"],
                "orphan": facts["orphan"],
                "display_name": facts["display_name"],
            },
            rollback="POST auth/token/revoke-accessor {<the new accessor>}",
        ),
        deliver_step(t, group, delivery),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="vault.verify-token",
            target=finding.identity.uid,
            api_call=f"GET auth/token/lookup-self with the token read from {delivery.spec}",
            params={
                "accessor": f"${{{t}.create.accessor}}",
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (read-only)",
        ),
        delete_after_step(
            t,
            "delete",
            after="verify",
            days=req.delete_after_days,
            action="vault.revoke-token",
            target=finding.credential.uid,
            api_call=f"POST auth/token/revoke-accessor {{accessor: {accessor}}}",
            params={"accessor": accessor},
        ),
    ]
    return Built(target=_target(finding, identity), checks=[check, delivery.check], steps=steps)


def offboard_token(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """Offboard a token: disable its identity entity (reversible), revoke the token later.

    A token without an entity (e.g. created directly by another token) cannot be disabled reversibly:
    such a token is left out with a clear reason rather than revoked at once.
    """
    accessor = finding.credential.id if finding.credential else finding.identity.uid.rsplit("/", 1)[-1]
    conn = ctx.plan.connections.setdefault("vault", {})
    addr_part = finding.identity.uid.split(":auth/", 1)[0].removeprefix("vault:")
    if not conn.get("addr"):
        conn["addr"] = addr_part
    check = Check(
        id=f"{t}.token",
        observe="vault.token-entity",
        params={"accessor": accessor},
        invariant=True,
        until=f"{t}.delete",
        text="",
    )
    facts = observe_into(ctx, check, ["exists", "entity_id"])
    if not facts["exists"]:
        raise Skip(f"token accessor {accessor} does not exist")
    if not facts["entity_id"]:
        raise Skip(
            f"token {accessor} has no identity entity, so it cannot be disabled reversibly: "
            "rotate it, or revoke it by hand (POST auth/token/revoke-accessor)"
        )
    if facts["entity_disabled"]:
        raise Skip(f"the entity of token {accessor} is already disabled")
    entity_id = facts["entity_id"]
    check.text = f"token {accessor} exists and belongs to entity {entity_id}"
    state = Check(
        id=f"{t}.entity-enabled",
        observe="vault.token-entity",
        params={"accessor": accessor},
        expect={"entity_disabled": False},
        text=f"entity {entity_id} is enabled",
    )
    steps, gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="vault.disable-entity",
            target=finding.identity.uid,
            api_call=f"POST identity/entity/id/{entity_id} {{disabled: true}} (all its tokens stop working)",
            params={"entity_id": entity_id},
            rollback=f"POST identity/entity/id/{entity_id} {{disabled: false}}",
            not_before=gate,
        ),
        delete_after_step(
            t,
            "delete",
            after="disable",
            days=req.delete_after_days,
            action="vault.revoke-token",
            target=finding.identity.uid,
            api_call=f"POST auth/token/revoke-accessor {{accessor: {accessor}}}",
            params={"accessor": accessor},
            requires=[
                Check(
                    id=f"{t}.still-disabled",
                    observe="vault.token-entity",
                    params={"accessor": accessor},
                    expect={"entity_disabled": True},
                    text=f"entity {entity_id} is still disabled (nobody re-enabled it)",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=[check, state], steps=steps)
