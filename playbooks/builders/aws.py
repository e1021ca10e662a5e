"""Plan steps for AWS IAM users: access-key rotation and offboarding (read-only at plan time).

Reads live state through the same observers ``apply`` re-checks, so the preconditions in the plan are
exactly what apply compares. Never calls a mutating API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import aws as act
from ..model import Check, Step, Target
from ..planner import Built, Skip, observe_into
from .delivery import known_location, plan_delivery
from .steps import aws_deactivate_key_step, aws_delete_old_key_step, delete_after_step, notify_first

if TYPE_CHECKING:
    from ..planner import PlanRequest

KEY_FIELDS = {"aws_access_key_id": "aws_access_key_id", "aws_secret_access_key": "aws_secret_access_key"}


def _account_check(ctx: Context, t: str, account: str) -> Check:
    check = Check(
        id=f"{t}.account",
        observe="aws.caller",
        invariant=True,
        text=f"the AWS credentials in use belong to account {account}",
    )
    facts = observe_into(ctx, check, ["account"])
    if facts.get("account") != account:
        raise Skip(f"the AWS credentials in use are for account {facts.get('account')}, the finding is in {account}")
    return check


def _user_arn(ctx: Context, user: str) -> str:
    return str(act.client(ctx, "iam").get_user(UserName=user)["User"]["Arn"])


def _target(finding: Finding, identity: Identity | None) -> Target:
    return Target(
        finding_id=finding.id,
        rule_id=finding.rule_id,
        identity_uid=finding.identity.uid,
        identity_name=finding.identity.name,
        credential_uid=finding.credential.uid if finding.credential else None,
        credential_id=finding.credential.id if finding.credential else None,
        owner=identity.owner if identity else None,
    )


def rotate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    assert finding.credential is not None
    account, user = act.parse_uid(finding.identity.uid)
    key_id = finding.credential.id
    checks = [_account_check(ctx, t, account)]

    key_check = Check(
        id=f"{t}.key",
        observe="aws.access-key",
        params={"user": user, "key_id": key_id, "min_age_days": req.grace_days},
        invariant=True,
        until=f"{t}.delete",
        text=f"access key {key_id} exists on user {user}",
    )
    facts = observe_into(ctx, key_check, ["exists", "user", "created_at", "old_enough"])
    if not facts.get("exists"):
        raise Skip(f"access key {key_id} is not on user {user} (keys are matched by id only)")
    if not facts.get("old_enough"):
        raise Skip(
            f"access key {key_id} was created at {facts['created_at']}, inside the {req.grace_days}-day grace period"
        )
    if facts.get("status") != "Active":
        raise Skip(f"access key {key_id} is {facts.get('status')}: nothing to rotate")
    key_check.text = (
        f"access key {key_id} exists on user {user}, created at {facts['created_at']} "
        f"(older than {req.grace_days} days)"
    )
    status_check = Check(
        id=f"{t}.key-status",
        observe="aws.access-key",
        params={"user": user, "key_id": key_id},
        expect={"status": "Active"},
        text=f"access key {key_id} is Active",
    )
    keys_check = Check(id=f"{t}.user-keys", observe="aws.user-keys", params={"user": user}, text="")
    keys = observe_into(ctx, keys_check, ["key_ids"])["key_ids"]
    keys_check.text = f"user {user} has exactly the keys {', '.join(keys)}"
    if len(keys) >= 2:
        raise Skip(f"user {user} already has {len(keys)} access keys (the AWS limit is 2): delete the unused one first")
    checks += [key_check, status_check, keys_check]

    spec = req.deliver or known_location(req, finding.credential.uid, finding.credential.id)
    if spec is None:
        raise Skip("no delivery target: pass --deliver (the new secret is never printed)")
    delivery = plan_delivery(
        ctx,
        t,
        spec,
        fields=KEY_FIELDS,
        key_field="aws_access_key_id",
        key_id=f"${{{t}.create.access_key_id}}",
        current_key_id=key_id,
        secret_step=f"{t}.create",
    )
    checks.append(delivery.check)
    deliver_action, deliver_params = delivery.action, delivery.params
    deliver_call, deliver_rollback = delivery.api_call, delivery.rollback

    arn = _user_arn(ctx, user)
    group = f"{t}:rotate"
    new_key = f"${{{t}.create.access_key_id}}"
    steps = [
        Step(
            id=f"{t}.create",
            stage="create",
            group=group,
            action="aws.create-access-key",
            target=finding.identity.uid,
            api_call=f"iam:CreateAccessKey UserName={user}",
            params={"user": user, "known_key_ids": keys},
            rollback=f"iam:DeleteAccessKey UserName={user} AccessKeyId=<the new key>",
        ),
        Step(
            id=f"{t}.deliver",
            stage="deliver",
            group=group,
            action=deliver_action,
            target=spec,
            api_call=deliver_call,
            params=deliver_params,
            rollback=deliver_rollback,
            secret_from=f"{t}.create",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="aws.verify-access-key",
            target=finding.identity.uid,
            api_call=f"sts:GetCallerIdentity signed with the new key as read back from {spec}; expect {arn}",
            params={
                "user_arn": arn,
                "key_id": new_key,
                "read_from": {"action": deliver_action, "params": deliver_params},
            },
            rollback="none needed (read-only)",
        ),
        aws_deactivate_key_step(
            t,
            finding.credential.uid,
            user,
            key_id,
            group=group,
            requires=[
                Check(
                    id=f"{t}.new-key-active",
                    observe="aws.access-key",
                    params={"user": user, "key_id": new_key},
                    expect={"exists": True, "status": "Active"},
                    text="the new key exists and is Active",
                )
            ],
        ),
        aws_delete_old_key_step(t, finding.credential.uid, user, key_id, req.delete_after_days),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)


def offboard(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    account, user = act.parse_uid(finding.identity.uid)
    checks = [_account_check(ctx, t, account)]
    keys_check = Check(
        id=f"{t}.user-keys",
        observe="aws.user-keys",
        params={"user": user},
        invariant=False,
        text="",
    )
    facts = observe_into(ctx, keys_check, ["key_ids", "active_key_ids"])
    keys, active = facts["key_ids"], facts["active_key_ids"]
    keys_check.text = f"user {user} has keys {keys or 'none'} (active: {active or 'none'})"
    checks.append(keys_check)
    for key_id in keys:
        c = Check(
            id=f"{t}.key-{key_id}",
            observe="aws.access-key",
            params={"user": user, "key_id": key_id, "min_age_days": req.grace_days},
            invariant=True,
            until=f"{t}.delete-keys",
            text="",
        )
        kf = observe_into(ctx, c, ["exists", "created_at", "old_enough"])
        if not kf["old_enough"]:
            raise Skip(
                f"access key {key_id} was created at {kf['created_at']}, inside the {req.grace_days}-day grace period"
            )
        c.text = f"access key {key_id} exists on user {user}, created at {kf['created_at']}"
        checks.append(c)
    quarantine = Check(
        id=f"{t}.no-quarantine",
        observe="aws.user-policy",
        params={"user": user, "policy_name": act.QUARANTINE_POLICY},
        text=f"user {user} has no inline policy {act.QUARANTINE_POLICY} yet",
    )
    observe_into(ctx, quarantine, ["attached"])
    if quarantine.expect["attached"]:
        raise Skip(f"user {user} is already quarantined")
    checks.append(quarantine)

    steps, first_gate = notify_first(req, t, finding, identity)
    steps += [
        Step(
            id=f"{t}.disable-keys",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="aws.deactivate-user-keys",
            target=finding.identity.uid,
            api_call=f"iam:UpdateAccessKey UserName={user} Status=Inactive for {', '.join(active) or 'no key'}",
            params={"user": user, "key_ids": active},
            rollback="iam:UpdateAccessKey Status=Active for exactly the keys this step deactivated",
            not_before=first_gate,
        ),
        Step(
            id=f"{t}.quarantine",
            stage="disable",
            group=f"{t}:disable",
            manual=True,
            action="aws.attach-quarantine",
            target=finding.identity.uid,
            api_call=f"iam:PutUserPolicy UserName={user} PolicyName={act.QUARANTINE_POLICY} (Deny * on *)",
            params={"user": user, "policy_name": act.QUARANTINE_POLICY},
            rollback=f"iam:DeleteUserPolicy UserName={user} PolicyName={act.QUARANTINE_POLICY}",
        ),
        delete_after_step(
            t,
            "delete-keys",
            after="quarantine",
            days=req.delete_after_days,
            action="aws.delete-user-keys",
            target=finding.identity.uid,
            api_call=f"iam:DeleteAccessKey UserName={user} for {', '.join(keys) or 'no key'}",
            params={"user": user, "key_ids": keys},
            requires=[
                Check(
                    id=f"{t}.unused-{k}",
                    observe="aws.key-last-used",
                    params={"key_id": k, "since": f"${{{t}.disable-keys.at}}"},
                    expect={"used_after": False},
                    text=f"access key {k} was not used since the user was disabled",
                )
                for k in keys
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)


def _notify_step(req: PlanRequest, t: str, finding: Finding, identity: Identity | None, *, next_stage: str) -> Step:
    from ..notify import payload  # noqa: F401 - the action module must exist

    assert req.notify_webhook is not None
    shown = req.notify_webhook if req.notify_webhook.startswith("env:") else "<webhook URL>"
    return Step(
        id=f"{t}.notify",
        stage="notify",
        group=f"{t}:notify",
        action="notify.webhook",
        target=identity.owner if identity and identity.owner else finding.identity.uid,
        api_call=f"POST {shown} ({req.notify_format} payload: the finding, the owner, {next_stage} date)",
        params={
            "url": req.notify_webhook,
            "format": req.notify_format,
            "plan_id": None,
            "owner": identity.owner if identity else None,
            "next_stage": next_stage,
            "next_stage_in_days": req.notice_days,
            "finding": {
                "id": finding.id,
                "rule_id": finding.rule_id,
                "severity": finding.severity.value,
                "message": finding.message,
                "identity_uid": finding.identity.uid,
                "identity_name": finding.identity.name,
                "credential_id": finding.credential.id if finding.credential else None,
            },
        },
        rollback="none needed (a message cannot be recalled)",
    )
