"""AWS IAM actions and checks: access-key rotation (create, verify, deactivate, delete) and offboarding.

Every key is named by its AccessKeyId and looked up with ``ListAccessKeys`` on its user: never matched
by timestamp or position. The secret of a new key is registered with ``nhiwarden.redact`` the moment
it arrives and handed to the delivery step in memory only. Imports boto3 lazily.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.redact import redact, register_secret

from . import Action, Context, StepError, action, get_action, observer

QUARANTINE_POLICY = "nhiwarden-quarantine"
DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NhiwardenQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
# New IAM keys take a few seconds to work everywhere (eventual consistency): verification retries.
VERIFY_ATTEMPTS = 8
VERIFY_DELAY_S = 2.0


def _config() -> Any:
    from botocore.config import Config as BotoConfig

    return BotoConfig(retries={"max_attempts": 4, "mode": "standard"}, user_agent_extra="nhiwarden-playbook")


_SESSIONS: dict[tuple[str | None, str, str | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def session(ctx: Context) -> Any:
    """One boto3 Session per profile and region for the process: its loaded API models are reused."""
    import boto3

    conn = ctx.connection("aws")
    # Keyed by the environment's access key id too, so a change of credentials gets a new session.
    key = (conn.get("profile"), conn.get("region") or "us-east-1", os.environ.get("AWS_ACCESS_KEY_ID"))
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = boto3.Session(profile_name=key[0], region_name=key[1])
        return _SESSIONS[key]


def client(ctx: Context, service: str, **credentials: Any) -> Any:
    """A client on the shared session; ``credentials`` (e.g. a new key to verify) are never cached."""

    def make() -> Any:
        conn = ctx.connection("aws")
        kwargs: dict[str, Any] = {"config": _config(), **credentials}
        if conn.get("endpoint_url"):
            kwargs["endpoint_url"] = conn["endpoint_url"]
        shared = session(ctx)
        with _SESSIONS_LOCK:  # boto3 sessions are not thread-safe while creating clients
            return shared.client(service, **kwargs)

    if credentials:
        return make()
    return ctx.cached(f"aws:{service}", make)


def error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def iso(value: datetime) -> str:
    """Whole seconds, UTC: moto has microseconds, AWS does not; the plan compares like with like."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_uid(uid: str) -> tuple[str, str]:
    """``aws:<account>:user/<name>`` -> (account, user name)."""
    parts = uid.split(":", 2)
    if len(parts) != 3 or parts[0] != "aws" or not parts[2].startswith("user/"):
        raise StepError(f"not an IAM user identity: {uid}")
    return parts[1], parts[2].rsplit("/", 1)[-1]


def list_keys(ctx: Context, user: str) -> list[dict[str, Any]]:
    iam = client(ctx, "iam")
    out: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_access_keys").paginate(UserName=user):
        out.extend(page.get("AccessKeyMetadata", []))
    return out


def _fail(what: str, exc: Exception) -> StepError:
    return StepError(f"{what}: {redact(exc)}")


# -- checks --------------------------------------------------------------------------------------


@observer("aws.caller")
def observe_caller(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ident = client(ctx, "sts").get_caller_identity()
    return {"account": ident.get("Account")}


@observer("aws.access-key")
def observe_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The key with exactly this AccessKeyId on this user (never matched by date or position)."""
    user, key_id = params["user"], params["key_id"]
    try:
        keys = list_keys(ctx, user)
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return {"exists": False, "user": None}
        raise _fail(f"ListAccessKeys {user}", exc) from None
    for key in keys:
        if key["AccessKeyId"] == key_id:
            created = key["CreateDate"]
            min_age = float(params.get("min_age_days", 0))
            return {
                "exists": True,
                "user": key.get("UserName", user),
                "status": key["Status"],
                "created_at": iso(created),
                "old_enough": created <= ctx.now - timedelta(days=min_age),
            }
    return {"exists": False, "user": None}


@observer("aws.user-keys")
def observe_user_keys(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    keys = list_keys(ctx, params["user"])
    return {
        "key_ids": sorted(k["AccessKeyId"] for k in keys),
        "active_key_ids": sorted(k["AccessKeyId"] for k in keys if k["Status"] == "Active"),
    }


@observer("aws.key-last-used")
def observe_last_used(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Whether the key signed a request after ``since`` (e.g. after it was deactivated)."""
    resp = client(ctx, "iam").get_access_key_last_used(AccessKeyId=params["key_id"])
    used = resp.get("AccessKeyLastUsed", {}).get("LastUsedDate")
    since = datetime.fromisoformat(str(params["since"]).replace("Z", "+00:00"))
    return {"used_after": bool(used and used > since), "last_used_at": iso(used) if used else None}


@observer("aws.user-policy")
def observe_user_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = client(ctx, "iam").list_user_policies(UserName=params["user"]).get("PolicyNames", [])
    return {"attached": params["policy_name"] in names}


# -- rotation ------------------------------------------------------------------------------------


@action
class CreateAccessKey(Action):
    name = "aws.create-access-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            key = client(ctx, "iam").create_access_key(UserName=params["user"])["AccessKey"]
        except Exception as exc:
            raise _fail(f"CreateAccessKey {params['user']}", exc) from None
        register_secret(key["SecretAccessKey"])
        ctx.keep_secret(
            ctx.current,
            {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]},
        )
        return {"access_key_id": key["AccessKeyId"], "created_at": iso(key["CreateDate"])}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _delete_key(ctx, params["user"], outputs["access_key_id"])

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """The process died during CreateAccessKey: a key it created is useless (its secret is gone).

        A key on the user that was not there when the plan was made and not created by another step
        of this plan is ours only if there is exactly one; it is deleted and the step runs again. More
        than one unknown key means someone else is changing the user: refuse.
        """
        known = set(params.get("known_key_ids", []))
        known |= {o.get("access_key_id") for o in ctx.outputs.values() if o.get("access_key_id")}
        unknown = [k["AccessKeyId"] for k in list_keys(ctx, params["user"]) if k["AccessKeyId"] not in known]
        if len(unknown) > 1:
            raise StepError(f"user {params['user']} has {len(unknown)} unexpected keys; resolve by hand")
        if unknown:
            _delete_key(ctx, params["user"], unknown[0])
            if ctx.journal is not None:
                ctx.journal.append(
                    "rolled-back",
                    step=step_id,
                    stage="create",
                    outputs={"access_key_id": unknown[0], "reason": "secret lost in interrupted apply"},
                    now=ctx.now,
                )
        return None


