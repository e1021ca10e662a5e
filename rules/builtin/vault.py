"""Vault/OpenBao-specific rules: root tokens, tokens without TTL, AppRoles without secret-IDs, audit.

Pure functions of the inventory and ``ctx.as_of``; they read the facts the Vault provider put in
``attributes`` (token ``root``/``never_expires``/``period``, role ``bind_secret_id``, scope
``audit_devices``/``usage_signal``). Scope-level findings are reported against the Vault address or
namespace itself (kind ``vault-namespace``), which is not part of the inventory.
"""

from __future__ import annotations

from collections.abc import Iterator

from nhiwarden.findings import Severity
from nhiwarden.model import Credential, Identity, ScopeResult
from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import iso, live

PROVIDERS = ("vault",)


def _scope_identity(scope: ScopeResult) -> Identity:
    return Identity(
        uid=f"vault:{scope.scope}",
        provider="vault",
        kind="vault-namespace",
        scope=scope.scope,
        name=scope.name or scope.scope,
    )


def _tokens(ctx: RuleContext) -> Iterator[tuple[Identity, Credential]]:
    for identity in ctx.identities("vault"):
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if credential.kind == "vault-token" and live(ctx, credential):
                yield identity, credential


@rule(
    id="vault-root-token",
    title="Live Vault root token",
    severity="critical",
    rationale=(
        "A root token can do everything, bypasses every policy and never expires. Vault's own hardening "
        "guide says to revoke root tokens once initial setup is done and to generate one only for an "
        "emergency (operator generate-root); a live one is the estate's master key (OWASP NHI5)."
    ),
    providers=PROVIDERS,
    remediation=("remove-credential",),
)
def vault_root_token(ctx: RuleContext) -> Iterator[Hit]:
    for identity, credential in _tokens(ctx):
        if not credential.attributes.get("root"):
            continue
        yield Hit(
            identity=identity,
            credential=credential,
            message=f"token {credential.id} ({credential.name}) carries the root policy and is still live",
            evidence={
                "accessor": credential.id,
                "policies": credential.attributes.get("policies"),
                "created_at": iso(credential.created_at),
                "expires_at": iso(credential.expires_at),
                "orphan": credential.attributes.get("orphan"),
                "path": credential.attributes.get("path"),
                "last_used_at": iso(credential.last_used_at),
                "last_used_source": credential.last_used_source,
            },
        )


@rule(
    id="vault-token-no-ttl",
    title="Vault token that never expires",
    severity="high",
    rationale=(
        "A token without a TTL, or a periodic token without an explicit maximum TTL, lives for as long as "
        "someone keeps it renewed: it outlives the service, the person and the pipeline that created it "
        "(OWASP NHI7). Give tokens a TTL, or replace them with AppRole/JWT logins that issue short tokens."
    ),
    providers=PROVIDERS,
    remediation=("remove-credential", "migrate"),
)
def vault_token_no_ttl(ctx: RuleContext) -> Iterator[Hit]:
    for identity, credential in _tokens(ctx):
        attrs = credential.attributes
        if attrs.get("root"):
            continue  # vault-root-token reports it
        period = int(attrs.get("period") or 0)
        unbounded_period = period > 0 and not int(attrs.get("explicit_max_ttl") or 0)
        if not (attrs.get("never_expires") or unbounded_period):
            continue
        what = (
            f"is periodic ({period} s) with no explicit max TTL: renewable forever"
            if unbounded_period
            else "has no TTL and never expires"
        )
        yield Hit(
            identity=identity,
            credential=credential,
            message=f"token {credential.id} ({credential.name}) {what}",
            evidence={
                "accessor": credential.id,
                "period": period,
                "explicit_max_ttl": attrs.get("explicit_max_ttl"),
                "ttl": attrs.get("ttl"),
                "expire_time": attrs.get("expire_time"),
                "policies": attrs.get("policies"),
                "created_at": iso(credential.created_at),
            },
        )


