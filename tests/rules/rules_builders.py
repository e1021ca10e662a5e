"""Builders for rule tests: identities and credentials built directly in the normalized model.

Defaults describe a healthy, recently used identity with one fresh, recently used access key, so
each test changes only the facts it is about. Every age is relative to ``AS_OF``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.config import Config, parse_config
from nhiwarden.findings import Finding
from nhiwarden.model import Credential, Grant, Identity, Inventory, Privilege, ScopeResult
from nhiwarden.rules.engine import evaluate

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
_UNSET: Any = object()


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def ahead(days: float) -> datetime:
    return AS_OF + timedelta(days=days)


def key(
    id: str = "AKIAEXAMPLE0000001",
    *,
    user: str = "svc-ci",
    kind: str = "aws-access-key",
    created: datetime | None = _UNSET,
    last_used: datetime | None = _UNSET,
    source: str | None = "credential-report",
    tracking_since: datetime | None = None,
    expires: datetime | None = None,
    enabled: bool = True,
    static: bool = True,
    interactive: bool = False,
) -> Credential:
    return Credential(
        uid=f"aws:{ACCOUNT}:user/{user}:{kind}/{id}",
        kind=kind,
        id=id,
        created_at=ago(30) if created is _UNSET else created,
        last_used_at=ago(1) if last_used is _UNSET else last_used,
        last_used_source=source,
        last_used_tracking_since=tracking_since,
        expires_at=expires,
        enabled=enabled,
        static=static,
        interactive=interactive,
    )


def password(user: str = "svc-ci", **kw: Any) -> Credential:
    kw.setdefault("kind", "password")
    kw.setdefault("interactive", True)
    return key("console", user=user, **kw)


def grant(privilege: Privilege | str, source: str = "AdministratorAccess", **kw: Any) -> Grant:
    kw.setdefault("source_kind", "managed-policy")
    kw.setdefault("reason", "Action * on Resource *")
    return Grant(privilege=Privilege(privilege), source=source, **kw)


def identity(
    name: str = "svc-ci",
    *,
    kind: str = "aws-iam-user",
    provider: str = "aws",
    credentials: list[Credential] | None = None,
    created: datetime | None = _UNSET,
    last_used: datetime | None = _UNSET,
    source: str | None = "credential-report",
    tracking_since: datetime | None = None,
    enabled: bool = True,
    system: bool = False,
    owner: str | None = None,
    grants: list[Grant] | None = None,
    attributes: dict[str, Any] | None = None,
    uid: str | None = None,
) -> Identity:
    kind_path = "role" if kind == "aws-iam-role" else "user"
    return Identity(
        uid=uid or f"{provider}:{ACCOUNT}:{kind_path}/{name}",
        provider=provider,
        kind=kind,
        scope=ACCOUNT,
        name=name,
        created_at=ago(400) if created is _UNSET else created,
        last_used_at=ago(1) if last_used is _UNSET else last_used,
        last_used_source=source,
        last_used_tracking_since=tracking_since,
        enabled=enabled,
        system=system,
        owner=owner,
        grants=grants or [],
        credentials=[key(user=name)] if credentials is None else credentials,
        attributes=attributes or {},
    )


def inventory(*identities: Identity) -> Inventory:
    by_provider: dict[str, list[Identity]] = {}
    for ident in identities:
        by_provider.setdefault(ident.provider, []).append(ident)
    return Inventory(
        scopes=[ScopeResult(provider=p, scope=ACCOUNT, identities=idents) for p, idents in by_provider.items()]
    )


def scan(
    *identities: Identity, config: Config | dict[str, Any] | None = None, as_of: datetime = AS_OF
) -> list[Finding]:
    if isinstance(config, dict):
        config = parse_config(config)
    return evaluate(inventory(*identities), as_of=as_of, config=config or Config())


def of_rule(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id]


def rule_ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}
