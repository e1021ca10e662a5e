"""Shared helpers of the generic rules: typed parameters, credential labels, usage and expiry facts.

Pure helpers over the normalized model and ``ctx.as_of``: no I/O, no clock, no rule registration.
Never put a secret in a message or evidence: credentials are named by their public ``id`` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from nhiwarden.errors import ConfigError
from nhiwarden.model import Credential, Identity
from nhiwarden.rules.base import RuleContext, idle_since

_KIND_LABELS = {
    "aws-access-key": "access key",
    "password": "console password",
    "aws-console-password": "console password",
    "gcp-sa-key": "service account key",
    "gcp-api-key": "API key",
    "azure-client-secret": "client secret",
    "azure-certificate": "certificate",
    "k8s-legacy-token": "legacy token",
    "vault-token": "token",
    "vault-secret-id": "secret ID",
    "vault-userpass": "userpass password",
}


def int_param(ctx: RuleContext, rule_id: str, name: str, *, minimum: int = 0) -> int:
    """An integer parameter; a wrong type or value is a config error naming the field."""
    value = ctx.params.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"must be an integer >= {minimum}, got {value!r}", field=f"rules.{rule_id}.params.{name}")
    return value


def bool_param(ctx: RuleContext, rule_id: str, name: str) -> bool:
    value = ctx.params.get(name)
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {value!r}", field=f"rules.{rule_id}.params.{name}")
    return value


def str_list_param(ctx: RuleContext, rule_id: str, name: str) -> list[str]:
    value = ctx.params.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"must be a list of strings, got {value!r}", field=f"rules.{rule_id}.params.{name}")
    return list(value)


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def kind_label(kind: str) -> str:
    """A human name for a credential kind, e.g. ``access key`` for ``aws-access-key``."""
    return _KIND_LABELS.get(kind, kind.replace("-", " "))


def label(credential: Credential) -> str:
    """A human name for a credential, e.g. ``access key AKIAIOSFODNN7EXAMPLE`` (public id only)."""
    return f"{kind_label(credential.kind)} {credential.id}"


def is_expired(ctx: RuleContext, credential: Credential) -> bool:
    """True when the credential's end date has passed: only ``credential-expired`` judges it then."""
    return credential.expires_at is not None and credential.expires_at <= ctx.as_of


def live(ctx: RuleContext, credential: Credential) -> bool:
    """Enabled and not past its end date: a credential that can authenticate today."""
    return credential.enabled and not is_expired(ctx, credential)


def static_secrets(ctx: RuleContext, identity: Identity) -> Iterator[Credential]:
    """Live, long-lived, non-interactive secrets of an identity, in a stable order."""
    for credential in sorted(identity.credentials, key=lambda c: c.uid):
        if credential.static and not credential.interactive and live(ctx, credential):
            yield credential


def lifetime_days(credential: Credential) -> int | None:
    """Whole days from creation to expiry; None when either end is unknown."""
    if credential.created_at is None or credential.expires_at is None:
        return None
    return int((credential.expires_at - credential.created_at).total_seconds() // 86400)


def identity_idle_since(ctx: RuleContext, identity: Identity) -> datetime | None:
    """Since when an identity has provably not authenticated; None when its usage is unknown.

    The identity's own signal, moved later by any live credential of known usage that was used or
    created more recently (a key issued last week means the identity is being provisioned, not left
    behind). Credentials of unknown usage never move it.
    """
    since = idle_since(identity)
    if since is None:
        return None
    for credential in identity.credentials:
        if credential.usage_known and live(ctx, credential):
            cred_since = idle_since(credential)
            if cred_since is not None and cred_since > since:
                since = cred_since
    return since


def usage_evidence(item: Identity | Credential, idle_days: int, threshold: int) -> dict[str, Any]:
    return {
        "last_used_at": iso(item.last_used_at),
        "last_used_source": item.last_used_source,
        "created_at": iso(item.created_at),
        "tracking_since": iso(item.last_used_tracking_since),
        "idle_days": idle_days,
        "threshold_days": threshold,
    }


def idle_phrase(item: Identity | Credential, idle_days: int, since: datetime) -> str:
    """``unused for 120 days`` or ``never used in the 120 days since creation``."""
    if item.last_used_at is not None:
        return f"unused for {idle_days} days"
    if item.last_used_tracking_since is not None and since == item.last_used_tracking_since:
        return f"not used in the {idle_days} days since usage tracking began"
    return f"never used in the {idle_days} days since creation"
