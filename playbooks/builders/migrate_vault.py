"""Plan the migration of a long-lived Vault/OpenBao token to an AppRole with bounded TTLs (read-only).

Steps (group ``t:migrate``): ensure an AppRole auth mount (``approle`` unless the request names
another), ensure a role carrying the old token's policies with ``token_ttl``/``token_max_ttl`` and
``secret_id_ttl`` bounded, issue a secret-id, deliver role id + secret-id where the consumer reads them
(``--deliver vault-kv:<mount>/<path>``), verify a real login with the delivered credentials, write the
consumer snippet (a Vault Agent auto-auth stanza). Final stage ``delete`` (run separately, after the
verification window): revoke the old token by accessor, once a fresh scan report shows it unused since
the migration. Root tokens are refused: their power cannot be expressed as a role.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..model import Check, PlanError, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .delivery import plan_delivery

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
        Step(
            id=f"{t}.consumer",
            stage="deliver",
            group=group,
            action="migrate.consumer-config",
            target=req.consumer or spec,
            api_call="write the Vault Agent auto-auth stanza (printed with the plan)",
            params={
                "target": "vault-approle",
                "consumer": req.consumer,
                "role_arn": f"auth/{mount}/role/{name}",
                "format": "json",
                "snippet": snippet,
                "path": req.snippet_path,
            },
            rollback="remove the snippet file if this step wrote it",
        ),
        Step(
            id=f"{t}.revoke",
            stage="delete",
            group=f"{t}:delete",
            manual=True,
            action="vaultfed.revoke-token",
            target=cred.uid,
            api_call=(
                f"POST auth/token/revoke-accessor {{accessor: {accessor}}} (final: Vault tokens cannot be disabled)"
            ),
            params={"accessor": accessor},
            rollback=None,
            not_before={"after": f"{t}.verify", "days": req.verify_days},
            requires=[
                Check(
                    id=f"{t}.old-token-unused",
                    observe="usage.unused-in-report",
                    params={"credential_uid": cred.uid, "since": f"${{{t}.verify.at}}"},
                    expect={"fresh": True, "usage_known": True, "used_after": False},
                    text=(
                        f"a scan made after the migration (NHIWARDEN_FRESH_REPORT) shows token {accessor} unused since"
                    ),
                ),
            ],
        ),
    ]
    return Built(
        target=_target(finding, identity), checks=[token_check, mount_check, role_check, delivery.check], steps=steps
    )


def _revoke_step(t: str, cred_uid: str, accessor: str, days: int) -> Step:
    return Step(
        id=f"{t}.revoke",
        stage="delete",
        group=f"{t}:delete",
        manual=True,
        action="vaultfed.revoke-token",
        target=cred_uid,
        api_call=f"POST auth/token/revoke-accessor {{accessor: {accessor}}} (final: Vault tokens cannot be disabled)",
        params={"accessor": accessor},
        rollback=None,
        not_before={"after": f"{t}.verify", "days": days},
        requires=[
            Check(
                id=f"{t}.old-token-unused",
                observe="usage.unused-in-report",
                params={"credential_uid": cred_uid, "since": f"${{{t}.verify.at}}"},
                expect={"fresh": True, "usage_known": True, "used_after": False},
                text=f"a scan made after the migration (NHIWARDEN_FRESH_REPORT) shows token {accessor} unused since",
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
        Step(
            id=f"{t}.consumer",
            stage="deliver",
            group=group,
            action="migrate.consumer-config",
            target=consumer.spec,
            api_call="write the hashicorp/vault-action step (printed with the plan)",
            params={
                "target": "vault-jwt",
                "consumer": consumer.spec,
                "role_arn": f"auth/{mount}/role/{name}",
                "format": "yaml",
                "snippet": snippet,
                "path": req.snippet_path,
            },
            rollback="remove the snippet file if this step wrote it",
        ),
        _revoke_step(t, cred.uid, accessor, req.verify_days),
    ]
    return Built(target=_target(finding, identity), checks=[token_check, mount_check, role_check], steps=steps)