@rule(
    id="vault-approle-no-secret-id",
    title="AppRole logs in without a secret-ID",
    severity="high",
    rationale=(
        "With bind_secret_id=false the role ID alone logs in. Role IDs are not treated as secrets (they "
        "sit in config files and CI logs), so anyone inside the bound CIDRs who learns it gets the role's "
        "tokens (OWASP NHI2, NHI4)."
    ),
    providers=PROVIDERS,
    remediation=("reconfigure",),
)
def vault_approle_no_secret_id(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("vault"):
        if identity.kind != "vault-approle" or identity.attributes.get("bind_secret_id", True):
            continue
        yield Hit(
            identity=identity,
            message=f"AppRole {identity.name} does not require a secret-ID: its role ID alone logs in",
            evidence={
                "bind_secret_id": False,
                "secret_id_bound_cidrs": identity.attributes.get("secret_id_bound_cidrs"),
                "token_bound_cidrs": identity.attributes.get("token_bound_cidrs"),
                "policies": identity.attributes.get("policies"),
            },
        )


@rule(
    id="vault-no-audit-device",
    title="No Vault audit device enabled",
    severity="high",
    rationale=(
        "Without an audit device Vault keeps no record of who read which secret or used which token: "
        "incidents cannot be investigated and unused tokens and AppRoles cannot be found, because the "
        "audit log is Vault's only record of use (PCI DSS 10.2, NIST AU-2)."
    ),
    providers=PROVIDERS,
)
def vault_no_audit_device(ctx: RuleContext) -> Iterator[Hit]:
    for scope in ctx.scopes("vault"):
        if "audit_devices" not in scope.attributes or scope.attributes["audit_devices"] is None:
            continue  # child namespace, or unknown (403): no verdict from missing data
        if scope.attributes["audit_devices"]:
            continue
        yield Hit(
            identity=_scope_identity(scope),
            message=f"Vault at {scope.scope} has no audit device enabled",
            evidence={"audit_devices": []},
        )


@rule(
    id="vault-usage-signal-missing",
    title="Vault last-used signal missing",
    severity="info",
    rationale=(
        "Vault and OpenBao record no last-used time for tokens, AppRoles or users; only the audit log "
        "does. Without it nhiwarden makes no unused or dormant verdict for this Vault, so forgotten "
        "identities stay invisible. Pass the file audit log with --vault-audit-log."
    ),
    providers=PROVIDERS,
)
def vault_usage_signal_missing(ctx: RuleContext) -> Iterator[Hit]:
    for scope in ctx.scopes("vault"):
        if "usage_signal" not in scope.attributes or scope.attributes["usage_signal"] is not None:
            continue
        reason = scope.attributes.get("usage_signal_missing") or "no audit log given"
        yield Hit(
            identity=_scope_identity(scope),
            message=f"last use of Vault identities at {scope.scope} is unknown: {reason}",
            evidence={"signal": "last-used", "reason": reason, "fix": "--vault-audit-log <file audit log>"},
        )


def _has_wildcard(values: object) -> bool:
    if isinstance(values, str):
        return "*" in values
    if isinstance(values, list | tuple):
        return any(isinstance(v, str) and "*" in v for v in values)
    return False


@rule(
    id="vault-auth-role-wildcard-binding",
    title="Vault auth role trusts too broadly",
    severity="high",
    rationale=(
        "A Kubernetes auth role bound to every service account in every namespace, or a JWT/OIDC role "
        "with no subject or claim binding, hands Vault tokens to any workload the cluster or issuer "
        "vouches for; a glob such as 'repo:acme/*' trusts every repository and branch of an "
        "organisation (OWASP NHI6)."
    ),
    providers=PROVIDERS,
    remediation=("reconfigure",),
)
def vault_auth_role_wildcard_binding(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("vault"):
        attrs = identity.attributes
        if identity.kind == "vault-k8s-auth-role":
            names = attrs.get("bound_service_account_names") or []
            namespaces = attrs.get("bound_service_account_namespaces") or []
            selector = attrs.get("bound_service_account_namespace_selector")
            any_name, any_ns = "*" in names, "*" in namespaces and not selector
            if not (any_name or any_ns):
                continue
            scope = (
                "every service account in every namespace"
                if any_name and any_ns
                else (
                    "every service account of its namespaces" if any_name else "its service accounts in every namespace"
                )
            )
            yield Hit(
                identity=identity,
                message=f"Kubernetes auth role {identity.name} issues tokens to {scope}",
                evidence={
                    "bound_service_account_names": names,
                    "bound_service_account_namespaces": namespaces,
                    "policies": attrs.get("policies"),
                },
                severity=None if any_name and any_ns else Severity.MEDIUM,
            )
        elif identity.kind == "vault-jwt-role":
            claims = attrs.get("bound_claims") or {}
            subject = attrs.get("bound_subject")
            glob = attrs.get("bound_claims_type") == "glob"
            wildcard_claims = sorted(k for k, v in claims.items() if glob and _has_wildcard(v))
            if claims or subject:
                if not wildcard_claims:
                    continue
                message = f"JWT/OIDC role {identity.name} matches claims by glob: " + ", ".join(
                    f"{k}={claims[k]!r}" for k in wildcard_claims
                )
                severity: Severity | None = Severity.MEDIUM
            else:
                message = f"JWT/OIDC role {identity.name} binds no subject or claim: any token of the issuer logs in"
                severity = None
            yield Hit(
                identity=identity,
                message=message,
                evidence={
                    "bound_claims": claims,
                    "bound_claims_type": attrs.get("bound_claims_type"),
                    "bound_subject": subject,
                    "bound_audiences": attrs.get("bound_audiences"),
                    "policies": attrs.get("policies"),
                },
                severity=severity,
            )
