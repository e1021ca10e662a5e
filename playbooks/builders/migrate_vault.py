"""Plan the migration of a long-lived Vault/OpenBao token to an AppRole with bounded TTLs (read-only).

Steps (group ``t:migrate``): ensure an AppRole auth mount (``approle`` unless the request names
another), ensure a role carrying the old token's policies with ``token_ttl``/``token_max_ttl`` and
``secret_id_ttl`` bounded, issue a secret-id, deliver role id + secret-id where the consumer reads them
(``--deliver vault-kv:<mount>/<path>``), verify a real login with the delivered credentials, write the
consumer snippet (a Vault Agent auto-auth stanza). Final stage ``delete`` (run separately, after the
verification window): revoke the old token by accessor, once a fresh scan report shows it unused since
the migration. Root tokens are refused: their power cannot be expressed as a role.

``migrate_dynamic`` moves a static cloud or database key held in KV to the matching dynamic secrets
engine (aws, gcp, azure, database) when ``sys/mounts`` or the plugin catalog has it: mount with bounded
lease TTLs, engine configuration, a role, a read-back verification, a Vault Agent template; when the
server lacks the engine, the plan is one ``notify`` step saying so (keep rotating). Admin passwords
and engine keys are named by environment variable only, never planned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..model import Check, PlanError, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .delivery import plan_delivery
from .steps import consumer_config_step, delete_after_step, unused_since_verify_check

if TYPE_CHECKING:
    from ..planner import PlanRequest

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str, flag: str) -> int:
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise PlanError(f"{flag} {text!r}: expected a positive duration such as 15m, 1h or 24h")
    return int(m.group(1)) * _UNITS[m.group(2)]


def migrate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    from ..migrate import MigrateRequest

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "vault-token":
        raise Skip("migration to an AppRole starts from a Vault token finding")
    accessor = cred.id
    token_check = Check(
        id=f"{t}.token",
        observe="vaultfed.token",
        params={"accessor": accessor},
        invariant=True,
        until=f"{t}.revoke",
        text=f"token with accessor {accessor} exists",
    )
    facts = observe_into(ctx, token_check, ["exists", "policies"])
    if not facts["exists"]:
        raise Skip(f"token {accessor} no longer exists")
    policies = sorted(p for p in facts["policies"] or [] if p != "default")
    if "root" in policies:
        raise Skip("a root token cannot be migrated to a role: revoke it (generate-root when needed)")
    token_check.text = f"token {accessor} exists with policies {', '.join(facts['policies'] or []) or 'none'}"

    mount = str(getattr(req, "auth_mount", None) or "approle").strip("/")
    name = (
        req.role_name or re.sub(r"[^a-z0-9-]", "-", f"migrated-{identity.name if identity else accessor}".lower())[:64]
    )
    token_ttl = seconds(req.approle_token_ttl, "--token-ttl")
    token_max_ttl = seconds(req.approle_token_max_ttl, "--token-max-ttl")
    secret_id_ttl = seconds(req.secret_id_ttl, "--secret-id-ttl")
    if token_ttl > token_max_ttl:
        raise PlanError("--token-ttl must not exceed --token-max-ttl")
    settings = {
        "token_policies": policies,
        "token_ttl": token_ttl,
        "token_max_ttl": token_max_ttl,
        "secret_id_ttl": secret_id_ttl,
        "secret_id_num_uses": 0,
        "bind_secret_id": True,
        "token_type": "service",
        "token_no_default_policy": "default" not in (facts["policies"] or []),
    }
    mount_check = Check(id=f"{t}.mount", observe="vaultfed.auth-mount", params={"mount": mount}, text="")
    mf = observe_into(ctx, mount_check, ["exists", "type"])
    if mf["exists"] and mf["type"] != "approle":
        raise Skip(f"auth/{mount} is a {mf['type']} mount: name another AppRole mount")
    mount_check.text = f"auth/{mount} " + ("is an AppRole mount" if mf["exists"] else "does not exist (it is enabled)")
    role_check = Check(
        id=f"{t}.role", observe="vaultfed.role", params={"mount": mount, "role": name, "settings": settings}, text=""
    )
    rf = observe_into(ctx, role_check, ["exists", "matches"])
    if rf["exists"] and not rf["matches"]:
        raise Skip(f"AppRole {name} on auth/{mount} exists with other settings: pass --role-name")
    role_check.text = f"AppRole {name} " + ("exists with the planned settings" if rf["exists"] else "does not exist")

    known = next((c for c in (identity.credentials if identity else []) if c.uid == cred.uid), None)
    spec = req.deliver or next((loc for loc in (known.locations if known else []) if loc.startswith("vault-kv:")), None)
    if spec is None:
        raise Skip("no delivery target for the role id and secret-id: pass --deliver vault-kv:<mount>/<path>")
    delivery = plan_delivery(
        ctx,
        t,
        spec,
        fields={"role_id": "role_id", "secret_id": "secret_id"},
        key_field="secret_id_accessor",
        key_id=f"${{{t}.secret-id.secret_id_accessor}}",
        secret_step=f"{t}.secret-id",
    )
    addr = ctx.connection("vault").get("addr", "$VAULT_ADDR")
    agent = {
        "vault": {"address": addr},
        "auto_auth": {
            "method": {
                "type": "approle",
                "mount_path": f"auth/{mount}",
                "config": {
                    "role_id_file_path": "/etc/vault-agent/role-id",
                    "secret_id_file_path": "/etc/vault-agent/secret-id",
                    "remove_secret_id_file_after_reading": False,
                },
            },
            "sink": [{"type": "file", "config": {"path": "/run/vault-agent/token"}}],
        },
    }
    snippet = json.dumps(agent, indent=2) + "\n"  # JSON: valid YAML and valid Vault Agent config
    group = f"{t}:migrate"
    steps = [
        Step(
            id=f"{t}.mount",
            stage="create",
            group=group,
            action="vaultfed.ensure-auth-mount",
            target=f"{addr}/auth/{mount}",
            api_call="none: the mount exists" if mf["exists"] else f"POST sys/auth/{mount} {{type: approle}}",
            params={"mount": mount, "type": "approle"},
            rollback=f"DELETE sys/auth/{mount} if this plan enabled it",
        ),
        Step(
            id=f"{t}.role",
            stage="create",
            group=group,
            action="vaultfed.ensure-approle",
            target=f"{addr}/auth/{mount}/role/{name}",
            api_call=(
                f"POST auth/{mount}/role/{name} {{token_policies: {policies}, token_ttl: {token_ttl}, "
                f"token_max_ttl: {token_max_ttl}, secret_id_ttl: {secret_id_ttl}, bind_secret_id: true}}"
            ),
            params={"mount": mount, "role": name, "settings": settings},
            rollback=f"DELETE auth/{mount}/role/{name} if this plan created it",
        ),
        Step(
            id=f"{t}.secret-id",
            stage="create",
            group=group,
            action="vaultfed.create-secret-id",
            target=f"{addr}/auth/{mount}/role/{name}",
            api_call=f"GET auth/{mount}/role/{name}/role-id; POST auth/{mount}/role/{name}/secret-id (kept in memory)",
            params={"mount": mount, "role": name, "migrated_from": accessor},
            rollback=f"POST auth/{mount}/role/{name}/secret-id-accessor/destroy for the new accessor",
        ),
        Step(
            id=f"{t}.deliver",
            stage="deliver",
            group=group,
            action=delivery.action,
            target=spec,
            api_call=delivery.api_call,
            params=delivery.params,
            rollback=delivery.rollback,
            secret_from=f"{t}.secret-id",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="vaultfed.verify-login",
            target=f"{addr}/auth/{mount}/role/{name}",
            api_call=(
                f"POST auth/{mount}/login with role_id and secret_id as read back from {spec}; expect policies "
                f"{policies} and a token TTL <= {token_max_ttl} s; then auth/token/revoke-self"
            ),
            params={
                "mount": mount,
                "policies": policies,
                "max_ttl_seconds": token_max_ttl,
                "read_from": {"action": delivery.action, "params": delivery.params},
            },
            rollback="none needed (the test token is revoked)",
        ),
        consumer_config_step(
            t,
            group,
            target=req.consumer or spec,
            api_call="write the Vault Agent auto-auth stanza (printed with the plan)",
            kind="vault-approle",
            consumer=req.consumer,
            role_arn=f"auth/{mount}/role/{name}",
            fmt="json",
            snippet=snippet,
            path=req.snippet_path,
        ),
        _revoke_step(t, cred.uid, accessor, req.verify_days),
    ]
    return Built(
        target=_target(finding, identity), checks=[token_check, mount_check, role_check, delivery.check], steps=steps
    )


def _revoke_step(t: str, cred_uid: str, accessor: str, days: int) -> Step:
    return delete_after_step(
        t,
        "revoke",
        after="verify",
        days=days,
        action="vaultfed.revoke-token",
        target=cred_uid,
        api_call=f"POST auth/token/revoke-accessor {{accessor: {accessor}}} (final: Vault tokens cannot be disabled)",
        params={"accessor": accessor},
        requires=[
            unused_since_verify_check(
                t,
                "old-token-unused",
                cred_uid,
                f"a scan made after the migration (NHIWARDEN_FRESH_REPORT) shows token {accessor} unused since",
            ),
        ],
    )


def jwt_binding(consumer_kind: str, subject: str, pattern: bool) -> dict[str, object]:
    """The role fields that pin the consumer: an exact ``bound_subject``, or an exact repository claim."""
    if not pattern:
        return {"bound_subject": subject, "bound_claims": None, "bound_claims_type": "string"}
    path = subject.split(":", 2)[1]
    claim = "repository" if consumer_kind == "github" else "project_path"
    return {"bound_subject": "", "bound_claims": {claim: path}, "bound_claims_type": "string"}


def migrate_jwt(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """Long-lived token -> JWT auth role for an OIDC consumer (GitHub, GitLab, Kubernetes): no secret at all."""
    from ..migrate import MigrateRequest, parse_consumer

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "vault-token":
        raise Skip("migration to a JWT auth role starts from a Vault token finding")
    if not req.consumer:
        raise PlanError("--consumer is required for vault-jwt (e.g. github:org/repo@main)")
    consumer = parse_consumer(req.consumer)
    if consumer.kind == "azure-mi":
        raise Skip("azure-mi consumers have no OIDC token for Vault's JWT auth")
    accessor = cred.id
    token_check = Check(
        id=f"{t}.token",
        observe="vaultfed.token",
        params={"accessor": accessor},
        invariant=True,
        until=f"{t}.revoke",
        text=f"token with accessor {accessor} exists",
    )
    facts = observe_into(ctx, token_check, ["exists", "policies"])
    if not facts["exists"]:
        raise Skip(f"token {accessor} no longer exists")
    policies = sorted(p for p in facts["policies"] or [] if p != "default")
    if "root" in policies:
        raise Skip("a root token cannot be migrated to a role: revoke it (generate-root when needed)")
    mount = str(getattr(req, "auth_mount", None) or "jwt").strip("/")
    name = req.role_name or re.sub(r"[^a-z0-9-]", "-", consumer.name.lower())[:64]
    token_ttl = seconds(req.approle_token_ttl, "--token-ttl")
    token_max_ttl = seconds(req.approle_token_max_ttl, "--token-max-ttl")
    audience = (
        f"https://github.com/{consumer.subject.split(':', 2)[1].split('/', 1)[0]}"
        if consumer.kind == "github"
        else str(ctx.connection("vault").get("addr") or "vault")
    )
    settings: dict[str, object] = {
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": [audience],
        **jwt_binding(consumer.kind, consumer.subject, consumer.subject_is_pattern),
        "token_policies": policies,
        "token_ttl": token_ttl,
        "token_max_ttl": token_max_ttl,
        "token_type": "service",
    }
    mount_check = Check(
        id=f"{t}.mount", observe="vaultfed.jwt-mount", params={"mount": mount, "issuer": consumer.issuer}, text=""
    )
    mf = observe_into(ctx, mount_check, ["exists", "type", "issuer_ok"])
    if mf["exists"] and (mf["type"] not in ("jwt", "oidc") or not mf["issuer_ok"]):
        raise Skip(f"auth/{mount} is not a JWT mount trusting {consumer.issuer}: name another mount")
    mount_check.text = f"auth/{mount} " + (
        f"is a JWT mount trusting {consumer.issuer}" if mf["exists"] else "does not exist (it is enabled)"
    )
    role_check = Check(
        id=f"{t}.role",
        observe="vaultfed.jwt-role",
        params={"mount": mount, "role": name, "settings": settings},
        text="",
    )
    rf = observe_into(ctx, role_check, ["exists", "matches"])
    if rf["exists"] and not rf["matches"]:
        raise Skip(f"JWT role {name} on auth/{mount} exists with other settings: pass --role-name")
    role_check.text = f"JWT role {name} " + ("exists with the planned settings" if rf["exists"] else "does not exist")
    addr = ctx.connection("vault").get("addr", "$VAULT_ADDR")
    step: dict[str, object] = {
        "name": "Vault login (keyless: JWT auth with the workflow's OIDC token)",
        "uses": "hashicorp/vault-action@v3",
        "with": {
            "url": addr,
            "method": "jwt",
            "path": mount,
            "role": name,
            "jwtGithubAudience": audience,
            "secrets": "secret/data/<path> <key> | <ENV_VAR>",
        },
    }
    snippet = yaml.safe_dump(
        {"jobs": {"deploy": {"permissions": {"id-token": "write", "contents": "read"}, "steps": [step]}}},
        sort_keys=False,
    )
    group = f"{t}:migrate"
    binding = settings["bound_subject"] or settings["bound_claims"]
    steps = [
        Step(
            id=f"{t}.mount",
            stage="create",
            group=group,
            action="vaultfed.ensure-jwt-mount",
            target=f"{addr}/auth/{mount}",
            api_call="none: the mount trusts the issuer"
            if mf["exists"]
            else f"POST sys/auth/{mount} {{type: jwt}}; POST auth/{mount}/config "
            f"{{oidc_discovery_url: {consumer.issuer}, bound_issuer: {consumer.issuer}}}",
            params={"mount": mount, "issuer": consumer.issuer},
            rollback=f"DELETE sys/auth/{mount} if this plan enabled it",
        ),
        Step(
            id=f"{t}.role",
            stage="create",
            group=group,
            action="vaultfed.ensure-jwt-role",
            target=f"{addr}/auth/{mount}/role/{name}",
            api_call=(
                f"POST auth/{mount}/role/{name} {{role_type: jwt, bound_audiences: [{audience}], binding: {binding}, "
                f"token_policies: {policies}, token_ttl: {token_ttl}, token_max_ttl: {token_max_ttl}}}"
            ),
            params={"mount": mount, "role": name, "settings": settings},
            rollback=f"DELETE auth/{mount}/role/{name} if this plan created it",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="vaultfed.verify-jwt-role",
            target=f"{addr}/auth/{mount}/role/{name}",
            api_call=f"GET auth/{mount}/role/{name}: the planned binding and TTLs, judged narrow",
            params={"mount": mount, "role": name, "settings": settings, "issuer": consumer.issuer},
            rollback="none needed (read-only)",
        ),
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call="write the hashicorp/vault-action step (printed with the plan)",
            kind="vault-jwt",
            consumer=consumer.spec,
            role_arn=f"auth/{mount}/role/{name}",
            snippet=snippet,
            path=req.snippet_path,
        ),
        _revoke_step(t, cred.uid, accessor, req.verify_days),
    ]
    return Built(target=_target(finding, identity), checks=[token_check, mount_check, role_check], steps=steps)


# -- static cloud keys in KV -> a dynamic secrets engine -------------------------------------------

ENGINE_FOR_CLOUD = {"aws": "aws", "gcp": "gcp", "azure": "azure", "database": "database"}
ENGINE_CONFIG_ENV = "NHIWARDEN_ENGINE_CONFIG"
DB_PASSWORD_ENV = "NHIWARDEN_DB_PASSWORD"
# Default creation statements per plugin: a login that expires with the lease, granted one existing
# database role (engine_config grant_role: the role holding the static user's privileges).
DEFAULT_CREATION = {
    "postgresql-database-plugin": (
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' INHERIT;",
        'GRANT "<grant_role>" TO "{{name}}";',
    ),
    "mysql-database-plugin": (
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';",
        "GRANT '<grant_role>' TO '{{name}}'@'%';",
        "SET DEFAULT ROLE ALL TO '{{name}}'@'%';",
    ),
}
_GRANT_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


def creation_statements(plugin: str, cfg: dict[str, Any]) -> list[str]:
    """The engine role's creation statements: given ones, or the plugin default granting ``grant_role``."""
    if cfg.get("creation_statements"):
        return [str(x) for x in cfg["creation_statements"]]
    default = DEFAULT_CREATION.get(plugin.replace("-aurora", "").replace("-rds", "").replace("-legacy", ""))
    if default is None:
        raise Skip(f"no default creation statements for {plugin}: set engine_config creation_statements")
    role = str(cfg.get("grant_role") or "")
    if not _GRANT_ROLE.match(role):
        raise Skip(
            "name the database role whose privileges the dynamic users get: engine_config grant_role "
            "(an identifier), or give creation_statements"
        )
    return [stmt.replace("<grant_role>", role) for stmt in default]