def _delete_key(ctx: Context, user: str, key_id: str) -> None:
    try:
        client(ctx, "iam").delete_access_key(UserName=user, AccessKeyId=key_id)
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise _fail(f"DeleteAccessKey {key_id}", exc) from None


@action
class VerifyAccessKey(Action):
    """Call sts:GetCallerIdentity with the new key as its consumers will read it."""

    name = "aws.verify-access-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        source = params["read_from"]
        delivery = get_action(source["action"])
        fields = delivery.read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        key_id = fields.get("aws_access_key_id")
        if key_id != params["key_id"]:
            raise StepError(f"delivery target holds key {key_id}, expected {params['key_id']}")
        sts = client(
            ctx,
            "sts",
            aws_access_key_id=key_id,
            aws_secret_access_key=fields.get("aws_secret_access_key"),
            aws_session_token=None,
        )
        last: Exception | None = None
        for attempt in range(VERIFY_ATTEMPTS):
            try:
                arn = sts.get_caller_identity()["Arn"]
                break
            except Exception as exc:
                last = exc
                if (
                    error_code(exc) not in ("InvalidClientTokenId", "SignatureDoesNotMatch")
                    or attempt == VERIFY_ATTEMPTS - 1
                ):
                    raise _fail(f"sts:GetCallerIdentity with new key {key_id}", exc) from None
                ctx.sleep(VERIFY_DELAY_S)
        else:  # pragma: no cover - loop always breaks or raises
            raise _fail("sts:GetCallerIdentity", last or Exception("no attempt"))
        if arn != params["user_arn"]:
            raise StepError(f"new key {key_id} authenticates as {arn}, expected {params['user_arn']}")
        return {"arn": arn, "verified_key_id": key_id}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


@action
class SetAccessKeyStatus(Action):
    name = "aws.set-access-key-status"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        self._set(ctx, params["user"], params["key_id"], params["status"])
        return {"key_id": params["key_id"], "status": params["status"], "at": iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        back = "Active" if params["status"] == "Inactive" else "Inactive"
        self._set(ctx, params["user"], params["key_id"], back)

    @staticmethod
    def _set(ctx: Context, user: str, key_id: str, status: str) -> None:
        try:
            client(ctx, "iam").update_access_key(UserName=user, AccessKeyId=key_id, Status=status)
        except Exception as exc:
            raise _fail(f"UpdateAccessKey {key_id} {status}", exc) from None


@action
class DeleteAccessKey(Action):
    name = "aws.delete-access-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _delete_key(ctx, params["user"], params["key_id"])
        return {"deleted_key_id": params["key_id"], "at": iso(ctx.now)}

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        keys = {k["AccessKeyId"] for k in list_keys(ctx, params["user"])}
        return None if params["key_id"] in keys else {"deleted_key_id": params["key_id"], "at": iso(ctx.now)}


# -- offboarding ---------------------------------------------------------------------------------


@action
class DeactivateUserKeys(Action):
    """Deactivate the user's active keys, recording which, so a rollback reactivates exactly those."""

    name = "aws.deactivate-user-keys"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        active = [k["AccessKeyId"] for k in list_keys(ctx, params["user"]) if k["Status"] == "Active"]
        active = [k for k in active if k in set(params["key_ids"])]
        done: list[str] = []
        try:
            for key_id in active:
                SetAccessKeyStatus._set(ctx, params["user"], key_id, "Inactive")
                done.append(key_id)
        except Exception:
            for key_id in done:
                SetAccessKeyStatus._set(ctx, params["user"], key_id, "Active")
            raise
        return {"deactivated": done, "at": iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        for key_id in outputs.get("deactivated", []):
            SetAccessKeyStatus._set(ctx, params["user"], key_id, "Active")


@action
class AttachQuarantine(Action):
    name = "aws.attach-quarantine"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            client(ctx, "iam").put_user_policy(
                UserName=params["user"], PolicyName=params["policy_name"], PolicyDocument=json.dumps(DENY_ALL)
            )
        except Exception as exc:
            raise _fail(f"PutUserPolicy {params['policy_name']}", exc) from None
        return {"policy_name": params["policy_name"]}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        try:
            client(ctx, "iam").delete_user_policy(UserName=params["user"], PolicyName=params["policy_name"])
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise _fail(f"DeleteUserPolicy {params['policy_name']}", exc) from None


@action
class DeleteUserKeys(Action):
    name = "aws.delete-user-keys"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        for key_id in params["key_ids"]:
            _delete_key(ctx, params["user"], key_id)
        return {"deleted": list(params["key_ids"]), "at": iso(ctx.now)}
