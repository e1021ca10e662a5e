"""Step and check constructions shared by several plan builders.

The rotate, offboard and migrate builders of every provider end the same way: an optional owner
notice, a manual delete stage gated on a waiting period, and (for AWS access keys) the same
deactivate/delete pair. Building those steps in one place keeps the plans of all builders
identical in shape, so a fix to a gate or a safety check cannot be applied to one copy and missed
in another. Each helper returns exactly the ``Step``/``Check`` the builders used to spell out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import Check, Step

if TYPE_CHECKING:
    from nhiwarden.findings import Finding
    from nhiwarden.model import Identity

    from ..planner import PlanRequest


def delete_after_step(
    t: str,
    name: str,
    *,
    after: str,
    days: int,
    action: str,
    target: str,
    api_call: str,
    params: dict[str, Any],
    requires: list[Check] | None = None,
) -> Step:
    """The final, irreversible delete stage: manual, in group ``t:delete``, no rollback.

    It only runs when ``apply --stage delete`` names it, and not before ``days`` days after the step
    ``t.<after>`` completed, so a reviewer always gets a grace period in which the earlier (reversible)
    stages can still be undone. ``requires`` re-checks, right before deleting, that nobody undid them.
    """
    return Step(
        id=f"{t}.{name}",
        stage="delete",
        group=f"{t}:delete",
        manual=True,
        action=action,
        target=target,
        api_call=api_call,
        params=params,
        rollback=None,
        not_before={"after": f"{t}.{after}", "days": days},
        requires=requires or [],
    )


def notify_first(
    req: PlanRequest, t: str, finding: Finding, identity: Identity | None
) -> tuple[list[Step], dict[str, Any] | None]:
    """The owner notice that opens an offboarding plan, and the gate for the first disable step.

    With ``--notify-webhook`` the plan starts with a webhook step and the first disabling step must
    wait ``--notice-days`` after it, so the owner gets a chance to object; without it there is no
    notice and no gate. Returns the steps to start the plan with and the ``not_before`` gate.
    """
    from .aws import _notify_step  # aws imports this module

    if not req.notify_webhook:
        return [], None
    return (
        [_notify_step(req, t, finding, identity, next_stage="disable")],
        {"after": f"{t}.notify", "days": req.notice_days},
    )


def aws_old_key_quiet_check(t: str, key_id: str, why: str) -> Check:
    """The old access key has not been used since the replacement was verified.

    Deactivating a key that is still in use would break its consumer, so migrations only deactivate
    once IAM's last-used signal shows no use after ``t.verify``. ``why`` names who should have moved.
    """
    return Check(
        id=f"{t}.old-key-quiet",
        observe="aws.key-last-used",
        params={"key_id": key_id, "since": f"${{{t}.verify.at}}"},
        expect={"used_after": False},
        text=f"access key {key_id} was not used since the role was verified ({why})",
    )


def aws_deactivate_key_step(
    t: str,
    credential_uid: str,
    user: str,
    key_id: str,
    *,
    group: str,
    requires: list[Check],
    manual: bool = False,
    not_before: dict[str, Any] | None = None,
) -> Step:
    """Set the old access key Inactive (reversible), the stage before it is deleted.

    Rotation and both AWS migrations retire the old key the same way; only the group, the gate and the
    checks that make it safe (new key active, or old key quiet and role intact) differ.
    """
    return Step(
        id=f"{t}.deactivate",
        stage="deactivate",
        group=group,
        manual=manual,
        action="aws.set-access-key-status",
        target=credential_uid,
        api_call=f"iam:UpdateAccessKey UserName={user} AccessKeyId={key_id} Status=Inactive",
        params={"user": user, "key_id": key_id, "status": "Inactive"},
        rollback=f"iam:UpdateAccessKey UserName={user} AccessKeyId={key_id} Status=Active",
        not_before=not_before,
        requires=requires,
    )


def aws_delete_old_key_step(
    t: str, credential_uid: str, user: str, key_id: str, delete_after_days: int, *, check_unused: bool = True
) -> Step:
    """Delete the old access key ``delete_after_days`` after it was deactivated.

    Right before deleting, the key must still be Inactive (nobody re-activated it because something
    broke) and, with ``check_unused``, unused since deactivation (a failed call with an inactive key
    still shows up in its last-used signal).
    """
    requires = [
        Check(
            id=f"{t}.old-key-inactive",
            observe="aws.access-key",
            params={"user": user, "key_id": key_id},
            expect={"exists": True, "status": "Inactive"},
            text=f"access key {key_id} is still Inactive (nobody re-activated it)",
        )
    ]
    if check_unused:
        requires.append(
            Check(
                id=f"{t}.old-key-unused",
                observe="aws.key-last-used",
                params={"key_id": key_id, "since": f"${{{t}.deactivate.at}}"},
                expect={"used_after": False},
                text=f"access key {key_id} was not used since it was deactivated",
            )
        )
    return delete_after_step(
        t,
        "delete",
        after="deactivate",
        days=delete_after_days,
        action="aws.delete-access-key",
        target=credential_uid,
        api_call=f"iam:DeleteAccessKey UserName={user} AccessKeyId={key_id}",
        params={"user": user, "key_id": key_id},
        requires=requires,
    )


def unused_since_verify_check(t: str, name: str, credential_uid: str, text: str) -> Check:
    """A scan made after the migration shows the old credential unused since ``t.verify``.

    Migrations delete the old credential only once a fresh report (``NHIWARDEN_FRESH_REPORT``) proves
    its consumers moved to the federated identity: usage must be known and show no use after the
    verification. ``name`` is the check id suffix (``old-secret-unused``, ``old-token-unused``, ...).
    """
    return Check(
        id=f"{t}.{name}",
        observe="usage.unused-in-report",
        params={"credential_uid": credential_uid, "since": f"${{{t}.verify.at}}"},
        expect={"fresh": True, "usage_known": True, "used_after": False},
        text=text,
    )


def consumer_config_step(
    t: str,
    group: str,
    *,
    target: str,
    api_call: str,
    kind: str,
    consumer: str | None,
    role_arn: str,
    snippet: str,
    path: str | None,
    fmt: str = "yaml",
    substitute: dict[str, str] | None = None,
) -> Step:
    """Write (or print with the plan) the snippet that points the consumer at its new identity.

    Every migration ends its create/verify group with this step; ``snippet_of`` and the
    ``migrate.consumer-config`` action read these exact params, so they are built in one place.
    ``kind`` is the migration target (``params.target``); ``substitute`` maps placeholders in the
    snippet to outputs of earlier steps, filled in at apply time.
    """
    params: dict[str, Any] = {
        "target": kind,
        "consumer": consumer,
        "role_arn": role_arn,
        "format": fmt,
        "snippet": snippet,
        "path": path,
    }
    if substitute is not None:
        params["substitute"] = substitute
    return Step(
        id=f"{t}.consumer",
        stage="deliver",
        group=group,
        action="migrate.consumer-config",
        target=target,
        api_call=api_call,
        params=params,
        rollback="remove the snippet file if this step wrote it",
    )