def _engine_config(req: PlanRequest, ctx: Context) -> dict[str, Any]:
    from ..migrate import MigrateRequest

    assert isinstance(req, MigrateRequest)
    if req.engine_config:
        return dict(req.engine_config)
    raw = ctx.env.get(ENGINE_CONFIG_ENV)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise PlanError(f"{ENGINE_CONFIG_ENV}: not a JSON object") from None
    if not isinstance(value, dict):
        raise PlanError(f"{ENGINE_CONFIG_ENV}: not a JSON object")
    return value


@dataclass
class EngineWrite:
    """One configuration write of the engine: path, public body, fields filled from env at apply time."""

    path: str
    body: dict[str, Any]
    secret_env: dict[str, str] = field(default_factory=dict)  # body field -> environment variable name
    deletable: bool = True  # False: the path has no DELETE (e.g. aws/config/root); the mount rollback removes it

    def call(self) -> str:
        shown = {**self.body, **{k: f"<from ${v} at apply>" for k, v in self.secret_env.items()}}
        return f"POST {self.path} {json.dumps(shown, sort_keys=True)}"


@dataclass
class EnginePlan:
    config: list[EngineWrite]
    role: EngineWrite
    creds_path: str
    template: str  # Vault Agent template contents for the consumer


def engine_plan(engine: str, mount: str, role: str, cfg: dict[str, Any], ttl: int, max_ttl: int) -> EnginePlan:
    """The writes that configure ``engine`` at ``mount`` with a role whose credentials live <= ``max_ttl``."""
    if engine == "aws":
        conf: dict[str, Any] = {"region": cfg.get("region") or "us-east-1"}
        for key in ("iam_endpoint", "sts_endpoint", "sts_region"):
            if cfg.get(key):
                conf[key] = cfg[key]
        # Without root_from_env the engine uses the Vault server's own AWS identity (instance profile, env);
        # with it, a dedicated engine key from the applier's environment (never the applier's own key).
        secret_env = (
            {"access_key": "NHIWARDEN_ENGINE_AWS_ACCESS_KEY_ID", "secret_key": "NHIWARDEN_ENGINE_AWS_SECRET_ACCESS_KEY"}
            if cfg.get("root_from_env")
            else {}
        )
        if cfg.get("role_arns"):
            role_body: dict[str, Any] = {
                "credential_type": "assumed_role",
                "role_arns": list(cfg["role_arns"]),
                "default_sts_ttl": ttl,
                "max_sts_ttl": max_ttl,
            }
        elif cfg.get("policy_arns"):
            role_body = {"credential_type": "iam_user", "policy_arns": list(cfg["policy_arns"])}
        else:
            raise Skip(
                "the aws engine needs the permissions of the role it issues: set engine_config role_arns "
                f"(assumed_role, STS credentials) or policy_arns (iam_user) ({ENGINE_CONFIG_ENV})"
            )
        creds = f"{mount}/{'sts' if role_body['credential_type'] == 'assumed_role' else 'creds'}/{role}"
        return EnginePlan(
            config=[
                EngineWrite(f"{mount}/config/root", conf, secret_env, deletable=False),
                EngineWrite(f"{mount}/config/lease", {"lease": f"{ttl}s", "lease_max": f"{max_ttl}s"}, deletable=False),
            ],
            role=EngineWrite(f"{mount}/roles/{role}", role_body),
            creds_path=creds,
            template=(
                f'{{{{ with secret "{creds}" }}}}[default]\naws_access_key_id={{{{ .Data.access_key }}}}\n'
                "aws_secret_access_key={{ .Data.secret_key }}\naws_session_token={{ .Data.security_token }}\n"
                "{{ end }}"
            ),
        )
    if engine == "gcp":
        email = cfg.get("service_account_email")
        if not email:
            raise Skip(f"the gcp engine needs engine_config service_account_email ({ENGINE_CONFIG_ENV})")
        return EnginePlan(
            config=[EngineWrite(f"{mount}/config", {"ttl": ttl, "max_ttl": max_ttl}, deletable=False)],
            role=EngineWrite(
                f"{mount}/static-account/{role}",
                {
                    "service_account_email": email,
                    "secret_type": "access_token",
                    "token_scopes": list(cfg.get("token_scopes") or ["https://www.googleapis.com/auth/cloud-platform"]),
                },
            ),
            creds_path=f"{mount}/static-account/{role}/token",
            template=f'{{{{ with secret "{mount}/static-account/{role}/token" }}}}{{{{ .Data.token }}}}{{{{ end }}}}',
        )
    if engine == "azure":
        if not (cfg.get("subscription_id") and cfg.get("tenant_id") and cfg.get("azure_roles")):
            raise Skip(
                "the azure engine needs engine_config subscription_id, tenant_id and azure_roles "
                f"([{{role_name, scope}}]) ({ENGINE_CONFIG_ENV})"
            )
        return EnginePlan(
            config=[
                EngineWrite(
                    f"{mount}/config",
                    {"subscription_id": cfg["subscription_id"], "tenant_id": cfg["tenant_id"]},
                    deletable=True,
                )
            ],
            role=EngineWrite(
                f"{mount}/roles/{role}",
                {"azure_roles": json.dumps(cfg["azure_roles"], sort_keys=True), "ttl": ttl, "max_ttl": max_ttl},
            ),
            creds_path=f"{mount}/creds/{role}",
            template=(
                f'{{{{ with secret "{mount}/creds/{role}" }}}}AZURE_CLIENT_ID={{{{ .Data.client_id }}}}\n'
                "AZURE_CLIENT_SECRET={{ .Data.client_secret }}\n{{ end }}"
            ),
        )
    # database
    plugin = str(cfg.get("plugin_name") or "postgresql-database-plugin")
    url, admin = cfg.get("connection_url"), cfg.get("username")
    if not url or not admin:
        raise Skip(
            "the database engine needs the admin connection: engine_config connection_url (with {{username}} "
            f"and {{{{password}}}} placeholders) and username, the password in ${DB_PASSWORD_ENV} at apply "
            f"({ENGINE_CONFIG_ENV})"
        )
    statements = creation_statements(plugin, cfg)
    connection = str(cfg.get("connection_name") or role)
    conn_body = {
        "plugin_name": plugin,
        "connection_url": url,
        "username": admin,
        "allowed_roles": [role],
        "verify_connection": bool(cfg.get("verify_connection", True)),
    }
    return EnginePlan(
        config=[
            EngineWrite(
                f"{mount}/config/{connection}",
                conn_body,
                {"password": str(cfg.get("password_env") or DB_PASSWORD_ENV)},
            )
        ],
        role=EngineWrite(
            f"{mount}/roles/{role}",
            {
                "db_name": connection,
                "creation_statements": statements,
                "default_ttl": ttl,
                "max_ttl": max_ttl,
            },
        ),
        creds_path=f"{mount}/creds/{role}",
        template=(
            f'{{{{ with secret "{mount}/creds/{role}" }}}}DB_USERNAME={{{{ .Data.username }}}}\n'
            "DB_PASSWORD={{ .Data.password }}\n{{ end }}"
        ),
    )


