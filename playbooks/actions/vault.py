"""Vault/OpenBao actions and checks: reversible offboarding of an AppRole, and destroying its secret-ids.

Disable = the role's identity entity is set ``disabled`` (its tokens stop working and logins are denied;
both verified against OpenBao). A role that never logged in has no entity yet: one is created disabled,
with an alias for the role_id, so the next login is denied too; the rollback deletes it again. Nothing
secret is read: role ids and secret-id accessors are public identifiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..actions import Action, Context, StepError, action, observer
from ..vaultapi import VaultError, vault


def parse_uid(uid: str) -> tuple[str, str, str]:
    """``vault:<addr>[/<ns>]:auth/<mount>/role/<name>`` -> (addr part, mount, role)."""
    head, sep, tail = uid.rpartition(":auth/")
    mount, marker, role = tail.partition("/role/")
    if not sep or not head.startswith("vault:") or not marker or not role:
        raise StepError(f"not a Vault AppRole identity: {uid}")
    return head[len("vault:") :], mount, role


def _mount_accessor(ctx: Context, mount: str) -> str:
    auths = vault(ctx).request("GET", "sys/auth").get("data") or {}
    entry = auths.get(f"{mount}/")
    if not entry:
        raise StepError(f"auth mount {mount}/ not found")
    return str(entry["accessor"])


def _role_id(ctx: Context, mount: str, role: str) -> str | None:
    try:
        data = vault(ctx).request("GET", f"auth/{mount}/role/{role}/role-id").get("data") or {}
    except VaultError as exc:
        if exc.status == 404:
            return None
        raise
    return str(data.get("role_id")) if data.get("role_id") else None


def _entity(ctx: Context, mount: str, role_id: str) -> dict[str, Any] | None:
    resp = vault(ctx).request(
        "POST", "identity/lookup/entity", {"alias_name": role_id, "alias_mount_accessor": _mount_accessor(ctx, mount)}
    )
    data = resp.get("data")
    return dict(data) if data else None


def _accessors(ctx: Context, mount: str, role: str) -> list[dict[str, Any]]:
    try:
        keys = vault(ctx).request("LIST", f"auth/{mount}/role/{role}/secret-id").get("data", {}).get("keys") or []
    except VaultError as exc:
        if exc.status == 404:
            return []
        raise
    out = []
    for accessor in keys:
        info = (
            vault(ctx)
            .request("POST", f"auth/{mount}/role/{role}/secret-id-accessor/lookup", {"secret_id_accessor": accessor})
            .get("data")
            or {}
        )
        out.append({"accessor": accessor, "creation_time": info.get("creation_time")})
    return out


@observer("vault.approle")
def observe_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role_id = _role_id(ctx, params["mount"], params["role"])
    entity = _entity(ctx, params["mount"], role_id) if role_id else None
    return {
        "exists": role_id is not None,
        "role_id": role_id,
        "entity_id": entity.get("id") if entity else None,
        "entity_disabled": bool(entity.get("disabled")) if entity else False,
    }


@observer("vault.approle-secret-ids")
def observe_secret_ids(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    items = _accessors(ctx, params["mount"], params["role"])
    cutoff = ctx.now - timedelta(days=float(params.get("min_age_days", 0)))
    young = [
        i["accessor"]
        for i in items
        if i["creation_time"] and datetime.fromisoformat(str(i["creation_time"]).replace("Z", "+00:00")) > cutoff
    ]
    return {"accessors": sorted(i["accessor"] for i in items), "young": sorted(young), "all_old_enough": not young}


@action
class DisableApproleEntity(Action):
    name = "vault.disable-approle-entity"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, role, role_id = params["mount"], params["role"], params["role_id"]
        entity = _entity(ctx, mount, role_id)
        client = vault(ctx)
        if entity:
            client.request("POST", f"identity/entity/id/{entity['id']}", {"disabled": True})
            return {"entity_id": entity["id"], "created": False, "was_disabled": bool(entity.get("disabled"))}
        created = client.request(
            "POST", "identity/entity", {"name": f"nhiwarden-quarantine-{mount}-{role}", "disabled": True}
        )
        entity_id = str((created.get("data") or {})["id"])
        client.request(
            "POST",
            "identity/entity-alias",
            {"name": role_id, "canonical_id": entity_id, "mount_accessor": _mount_accessor(ctx, mount)},
        )
        return {"entity_id": entity_id, "created": True, "was_disabled": False}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        entity_id = outputs["entity_id"]
        if outputs.get("created"):
            vault(ctx).request("DELETE", f"identity/entity/id/{entity_id}")
        elif not outputs.get("was_disabled"):
            vault(ctx).request("POST", f"identity/entity/id/{entity_id}", {"disabled": False})

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        entity = _entity(ctx, params["mount"], params["role_id"])
        if entity and entity.get("disabled"):
            created = str(entity.get("name", "")).startswith("nhiwarden-quarantine-")
            return {"entity_id": entity["id"], "created": created, "was_disabled": False}
        return None


@action
class DestroySecretIds(Action):
    """Destroy exactly the secret-ids the plan listed (by accessor); irreversible."""

    name = "vault.destroy-secret-ids"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, role = params["mount"], params["role"]
        for accessor in params["accessors"]:
            try:
                vault(ctx).request(
                    "POST", f"auth/{mount}/role/{role}/secret-id-accessor/destroy", {"secret_id_accessor": accessor}
                )
            except VaultError as exc:
                if exc.status not in (400, 404):  # already gone
                    raise
        return {"destroyed": list(params["accessors"])}
