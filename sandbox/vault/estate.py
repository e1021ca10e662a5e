"""Seed a realistic Vault/OpenBao estate through the real API (hvac), for the tests and the demo.

Owns the estate's shape: policies from harmless to admin, tokens (root, periodic, over-privileged,
short-lived), AppRoles (a used CI role, a forgotten admin role with never-expiring secret-IDs, a role
that needs no secret-ID), userpass machine accounts, KV v2 secrets that hold cloud credentials, and
optionally a namespace tree. Every secret value it writes is a random canary the caller can search for
in every output. Talks only to the loopback server it is given.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

POLICIES = {
    "admin-all": 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n',
    "policy-writer": (
        'path "sys/policies/acl/*" {\n  capabilities = ["create", "update", "read"]\n}\n'
        'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'
    ),
    "ci-deploy": (
        'path "secret/data/ci/*" {\n  capabilities = ["create", "update", "read"]\n}\n'
        'path "secret/metadata/ci/*" {\n  capabilities = ["list"]\n}\n'
    ),
    "app-read": 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n',
}


def canary(label: str) -> str:
    return f"nhw-canary-{label}-{secrets.token_hex(12)}"


@dataclass
class SeededEstate:
    """Public ids of what was seeded, and the canary secret values planted in it."""

    tokens: dict[str, str] = field(default_factory=dict)  # name -> accessor
    secret_ids: dict[str, str] = field(default_factory=dict)  # role -> secret-id accessor
    canaries: list[str] = field(default_factory=list)
    secret_tokens: dict[str, str] = field(default_factory=dict)  # name -> token value (tests only)
    namespaces: list[str] = field(default_factory=list)


def _client(addr: str, token: str, namespace: str | None = None) -> Any:
    import hvac

    return hvac.Client(url=addr, token=token, namespace=namespace)


def scanner_policy_text() -> str:
    from importlib import resources

    policy = resources.files("nhiwarden.providers.vault") / "policy" / "nhiwarden-scanner.hcl"
    return policy.read_text(encoding="utf-8")


def seed_estate(addr: str, root_token: str, *, namespaces: bool = True) -> SeededEstate:
    """Create the estate; returns accessors and canaries. Idempotent enough for one fresh dev server."""
    c = _client(addr, root_token)
    estate = SeededEstate()
    for name, text in POLICIES.items():
        c.sys.create_or_update_acl_policy(name=name, policy=text)
    c.sys.create_or_update_acl_policy(name="nhiwarden-scanner", policy=scanner_policy_text())
    c.sys.enable_auth_method("approle")
    c.sys.enable_auth_method("userpass")

    def token(name: str, **kwargs: Any) -> str:
        auth = c.auth.token.create(display_name=name, **kwargs)["auth"]
        estate.tokens[name] = auth["accessor"]
        estate.secret_tokens[name] = auth["client_token"]
        return str(auth["client_token"])

    token("break-glass", policies=["root"], no_parent=True, meta={"owner": "platform"})
    token("ci-periodic", policies=["ci-deploy"], period="24h", meta={"owner": "team-ci"})
    token("policy-bot", policies=["policy-writer"], ttl="720h", meta={"owner": "team-sec"})
    token("app-short", policies=["app-read"], ttl="1h")
    token("scanner", policies=["nhiwarden-scanner"], ttl="2h", no_default_policy=True)

    # AppRole: a used CI role, a forgotten admin role, a role that logs in without a secret-ID
    c.auth.approle.create_or_update_approle("ci", token_policies=["ci-deploy"], secret_id_ttl="0")
    c.auth.approle.create_or_update_approle("legacy-batch", token_policies=["admin-all"], secret_id_ttl="0")
    c.auth.approle.create_or_update_approle(
        "reports", token_policies=["app-read"], secret_id_ttl="720h", secret_id_num_uses=10
    )
    c.auth.approle.create_or_update_approle(
        "open-kiosk", token_policies=["app-read"], bind_secret_id=False, secret_id_bound_cidrs=["127.0.0.1/32"]
    )
    for role in ("ci", "legacy-batch", "reports"):
        sid = c.auth.approle.generate_secret_id(role, metadata={"owner": f"team-{role}"})["data"]
        estate.secret_ids[role] = sid["secret_id_accessor"]
        estate.canaries.append(sid["secret_id"])
    ci_role_id = c.auth.approle.read_role_id("ci")["data"]["role_id"]
    ci_secret = c.auth.approle.generate_secret_id("ci", metadata={"owner": "team-ci", "host": "runner-2"})["data"]
    estate.secret_ids["ci-runner-2"] = ci_secret["secret_id_accessor"]
    estate.canaries.append(ci_secret["secret_id"])
    login = _client(addr, "").auth.approle.login(ci_role_id, ci_secret["secret_id"], use_token=False)["auth"]
    estate.tokens["ci-login"] = login["accessor"]
    estate.secret_tokens["ci-login"] = login["client_token"]
    _client(addr, login["client_token"]).auth.token.lookup_self()
    # an identity group grants the CI entity an extra policy (tokens show it as identity_policies)
    c.adapter.post(
        "/v1/identity/group",
        json={"name": "ci-readers", "policies": ["app-read"], "member_entity_ids": [login["entity_id"]]},
    )

    # federated auth roles: no secret of their own, but their bindings decide who gets tokens
    c.sys.enable_auth_method("kubernetes")
    c.sys.enable_auth_method("jwt")
    c.adapter.post(
        "/v1/auth/kubernetes/role/any-pod",
        json={
            "bound_service_account_names": ["*"],
            "bound_service_account_namespaces": ["*"],
            "token_policies": ["app-read"],
        },
    )
    c.adapter.post(
        "/v1/auth/kubernetes/role/payments-api",
        json={
            "bound_service_account_names": ["payments-api"],
            "bound_service_account_namespaces": ["payments"],
            "token_policies": ["app-read"],
        },
    )
    c.adapter.post(
        "/v1/auth/jwt/role/github-deploy",
        json={
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["https://github.com/acme"],
            "bound_claims_type": "glob",
            "bound_claims": {"sub": "repo:acme/*"},
            "token_policies": ["ci-deploy"],
        },
    )

    # userpass machine accounts: one in use, one forgotten with privilege-escalation rights
    backup_pw, legacy_pw = canary("pw-backup"), canary("pw-legacy")
    estate.canaries += [backup_pw, legacy_pw]
    c.auth.userpass.create_or_update_user("svc-backup", backup_pw, token_policies=["app-read"])
    c.auth.userpass.create_or_update_user("svc-legacy", legacy_pw, token_policies=["policy-writer"])
    up = _client(addr, "").auth.userpass.login("svc-backup", backup_pw, use_token=False)["auth"]
    estate.tokens["svc-backup-login"] = up["accessor"]
    estate.secret_tokens["svc-backup-login"] = up["client_token"]

    # KV v2 (dev server mounts it at secret/): cloud credentials, a DB password, and harmless config
    aws_secret = canary("aws")
    gcp_blob = '{"type": "service_account", "private_key": "' + canary("gcp") + '"}'
    azure_secret = canary("azure")
    db_password = canary("db")
    estate.canaries += [aws_secret, gcp_blob, azure_secret, db_password]
    kv = c.secrets.kv.v2
    kv.create_or_update_secret(
        "ci/aws-deployer",
        secret={"aws_access_key_id": "AKIAEXAMPLEDEPLOYER1", "aws_secret_access_key": aws_secret},
    )
    kv.update_metadata("ci/aws-deployer", custom_metadata={"owner": "team-ci", "access_key_id": "AKIAEXAMPLEDEPLOYER1"})
    kv.create_or_update_secret("gcp/service-accounts/exporter", secret={"key.json": gcp_blob})
    kv.create_or_update_secret(
        "app/azure-sp", secret={"client_id": "11111111-2222", "client_secret": azure_secret, "tenant_id": "t-1"}
    )
    kv.create_or_update_secret("app/db/orders", secret={"username": "orders", "password": db_password})
    kv.create_or_update_secret("app/web/settings", secret={"theme": "dark", "feature_x": "on"})

    if namespaces:
        _seed_namespaces(addr, root_token, estate)
    return estate


def _seed_namespaces(addr: str, root_token: str, estate: SeededEstate) -> None:
    c = _client(addr, root_token)
    c.adapter.post("/v1/sys/namespaces/team-a")
    ns = _client(addr, root_token, "team-a")
    ns.adapter.post("/v1/sys/namespaces/payments")
    estate.namespaces += ["team-a", "team-a/payments"]
    ns.sys.enable_auth_method("approle")
    ns.sys.create_or_update_acl_policy(name="ns-admin", policy=POLICIES["admin-all"])
    ns.auth.approle.create_or_update_approle("ns-worker", token_policies=["ns-admin"], secret_id_ttl="0")
    sid = ns.auth.approle.generate_secret_id("ns-worker")["data"]
    estate.secret_ids["team-a/ns-worker"] = sid["secret_id_accessor"]
    estate.canaries.append(sid["secret_id"])
    ns_role_id = ns.auth.approle.read_role_id("ns-worker")["data"]["role_id"]
    _client(addr, "", "team-a").auth.approle.login(ns_role_id, sid["secret_id"], use_token=False)
    auth = ns.auth.token.create(display_name="ns-ops", policies=["ns-admin"], ttl="72h")["auth"]
    estate.tokens["team-a/ns-ops"] = auth["accessor"]
    estate.secret_tokens["team-a/ns-ops"] = auth["client_token"]
    child = _client(addr, root_token, "team-a/payments")
    child.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    pw = canary("payments-db")
    estate.canaries.append(pw)
    child.secrets.kv.v2.create_or_update_secret(
        "db/ledger", secret={"db_password": pw, "db_user": "ledger"}, mount_point="kv"
    )