def migrate_dynamic(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """A static cloud or database key stored in KV -> the matching dynamic secrets engine, or a plan note."""
    from ..migrate import MigrateRequest

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if finding.identity.kind != "vault-kv-secret" or cred is None:
        raise Skip("migration to a dynamic secrets engine starts from a static credential held in Vault KV")
    attrs = identity.attributes if identity else {}
    cloud = str(attrs.get("cloud") or "")
    if not cloud:
        known = next((c for c in (identity.credentials if identity else []) if c.uid == cred.uid), None)
        cloud = str((known.attributes if known else {}).get("cloud") or "")
    engine = ENGINE_FOR_CLOUD.get(cloud)
    if engine is None:
        raise Skip(f"no dynamic secrets engine for a {cloud or cred.kind} credential")
    kv_mount = str(attrs.get("mount") or "").strip("/")
    kv_path = str(attrs.get("path") or "")
    if not kv_mount or not kv_path:
        kv_mount, _, kv_path = finding.identity.name.partition("/")
    mount = str(req.engine_mount or engine).strip("/")
    cfg = _engine_config(req, ctx)
    ttl = seconds(req.lease_ttl, "--lease-ttl")
    max_ttl = seconds(req.lease_max_ttl, "--lease-max-ttl")
    if ttl > max_ttl:
        raise PlanError("--lease-ttl must not exceed --lease-max-ttl")
    addr = ctx.connection("vault").get("addr", "$VAULT_ADDR")
    plugin = str(cfg.get("plugin_name") or "postgresql-database-plugin") if engine == "database" else None
    engine_check = Check(
        id=f"{t}.engine",
        observe="vaultfed.secrets-engine",
        params={"engine": engine, "mount": mount, "plugin": plugin},
        text="",
    )
    ef = observe_into(ctx, engine_check, ["available", "mounted", "mount_type"])
    group = f"{t}:migrate"
    if ef["mounted"] and ef["mount_type"] != engine:
        raise Skip(f"{mount}/ is a {ef['mount_type']} mount: name another mount for the {engine} engine")
    if not ef["available"]:
        engine_check.text = f"engine {engine} is neither mounted nor in the plugin catalog of {addr}"
        note = (
            f"engine {engine} not available on this server: keep rotating via the rotate playbook "
            f"(the {cred.kind} in {kv_mount}/{kv_path} stays static; {ef['reason']})"
        )
        step = Step(
            id=f"{t}.engine-unavailable",
            stage="notify",
            group=group,
            action="migrate.note",
            target=f"{addr}/{kv_mount}/{kv_path}",
            api_call=f"none: {note}",
            params={"note": note, "engine": engine, "kv": f"{kv_mount}/{kv_path}"},
            rollback="none needed (nothing changes)",
        )
        return Built(target=_target(finding, identity), checks=[engine_check], steps=[step])
    engine_check.text = f"{mount}/ " + (
        f"is a {engine} mount" if ef["mounted"] else f"does not exist; {engine} is in the plugin catalog"
    )
    role = req.role_name or re.sub(r"[^a-z0-9-]", "-", f"{kv_path.rsplit('/', 1)[-1]}".lower()).strip("-")[:64]
    plan = engine_plan(engine, mount, role, cfg, ttl, max_ttl)
    checks = [engine_check]
    for i, write in enumerate([*plan.config, plan.role]):
        check = Check(
            id=f"{t}.engine-path-{i}",
            observe="vaultfed.engine-path",
            params={"path": write.path, "body": write.body},
            text="",
        )
        pf = observe_into(ctx, check, ["exists", "matches"])
        if pf["exists"] and not pf["matches"]:
            raise Skip(f"{write.path} exists with other settings: not changing it (pass --role-name or another mount)")
        check.text = f"{write.path} " + ("has the planned settings" if pf["exists"] else "is not configured")
        checks.append(check)
    kv_check = Check(
        id=f"{t}.kv",
        observe="vaultfed.kv-secret",
        params={"mount": kv_mount, "path": kv_path},
        expect={"exists": True},
        invariant=True,
        until=f"{t}.destroy-kv",
        text=f"the static credential is stored at {kv_mount}/{kv_path}",
    )
    checks.append(kv_check)
    agent = {
        "vault": {"address": addr},
        "template": [{"contents": plan.template, "destination": f"/run/secrets/{role}"}],
    }
    snippet = json.dumps(agent, indent=2) + "\n"
    steps = [
        Step(
            id=f"{t}.engine-mount",
            stage="create",
            group=group,
            action="vaultfed.ensure-secrets-mount",
            target=f"{addr}/{mount}",
            api_call="none: the mount exists"
            if ef["mounted"]
            else f"POST sys/mounts/{mount} {{type: {engine}, config: {{default_lease_ttl: {ttl}, "
            f"max_lease_ttl: {max_ttl}}}}}",
            params={"mount": mount, "type": engine, "default_lease_ttl": ttl, "max_lease_ttl": max_ttl},
            rollback=f"DELETE sys/mounts/{mount} if this plan enabled it (revokes its leases)",
        )
    ]
    for i, write in enumerate(plan.config):
        steps.append(
            Step(
                id=f"{t}.engine-config-{i}",
                stage="create",
                group=group,
                action="vaultfed.ensure-engine-path",
                target=f"{addr}/{write.path}",
                api_call=write.call(),
                params={"path": write.path, "body": write.body, "secret_env": write.secret_env},
                rollback=(
                    f"DELETE {write.path} if this plan wrote it"
                    if write.deletable
                    else f"removed with the mount when this plan enabled it ({write.path} has no DELETE)"
                ),
            )
        )
    steps += [
        Step(
            id=f"{t}.engine-role",
            stage="create",
            group=group,
            action="vaultfed.ensure-engine-path",
            target=f"{addr}/{plan.role.path}",
            api_call=plan.role.call(),
            params={"path": plan.role.path, "body": plan.role.body, "secret_env": {}},
            rollback=f"DELETE {plan.role.path} if this plan created it",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="vaultfed.verify-engine",
            target=f"{addr}/{plan.role.path}",
            api_call=(
                f"GET sys/mounts/{mount}/tune and {plan.role.path}: the planned role, leases bounded by "
                f"{max_ttl} s (no credential is issued)"
            ),
            params={"mount": mount, "role_path": plan.role.path, "body": plan.role.body, "max_ttl": max_ttl},
            rollback="none needed (read-only)",
        ),
        consumer_config_step(
            t,
            group,
            target=req.consumer or f"{kv_mount}/{kv_path}",
            api_call=f"write the Vault Agent template reading {plan.creds_path} (printed with the plan)",
            kind="vault-dynamic-secrets",
            consumer=req.consumer,
            role_arn=plan.creds_path,
            fmt="json",
            snippet=snippet,
            path=req.snippet_path,
        ),
        delete_after_step(
            t,
            "destroy-kv",
            after="verify",
            days=req.verify_days,
            action="vaultfed.destroy-kv-secret",
            target=cred.uid,
            api_call=(
                f"DELETE {kv_mount}/metadata/{kv_path} (every version; final). The {cred.kind} itself is "
                "disabled and deleted on its own provider (rotate/offboard playbook)"
            ),
            params={"mount": kv_mount, "path": kv_path},
            requires=[
                unused_since_verify_check(
                    t,
                    "old-secret-unused",
                    cred.uid,
                    f"a scan made after the migration shows {kv_mount}/{kv_path} unused since",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)
