"""Vault/OpenBao actions and checks of the ``migrate`` playbook: long-lived token -> AppRole.

Ensures an AppRole auth mount and a role whose tokens carry the old token's policies with bounded
``token_ttl``/``token_max_ttl`` and whose secret-ids expire (``secret_id_ttl``); issues one secret-id
(held in memory and handed to the delivery step, never persisted), verifies a real login with the
delivered credentials (the login token's TTL and policies are checked, then the token is revoked),
and finally revokes the old token by accessor. Static cloud/database keys held in KV move to the
matching dynamic secrets engine (``vaultfed.secrets-engine`` checks ``sys/mounts`` and the plugin
catalog; ``ensure-secrets-mount``/``ensure-engine-path`` configure it; admin passwords come from the
environment at apply time only). Every ensure changes only what differs and reports what
it changed, so reapplying changes nothing and a rollback undoes exactly this plan's changes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from nhiwarden.redact import register_secret

from ..vaultapi import VaultClient, VaultError, vault
from . import Action, Context, StepError, action, get_action, observer

ROLE_FIELDS = (
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "secret_id_ttl",
    "secret_id_num_uses",
    "bind_secret_id",
    "token_type",
    "token_no_default_policy",
)


def _mount(params: dict[str, Any]) -> str:
    return str(params["mount"]).strip("/")


def read_role(ctx: Context, mount: str, role: str) -> dict[str, Any] | None:
    try:
        data = vault(ctx).request("GET", f"auth/{mount}/role/{role}").get("data")
    except VaultError as exc:
        if exc.status == 404:
            return None
        raise
    return dict(data) if data is not None else None


def role_matches(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key in ROLE_FIELDS:
        got, want = live.get(key), wanted.get(key)
        if key == "token_policies":
            got, want = sorted(got or []), sorted(want or [])
        if got != want:
            return False
    return True


@observer("vaultfed.auth-mount")
def observe_mount(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    auths = vault(ctx).request("GET", "sys/auth").get("data") or {}
    entry = auths.get(f"{_mount(params)}/")
    return {"exists": entry is not None, "type": (entry or {}).get("type")}


@observer("vaultfed.role")
def observe_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    auths = vault(ctx).request("GET", "sys/auth").get("data") or {}
    if f"{_mount(params)}/" not in auths:
        return {"exists": False, "matches": False}
    live = read_role(ctx, _mount(params), params["role"])
    return {"exists": live is not None, "matches": live is not None and role_matches(live, params["settings"])}


@observer("vaultfed.token")
def observe_token(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        data = vault(ctx).request("POST", "auth/token/lookup-accessor", {"accessor": params["accessor"]}).get("data")
    except VaultError as exc:
        if exc.status in (400, 403, 404):
            return {"exists": False, "policies": None}
        raise
    return {"exists": True, "policies": sorted((data or {}).get("policies") or [])}


@action
class EnsureAuthMount(Action):
    name = "vaultfed.ensure-auth-mount"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        facts = observe_mount(ctx, params)
        if facts["exists"]:
            if facts["type"] != params["type"]:
                raise StepError(f"auth/{_mount(params)} is a {facts['type']} mount, not {params['type']}")
            return {"created": False}
        vault(ctx).request(
            "POST",
            f"sys/auth/{_mount(params)}",
            {"type": params["type"], "description": f"nhiwarden plan {ctx.plan.id}"},
        )
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            vault(ctx).request("DELETE", f"sys/auth/{_mount(params)}")


@action
class EnsureAppRole(Action):
    name = "vaultfed.ensure-approle"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, role = _mount(params), params["role"]
        live = read_role(ctx, mount, role)
        if live is not None:
            if not role_matches(live, params["settings"]):
                raise StepError(f"AppRole {role} on auth/{mount} exists with other settings: not changing it")
            return {"created": False}
        vault(ctx).request("POST", f"auth/{mount}/role/{role}", dict(params["settings"]))
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            try:
                vault(ctx).request("DELETE", f"auth/{_mount(params)}/role/{params['role']}")
            except VaultError as exc:
                if exc.status != 404:
                    raise


@action
class CreateSecretId(Action):
    """Issue one secret-id; it and the role id live in memory only, for the delivery step."""

    name = "vaultfed.create-secret-id"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, role = _mount(params), params["role"]
        client = vault(ctx)
        role_id = str((client.request("GET", f"auth/{mount}/role/{role}/role-id").get("data") or {})["role_id"])
        meta = {"nhiwarden_plan": ctx.plan.id, "migrated_from": str(params.get("migrated_from") or "")}
        data = (
            client.request("POST", f"auth/{mount}/role/{role}/secret-id", {"metadata": json.dumps(meta)}).get("data")
            or {}
        )
        secret_id = str(data["secret_id"])
        register_secret(secret_id)
        ctx.keep_secret(ctx.current, {"role_id": role_id, "secret_id": secret_id})
        return {"secret_id_accessor": data["secret_id_accessor"], "secret_id_ttl": data.get("secret_id_ttl")}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _destroy(vault(ctx), _mount(params), params["role"], str(outputs["secret_id_accessor"]))

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """A secret-id issued by a crashed apply is useless (its secret is gone): destroy it, run again."""
        mount, role = _mount(params), params["role"]
        client = vault(ctx)
        try:
            keys = client.request("LIST", f"auth/{mount}/role/{role}/secret-id").get("data", {}).get("keys") or []
        except VaultError as exc:
            if exc.status == 404:
                return None
            raise
        for accessor in keys:
            info = (
                client.request(
                    "POST", f"auth/{mount}/role/{role}/secret-id-accessor/lookup", {"secret_id_accessor": accessor}
                ).get("data")
                or {}
            )
            if (info.get("metadata") or {}).get("nhiwarden_plan") == ctx.plan.id:
                _destroy(client, mount, role, str(accessor))
        return None


def _destroy(client: VaultClient, mount: str, role: str, accessor: str) -> None:
    try:
        client.request("POST", f"auth/{mount}/role/{role}/secret-id-accessor/destroy", {"secret_id_accessor": accessor})
    except VaultError as exc:
        if exc.status not in (400, 404):
            raise


@action
class VerifyLogin(Action):
    """Log in with the credentials as the consumer reads them; check TTLs and policies; revoke the token."""

    name = "vaultfed.verify-login"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        client = vault(ctx)
        try:
            resp = client.http.post(
                f"auth/{_mount(params)}/login",
                json={"role_id": fields.get("role_id"), "secret_id": fields.get("secret_id")},
            )
        except Exception as exc:
            raise StepError(f"AppRole login: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise StepError(f"AppRole login with the delivered credentials failed: HTTP {resp.status_code}")
        auth = resp.json().get("auth") or {}
        token = str(auth.get("client_token") or "")
        register_secret(token)
        policies = sorted(p for p in auth.get("token_policies") or [] if p != "default")
        wanted = sorted(p for p in params["policies"] if p != "default")
        ttl = int(auth.get("lease_duration") or 0)
        login = VaultClient(client.addr, token, ctx.connection("vault").get("namespace"))
        try:
            if policies != wanted:
                raise StepError(f"the login token has policies {policies}, expected {wanted}")
            if ttl <= 0 or ttl > int(params["max_ttl_seconds"]):
                raise StepError(f"the login token lives {ttl} s, above the bound {params['max_ttl_seconds']} s")
        finally:
            login.request("POST", "auth/token/revoke-self")
        return {"verified": True, "token_ttl": ttl, "policies": policies, "at": _iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


@action
class RevokeToken(Action):
    """Revoke the old long-lived token by accessor (Vault tokens cannot be disabled: this is final)."""

    name = "vaultfed.revoke-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            vault(ctx).request("POST", "auth/token/revoke-accessor", {"accessor": params["accessor"]})
        except VaultError as exc:
            if exc.status != 400:  # 400: already revoked or expired
                raise
        return {"revoked_accessor": params["accessor"], "at": _iso(ctx.now)}

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        gone = not observe_token(ctx, params)["exists"]
        return {"revoked_accessor": params["accessor"], "at": _iso(ctx.now)} if gone else None


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- JWT/OIDC auth for OIDC consumers (GitHub Actions, GitLab CI, Kubernetes) ---------------------

JWT_ROLE_FIELDS = (
    "role_type",
    "user_claim",
    "bound_audiences",
    "bound_subject",
    "bound_claims",
    "bound_claims_type",
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "token_type",
)


def _norm(key: str, value: Any) -> Any:
    if key in ("bound_audiences", "token_policies"):
        return sorted(value or [])
    if key == "bound_claims":
        return dict(value or {}) or None
    if key == "bound_claims_type":
        return value or "string"
    return value


def jwt_role_matches(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(_norm(k, live.get(k)) == _norm(k, wanted.get(k)) for k in JWT_ROLE_FIELDS)


@observer("vaultfed.jwt-mount")
def observe_jwt_mount(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    mount = _mount(params)
    auths = vault(ctx).request("GET", "sys/auth").get("data") or {}
    entry = auths.get(f"{mount}/")
    if entry is None:
        return {"exists": False, "type": None, "issuer_ok": False}
    config: dict[str, Any] = {}
    if entry.get("type") in ("jwt", "oidc"):
        try:
            config = vault(ctx).request("GET", f"auth/{mount}/config").get("data") or {}
        except VaultError as exc:
            if exc.status != 404:
                raise
    issuers = {str(config.get("bound_issuer") or ""), str(config.get("oidc_discovery_url") or "")}
    return {"exists": True, "type": entry.get("type"), "issuer_ok": params["issuer"] in issuers}


@observer("vaultfed.jwt-role")
def observe_jwt_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    auths = vault(ctx).request("GET", "sys/auth").get("data") or {}
    if f"{_mount(params)}/" not in auths:
        return {"exists": False, "matches": False}
    live = read_role(ctx, _mount(params), params["role"])
    return {"exists": live is not None, "matches": live is not None and jwt_role_matches(live, params["settings"])}


@action
class EnsureJwtMount(Action):
    """Enable a JWT auth mount trusting the consumer's issuer (discovery), or reuse one that already does."""

    name = "vaultfed.ensure-jwt-mount"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        facts = observe_jwt_mount(ctx, params)
        if facts["exists"]:
            if facts["type"] not in ("jwt", "oidc") or not facts["issuer_ok"]:
                raise StepError(f"auth/{_mount(params)} is not a JWT mount for {params['issuer']}")
            return {"created": False}
        client = vault(ctx)
        client.request(
            "POST", f"sys/auth/{_mount(params)}", {"type": "jwt", "description": f"nhiwarden plan {ctx.plan.id}"}
        )
        try:
            client.request(
                "POST",
                f"auth/{_mount(params)}/config",
                {"oidc_discovery_url": params["issuer"], "bound_issuer": params["issuer"]},
            )
        except Exception:
            client.request("DELETE", f"sys/auth/{_mount(params)}")
            raise
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            vault(ctx).request("DELETE", f"sys/auth/{_mount(params)}")


