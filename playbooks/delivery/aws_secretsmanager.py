"""Deliver a new secret into AWS Secrets Manager (a JSON secret), and roll it back by version stage.

The write checks that AWSCURRENT is still the version the plan saw, keeps the JSON keys the rotation
does not own, and uses a ClientRequestToken derived from the plan step (a retried write is idempotent).
The rollback moves AWSCURRENT back to the previous version: no secret value is needed for it. Values
read are registered with ``nhiwarden.redact``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from nhiwarden.redact import register_secret

from ..actions import PUBLIC_FIELDS, Context, Delivery, StepError, action, observer
from ..actions.aws import client, error_code


def _current(ctx: Context, secret_id: str) -> str | None:
    try:
        desc = client(ctx, "secretsmanager").describe_secret(SecretId=secret_id)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    for version, stages in (desc.get("VersionIdsToStages") or {}).items():
        if "AWSCURRENT" in stages:
            return str(version)
    return None


def _value(ctx: Context, secret_id: str) -> dict[str, Any]:
    resp = client(ctx, "secretsmanager").get_secret_value(SecretId=secret_id)
    text = resp.get("SecretString") or "{}"
    register_secret(text)
    try:
        data = json.loads(text)
    except ValueError:
        raise StepError(f"secret {secret_id} is not a JSON object: not overwriting it") from None
    if not isinstance(data, dict):
        raise StepError(f"secret {secret_id} is not a JSON object: not overwriting it")
    for key, value in data.items():
        if isinstance(value, str) and key not in PUBLIC_FIELDS:
            register_secret(value)
    return data


@observer("aws-secretsmanager.secret")
def observe_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    current = _current(ctx, params["secret_id"])
    return {"exists": current is not None, "current_version": current}


@action
class SecretsManagerWrite(Delivery):
    name = "aws-secretsmanager.write"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        secret = ctx.secret(params["secret_step"])
        sid, planned = params["secret_id"], params.get("current_version")
        current = _current(ctx, sid)
        if current != planned:
            raise StepError(f"secret {sid} AWSCURRENT is {current}, the plan expects {planned}: not overwriting")
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nhiwarden:{ctx.plan.id}:{ctx.current}"))
        sm = client(ctx, "secretsmanager")
        data = _value(ctx, sid) if current else {}
        data.update({kf: secret[sf] for kf, sf in params["fields"].items()})
        body = json.dumps(data)
        register_secret(body)
        if current is None:
            resp = sm.create_secret(Name=sid, SecretString=body, ClientRequestToken=token)
        else:
            resp = sm.put_secret_value(SecretId=sid, SecretString=body, ClientRequestToken=token)
        return {"version": resp["VersionId"], "previous_version": current}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        sid = params["secret_id"]
        sm = client(ctx, "secretsmanager")
        if outputs.get("previous_version") is None:
            sm.delete_secret(SecretId=sid, ForceDeleteWithoutRecovery=True)
            return
        if _current(ctx, sid) != outputs["version"]:
            raise StepError(f"secret {sid} changed after delivery: not restoring")
        # Write the previous version's value back as the new AWSCURRENT (like a KV rollback). Moving the
        # stage label instead would be enough on AWS, but moto keeps serving the moved-away version.
        previous = sm.get_secret_value(SecretId=sid, VersionId=outputs["previous_version"])["SecretString"]
        register_secret(previous)
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nhiwarden:{ctx.plan.id}:{ctx.current}:rollback"))
        sm.put_secret_value(SecretId=sid, SecretString=previous, ClientRequestToken=token)

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        current = _current(ctx, params["secret_id"])
        if current is None or not params.get("key_field"):
            return None
        if _value(ctx, params["secret_id"]).get(params["key_field"]) == params.get("key_id"):
            return {"version": current, "previous_version": params.get("current_version")}
        return None

    def read_back(self, ctx: Context, params: dict[str, Any]) -> dict[str, str]:
        data = _value(ctx, params["secret_id"])
        return {sf: str(data.get(kf, "")) for kf, sf in params["fields"].items()}
