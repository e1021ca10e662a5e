"""Vault/OpenBao actions and checks: reversible offboarding of an AppRole, and destroying its secret-ids.

Disable = the role's identity entity is set ``disabled`` (its tokens stop working and logins are denied;
both verified against OpenBao). A role that never logged in has no entity yet: one is created disabled,
with an alias for the role_id, so the next login is denied too; the rollback deletes it again. Nothing
secret is read: role ids and secret-id accessors are public identifiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..actions import Action, Context, StepError, action, get_action, observer
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


# -- secret-id rotation --------------------------------------------------------------------------


@observer("vault.secret-id")
def observe_secret_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        info = (
            vault(ctx)
            .request(
                "POST",
                f"auth/{params['mount']}/role/{params['role']}/secret-id-accessor/lookup",
                {"secret_id_accessor": params["accessor"]},
            )
            .get("data")
        )
    except VaultError as exc:
        if exc.status in (400, 404):
            return {"exists": False}
        raise
    if not info:
        return {"exists": False}
    created = datetime.fromisoformat(str(info.get("creation_time")).replace("Z", "+00:00"))
    return {
        "exists": True,
        "created_at": info.get("creation_time"),
        "old_enough": created <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
    }


@observer("vault.role-config")
def observe_role_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    data = vault(ctx).request("GET", f"auth/{params['mount']}/role/{params['role']}").get("data") or {}
    return {
        "secret_id_num_uses": int(data.get("secret_id_num_uses") or 0),
        "role_id": _role_id(ctx, params["mount"], params["role"]),
    }


def _label(ctx: Context, step_id: str) -> str:
    return f"nhiwarden {ctx.plan.id} {step_id}"


@action
class CreateSecretId(Action):
    name = "vault.create-secret-id"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        import json

        resp = vault(ctx).request(
            "POST",
            f"auth/{params['mount']}/role/{params['role']}/secret-id",
            {"metadata": json.dumps({"created_by": _label(ctx, ctx.current)})},
        )
        data = resp.get("data") or {}
        accessor = str(data["secret_id_accessor"])
        ctx.keep_secret(
            ctx.current,
            {"role_id": params["role_id"], "secret_id": str(data["secret_id"]), "secret_id_accessor": accessor},
        )
        return {"accessor": accessor}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _destroy(ctx, params["mount"], params["role"], outputs["accessor"])

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """Destroy a secret-id the crashed create made (recognised by its metadata): its value is lost."""
        known = set(params.get("known_accessors", []))
        for item in _accessors(ctx, params["mount"], params["role"]):
            if item["accessor"] in known:
                continue
            info = (
                vault(ctx)
                .request(
                    "POST",
                    f"auth/{params['mount']}/role/{params['role']}/secret-id-accessor/lookup",
                    {"secret_id_accessor": item["accessor"]},
                )
                .get("data")
                or {}
            )
            if (info.get("metadata") or {}).get("created_by") == _label(ctx, step_id):
                _destroy(ctx, params["mount"], params["role"], item["accessor"])
        return None


def _destroy(ctx: Context, mount: str, role: str, accessor: str) -> None:
    try:
        vault(ctx).request(
            "POST", f"auth/{mount}/role/{role}/secret-id-accessor/destroy", {"secret_id_accessor": accessor}
        )
    except VaultError as exc:
        if exc.status not in (400, 404):
            raise


@action
class VerifySecretId(Action):
    """Log in with the delivered role_id + secret_id, then revoke the token that login created."""

    name = "vault.verify-secret-id"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        import httpx
        from nhiwarden.redact import register_secret

        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        if fields.get("secret_id_accessor") != params["accessor"]:
            raise StepError(f"the delivery target holds secret-id {fields.get('secret_id_accessor')}")
        if params.get("uses_limited"):
            return {"verified_by": "accessor lookup (the role limits secret-id uses: no test login)"}
        client = vault(ctx)
        resp = httpx.post(
            f"{client.addr}/v1/auth/{params['mount']}/login",
            json={"role_id": fields.get("role_id"), "secret_id": fields.get("secret_id")},
            timeout=30.0,
        )
        if resp.status_code != 200:
            raise StepError(f"AppRole login with the new secret-id failed: HTTP {resp.status_code}")
        token = str(resp.json()["auth"]["client_token"])
        register_secret(token)
        httpx.post(f"{client.addr}/v1/auth/token/revoke-self", headers={"X-Vault-Token": token}, timeout=30.0)
        return {"verified_by": "approle login"}


@action
class DestroySecretId(Action):
    name = "vault.destroy-secret-id"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _destroy(ctx, params["mount"], params["role"], params["accessor"])
        return {"destroyed": params["accessor"]}


# -- periodic token rotation ---------------------------------------------------------------------


def _lookup_accessor(ctx: Context, accessor: str) -> dict[str, Any] | None:
    try:
        data = vault(ctx).request("POST", "auth/token/lookup-accessor", {"accessor": accessor}).get("data")
    except VaultError as exc:
        if exc.status in (400, 403, 404):  # "invalid accessor"
            return None
        raise
    return dict(data) if data else None


@observer("vault.token")
def observe_token(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    info = _lookup_accessor(ctx, params["accessor"])
    if info is None:
        return {"exists": False}
    created = datetime.fromtimestamp(int(info.get("creation_time") or 0), tz=ctx.now.tzinfo)
    return {
        "exists": True,
        "policies": sorted(p for p in info.get("policies") or [] if p != "default"),
        "period": int(info.get("period") or 0),
        "orphan": bool(info.get("orphan")),
        "display_name": info.get("display_name"),
        "created_at": created.isoformat(),
        "old_enough": created <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
    }


@action
class CreateToken(Action):
    """A new periodic token with the old one's policies, period and orphan status."""

    name = "vault.create-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        path = "auth/token/create-orphan" if params["orphan"] else "auth/token/create"
        body = {
            "policies": params["policies"],
            "period": f"{int(params['period'])}s",
            "display_name": params.get("display_name") or "nhiwarden-rotated",
            "meta": {"created_by": _label(ctx, ctx.current)},
        }
        auth = vault(ctx).request("POST", path, body).get("auth") or {}
        ctx.keep_secret(ctx.current, {"token": str(auth["client_token"]), "token_accessor": str(auth["accessor"])})
        return {"accessor": str(auth["accessor"])}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _revoke(ctx, outputs["accessor"])


