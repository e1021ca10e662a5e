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
from .aws import _notify_step, _target

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

    steps: list[Step] = []
    gate = None
    if req.notify_webhook:
        steps.append(_notify_step(req, t, finding, identity, next_stage="disable"))
        gate = {"after": f"{t}.notify", "days": req.notice_days}
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
        Step(
            id=f"{t}.delete",
            stage="delete",
            group=f"{t}:delete",
            manual=True,
            action="vault.destroy-secret-ids",
            target=finding.identity.uid,
            api_call=(
                f"POST auth/{mount}/role/{role}/secret-id-accessor/destroy for {', '.join(ids['accessors']) or 'none'}"
            ),
            params={"mount": mount, "role": role, "accessors": ids["accessors"]},
            rollback=None,
            not_before={"after": f"{t}.disable", "days": req.delete_after_days},
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