@action
class EnsureJwtRole(Action):
    name = "vaultfed.ensure-jwt-role"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount, role = _mount(params), params["role"]
        live = read_role(ctx, mount, role)
        if live is not None:
            if not jwt_role_matches(live, params["settings"]):
                raise StepError(f"JWT role {role} on auth/{mount} exists with other settings: not changing it")
            return {"created": False}
        vault(ctx).request(
            "POST", f"auth/{mount}/role/{role}", {k: v for k, v in params["settings"].items() if v is not None}
        )
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            try:
                vault(ctx).request("DELETE", f"auth/{_mount(params)}/role/{params['role']}")
            except VaultError as exc:
                if exc.status != 404:
                    raise


@action
class VerifyJwtRole(Action):
    """Read the role back, compare it with the plan and judge its trust (read-only)."""

    name = "vaultfed.verify-jwt-role"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from nhiwarden.providers.vault.trust import trust_from_role
        from nhiwarden.rules.builtin.federation import judge

        live = read_role(ctx, _mount(params), params["role"])
        if live is None or not jwt_role_matches(live, params["settings"]):
            raise StepError(f"JWT role {params['role']} is missing or differs from the plan")
        if int(live.get("token_max_ttl") or 0) <= 0:
            raise StepError(f"JWT role {params['role']} has no token_max_ttl")
        verdict = judge(
            trust_from_role(live, issuer=params["issuer"], source=f"auth/{_mount(params)}/role/{params['role']}")
        )
        if verdict is not None:
            raise StepError(f"the JWT role trusts too broadly: {verdict[1]}")
        return {"verified": True, "at": _iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


# -- static keys in KV -> dynamic secrets engines (aws, gcp, azure, database) ----------------------

_DURATION_KEYS = frozenset(
    {"lease", "lease_max", "ttl", "max_ttl", "default_ttl", "default_sts_ttl", "max_sts_ttl", "default_lease_ttl"}
)
_SET_KEYS = frozenset({"allowed_roles", "role_arns", "policy_arns", "token_scopes"})
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def duration_seconds(value: Any) -> Any:
    """3600, "3600", "3600s", "1h" and Go's "1h0m0s" -> 3600; anything else unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = _GO_DURATION.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        unit = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        return int(sum(float(n) * unit[u] for n, u in parts))
    return value


def _norm_engine(key: str, value: Any) -> Any:
    if key in _DURATION_KEYS:
        return duration_seconds(value)
    if key in _SET_KEYS:
        return sorted(value or [])
    if key == "azure_roles":
        roles = json.loads(value) if isinstance(value, str) else value or []
        return sorted((str(r.get("role_name") or r.get("role_id")), str(r.get("scope"))) for r in roles)
    return value


def engine_path_matches(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Every planned field the server returns has the planned value (write-only fields are not compared)."""
    flat = {**live, **(live.get("connection_details") or {})}
    return all(_norm_engine(k, flat[k]) == _norm_engine(k, v) for k, v in wanted.items() if k in flat)


def read_path(ctx: Context, path: str) -> dict[str, Any] | None:
    try:
        resp = vault(ctx).request("GET", path)
    except VaultError as exc:
        if exc.status in (404, 405):
            return None
        raise
    data = resp.get("data")
    return dict(data) if data else None


def _catalog(ctx: Context) -> tuple[dict[str, list[str]] | None, str]:
    """Plugin names by type: ``GET sys/plugins/catalog`` (read), else ``LIST sys/plugins/catalog/<type>``."""
    client = vault(ctx)
    try:
        data = client.request("GET", "sys/plugins/catalog").get("data") or {}
        return {k: list(v) for k, v in data.items() if isinstance(v, list)}, ""
    except VaultError as exc:
        if exc.status != 403:
            raise
    out: dict[str, list[str]] = {}
    for kind in ("secret", "database"):
        try:
            out[kind] = list(client.request("LIST", f"sys/plugins/catalog/{kind}").get("data", {}).get("keys") or [])
        except VaultError as exc:
            if exc.status != 403:
                raise
            return None, "the plugin catalog is not readable (read on sys/plugins/catalog)"
    return out, ""


@observer("vaultfed.secrets-engine")
def observe_secrets_engine(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Is the engine mounted at ``mount``, or mountable (in the plugin catalog)? The reason when not."""
    engine, mount = str(params["engine"]), _mount(params)
    mounts = vault(ctx).request("GET", "sys/mounts").get("data") or {}
    entry = mounts.get(f"{mount}/")
    mounted_type = (entry or {}).get("type")
    if mounted_type == engine:
        return {"available": True, "mounted": True, "mount_type": engine, "reason": f"{mount}/ is mounted"}
    catalog, why = _catalog(ctx)
    in_use = any(isinstance(v, dict) and v.get("type") == engine for v in mounts.values())
    available, reason = in_use, why or f"{engine} is not in sys/plugins/catalog/secret"
    if catalog is not None:
        if engine in catalog.get("secret", []):
            available, reason = True, "in the plugin catalog"
        elif engine == "database" and catalog.get("database"):
            available, reason = True, "builtin database engine, database plugins in the catalog"
        if engine == "database" and params.get("plugin") and params["plugin"] not in catalog.get("database", []):
            available, reason = False, f"database plugin {params['plugin']} is not in the plugin catalog"
    elif in_use:
        reason = f"another {engine} mount exists"
    return {
        "available": available,
        "mounted": entry is not None,
        "mount_type": mounted_type,
        "reason": reason,
    }


@observer("vaultfed.engine-path")
def observe_engine_path(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    mount = str(params["path"]).split("/", 1)[0]
    mounts = vault(ctx).request("GET", "sys/mounts").get("data") or {}
    if f"{mount}/" not in mounts:
        return {"exists": False, "matches": False}
    live = read_path(ctx, params["path"])
    return {"exists": live is not None, "matches": live is not None and engine_path_matches(live, params["body"])}


@observer("vaultfed.kv-secret")
def observe_kv_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Whether a KV v2 secret has a live current version (metadata only: no value is read)."""
    try:
        meta = vault(ctx).request("GET", f"{_mount(params)}/metadata/{params['path']}").get("data") or {}
    except VaultError as exc:
        if exc.status == 404:
            return {"exists": False}
        raise
    current = (meta.get("versions") or {}).get(str(meta.get("current_version"))) or {}
    return {"exists": bool(current) and not current.get("deletion_time") and not current.get("destroyed")}


@action
class EnsureSecretsMount(Action):
    """Enable the secrets engine with bounded lease TTLs, or reuse a mount of that type."""

    name = "vaultfed.ensure-secrets-mount"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount = _mount(params)
        entry = (vault(ctx).request("GET", "sys/mounts").get("data") or {}).get(f"{mount}/")
        if entry is not None:
            if entry.get("type") != params["type"]:
                raise StepError(f"{mount}/ is a {entry.get('type')} mount, not {params['type']}")
            return {"created": False}
        vault(ctx).request(
            "POST",
            f"sys/mounts/{mount}",
            {
                "type": params["type"],
                "description": f"nhiwarden plan {ctx.plan.id}",
                "config": {
                    "default_lease_ttl": f"{int(params['default_lease_ttl'])}s",
                    "max_lease_ttl": f"{int(params['max_lease_ttl'])}s",
                },
            },
        )
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            vault(ctx).request("DELETE", f"sys/mounts/{_mount(params)}")

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        entry = (vault(ctx).request("GET", "sys/mounts").get("data") or {}).get(f"{_mount(params)}/")
        if entry and entry.get("description") == f"nhiwarden plan {ctx.plan.id}":
            return {"created": True}
        return None


@action
class EnsureEnginePath(Action):
    """Write an engine's config or role once; an existing one with other settings is never overwritten.

    Fields named in ``secret_env`` (an admin password, root keys) are read from the environment at
    apply time, registered as secrets and sent to Vault only: never in the plan, the journal or output.
    """

    name = "vaultfed.ensure-engine-path"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        path, body = str(params["path"]), dict(params["body"])
        live = read_path(ctx, path)
        if live is not None:
            if not engine_path_matches(live, body):
                raise StepError(f"{path} exists with other settings: not changing it")
            return {"created": False}
        for name, env in (params.get("secret_env") or {}).items():
            value = ctx.env.get(str(env))
            if not value:
                raise StepError(f"{path}: set {env} (the {name} is read from the environment, never planned)")
            register_secret(value)
            body[name] = value
        vault(ctx).request("POST", path, body)
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        try:
            vault(ctx).request("DELETE", str(params["path"]))
        except VaultError as exc:
            if exc.status not in (404, 405):  # 405: no DELETE (e.g. aws/config/root): removed with the mount
                raise


@action
class VerifyEngine(Action):
    """Read the role and the mount's lease bounds back (read-only; no credential is issued)."""

    name = "vaultfed.verify-engine"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        mount = _mount(params)
        live = read_path(ctx, params["role_path"])
        if live is None or not engine_path_matches(live, params["body"]):
            raise StepError(f"{params['role_path']} is missing or differs from the plan")
        tune = vault(ctx).request("GET", f"sys/mounts/{mount}/tune").get("data") or {}
        max_lease = int(duration_seconds(tune.get("max_lease_ttl")) or 0)
        bound = int(params["max_ttl"])
        role_max = [int(duration_seconds(live[k])) for k in ("max_ttl", "max_sts_ttl") if live.get(k)]
        if not (0 < max_lease <= bound) and not (role_max and 0 < min(role_max) <= bound):
            raise StepError(f"leases of {mount}/ are not bounded by {bound} s (mount max_lease_ttl {max_lease} s)")
        return {"verified": True, "max_lease_ttl": max_lease, "at": _iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


@action
class DestroyKvSecret(Action):
    """Delete the static key's KV copy with every version (final: run after the verification window)."""

    name = "vaultfed.destroy-kv-secret"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            vault(ctx).request("DELETE", f"{_mount(params)}/metadata/{params['path']}")
        except VaultError as exc:
            if exc.status != 404:
                raise
        return {"destroyed": f"{_mount(params)}/{params['path']}", "at": _iso(ctx.now)}