def _revoke(ctx: Context, accessor: str) -> None:
    try:
        vault(ctx).request("POST", "auth/token/revoke-accessor", {"accessor": accessor})
    except VaultError as exc:
        if exc.status not in (400, 404):
            raise


@action
class VerifyToken(Action):
    name = "vault.verify-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        import httpx

        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        client = vault(ctx)
        resp = httpx.get(
            f"{client.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": fields.get("token", "")}, timeout=30
        )
        if resp.status_code != 200:
            raise StepError(f"lookup-self with the delivered token failed: HTTP {resp.status_code}")
        accessor = (resp.json().get("data") or {}).get("accessor")
        if accessor != params["accessor"]:
            raise StepError(f"the delivered token has accessor {accessor}, expected {params['accessor']}")
        return {"verified_by": "lookup-self"}


@action
class RevokeToken(Action):
    name = "vault.revoke-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _revoke(ctx, params["accessor"])
        return {"revoked": params["accessor"]}


# -- token offboarding ---------------------------------------------------------------------------


@observer("vault.token-entity")
def observe_token_entity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    info = _lookup_accessor(ctx, params["accessor"])
    if info is None:
        return {"exists": False, "entity_id": None, "entity_disabled": None}
    entity_id = info.get("entity_id") or None
    disabled = None
    if entity_id:
        entity = vault(ctx).request("GET", f"identity/entity/id/{entity_id}").get("data") or {}
        disabled = bool(entity.get("disabled"))
    return {"exists": True, "entity_id": entity_id, "entity_disabled": disabled}


@action
class DisableEntity(Action):
    """Disable an identity entity: every token of it stops working, nothing is revoked (reversible)."""

    name = "vault.disable-entity"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        vault(ctx).request("POST", f"identity/entity/id/{params['entity_id']}", {"disabled": True})
        return {"entity_id": params["entity_id"]}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        vault(ctx).request("POST", f"identity/entity/id/{params['entity_id']}", {"disabled": False})
