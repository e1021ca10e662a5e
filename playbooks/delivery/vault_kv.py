"""Deliver a new secret into Vault/OpenBao KV v2 with check-and-set, and roll it back.

The write names the version the plan saw (``options.cas``): if anyone wrote the secret since, Vault
refuses and nothing is overwritten. Fields of the secret that the rotation does not own (e.g. region)
are kept. The rollback writes the previous version's data back as a new version, again with
check-and-set, so a write by someone else after the rotation is never clobbered. Values read (old and
new secrets) are registered with ``nhiwarden.redact`` and kept in memory only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nhiwarden.redact import register_secret

from ..actions import PUBLIC_FIELDS, Context, Delivery, StepError, action, observer
from ..vaultapi import VaultError, vault


def _split(params: dict[str, Any]) -> tuple[str, str]:
    return str(params["mount"]).strip("/"), str(params["path"]).strip("/")


def read_current(ctx: Context, params: dict[str, Any], version: int | None = None) -> tuple[dict[str, Any], int]:
    """(data, version) of the secret; ({}, 0) when it does not exist."""
    mount, path = _split(params)
    suffix = f"?version={version}" if version else ""
    try:
        resp = vault(ctx).request("GET", f"{mount}/data/{path}{suffix}")
    except VaultError as exc:
        if exc.status == 404:
            return {}, 0
        raise
    body = resp.get("data") or {}
    data = dict(body.get("data") or {})
    for name, value in data.items():
        if isinstance(value, str) and name not in PUBLIC_FIELDS:
            register_secret(value)
    return data, int((body.get("metadata") or {}).get("version") or 0)


def current_version(ctx: Context, params: dict[str, Any]) -> int:
    mount, path = _split(params)
    try:
        meta = vault(ctx).request("GET", f"{mount}/metadata/{path}").get("data") or {}
    except VaultError as exc:
        if exc.status == 404:
            return 0
        raise
    return int(meta.get("current_version") or 0)


@observer("vault-kv.secret")
def observe_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    data, version = read_current(ctx, params)
    key_field = str(params.get("key_field") or "")
    return {
        "exists": version > 0,
        "version": version,
        "holds_key_id": bool(key_field) and data.get(key_field) == params.get("key_id"),
        "key_field_present": bool(key_field) and key_field in data,
    }


@action
class VaultKvWrite(Delivery):
    name = "vault-kv.write"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, path = _split(params)
        secret = ctx.secret(params["secret_step"])
        data, version = read_current(ctx, params)
        cas = int(params["cas"])
        if version != cas:
            raise StepError(f"{mount}/{path} is at version {version}, the plan expects {cas}: not overwriting")
        for kv_field, secret_field in params["fields"].items():
            data[kv_field] = secret[secret_field]
        resp = vault(ctx).request("POST", f"{mount}/data/{path}", {"data": data, "options": {"cas": cas}})
        new_version = int((resp.get("data") or {}).get("version") or 0)
        meta = vault(ctx).request("GET", f"{mount}/metadata/{path}").get("data") or {}
        custom = dict(meta.get("custom_metadata") or {})
        stamp = {
            "rotated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "rotated_by": f"nhiwarden plan {ctx.plan.id}",
            "key_id": params.get("key_id"),
            "previous_key_id": params.get("previous_key_id"),
        }
        custom.update({k: str(v) for k, v in stamp.items() if v})  # Vault rejects empty values
        vault(ctx).request("POST", f"{mount}/metadata/{path}", {"custom_metadata": custom})
        return {"version": new_version, "previous_version": cas, "location": f"vault-kv:{mount}/{path}"}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        mount, path = _split(params)
        ours, previous = int(outputs["version"]), int(outputs["previous_version"])
        now = current_version(ctx, params)
        if now != ours:
            raise StepError(f"{mount}/{path} changed after delivery (version {now}, ours {ours}): not restoring")
        if previous == 0:
            vault(ctx).request("DELETE", f"{mount}/metadata/{path}")
            return
        data, _ = read_current(ctx, params, version=previous)
        vault(ctx).request("POST", f"{mount}/data/{path}", {"data": data, "options": {"cas": ours}})

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        data, version = read_current(ctx, params)
        key_field = params.get("key_field")
        if key_field and params.get("key_id") and data.get(key_field) == params["key_id"]:
            mount, path = _split(params)
            return {"version": version, "previous_version": int(params["cas"]), "location": f"vault-kv:{mount}/{path}"}
        return None

    def read_back(self, ctx: Context, params: dict[str, Any]) -> dict[str, str]:
        data, _ = read_current(ctx, params)
        return {secret_field: str(data.get(kv_field, "")) for kv_field, secret_field in params["fields"].items()}
