"""Long-lived secret rules: ``static-credential``, ``rotation-overdue``, ``multiple-active-credentials``.

Pure functions of the inventory and ``ctx.as_of``. They judge live (enabled, unexpired) non-interactive
credentials only: interactive passwords belong to ``human-use`` and expired ones to
``credential-expired``. Credentials are named by their public id, never by a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import (
    int_param,
    iso,
    kind_label,
    label,
    lifetime_days,
    live,
    static_secrets,
)
from nhiwarden.rules.controls import controls_for

STATIC = "static-credential"
ROTATION = "rotation-overdue"
MULTIPLE = "multiple-active-credentials"


@rule(
    id=STATIC,
    title="Long-lived secret in use",
    severity="medium",
    rationale=(
        "A long-lived secret (access key, service-account key, client secret, legacy token, non-expiring "
        "token) works from anywhere until someone revokes it, and copies of it end up in CI variables, "
        "laptops and logs (OWASP NHI4, NHI7). Short-lived federated credentials (roles, workload identity, "
        "OIDC) remove the secret altogether."
    ),
    params={"max_lifetime_days": 365},
    remediation=("migrate", "rotate"),
)
def static_credential(ctx: RuleContext) -> Iterator[Hit]:
    max_lifetime = int_param(ctx, STATIC, "max_lifetime_days", minimum=1)
    for identity in ctx.identities():
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if credential.interactive or not live(ctx, credential):
                continue
            lifetime = lifetime_days(credential)
            too_long = lifetime is not None and lifetime > max_lifetime
            if not credential.static and not too_long:
                continue
            evidence: dict[str, Any] = {
                "static": credential.static,
                "created_at": iso(credential.created_at),
                "expires_at": iso(credential.expires_at),
                "lifetime_days": lifetime,
                "max_lifetime_days": max_lifetime,
                "lifetime_exceeded": too_long,
                "locations": list(credential.locations),
            }
            if too_long:
                what = f"is valid for {lifetime} days (maximum {max_lifetime})"
            elif credential.expires_at is None:
                what = "is a long-lived secret that never expires"
            else:
                what = "is a long-lived secret"
            yield Hit(
                identity=identity,
                credential=credential,
                message=f"{label(credential)} of {identity.name} {what}",
                evidence=evidence,
                controls=controls_for(STATIC, credential.kind),
            )


@rule(
    id=ROTATION,
    title="Secret not rotated",
    severity="medium",
    rationale=(
        "The longer a secret lives, the more places it has been copied to and the longer a leaked copy "
        "stays useful. CIS AWS, CIS GCP and PCI DSS 8.6.3 expect long-lived keys to be replaced at least "
        "every 90 days."
    ),
    params={"rotation_days": 90},
    remediation=("rotate",),
)
def rotation_overdue(ctx: RuleContext) -> Iterator[Hit]:
    threshold = int_param(ctx, ROTATION, "rotation_days", minimum=1)
    for identity in ctx.identities():
        for credential in static_secrets(ctx, identity):
            age = ctx.days_since(credential.created_at)
            if age is None or age < threshold:
                continue
            yield Hit(
                identity=identity,
                credential=credential,
                message=(f"{label(credential)} of {identity.name} is {age} days old (rotate every {threshold} days)"),
                evidence={
                    "created_at": iso(credential.created_at),
                    "age_days": age,
                    "threshold_days": threshold,
                    "last_used_at": iso(credential.last_used_at),
                    "last_used_source": credential.last_used_source,
                    "locations": list(credential.locations),
                },
                controls=controls_for(ROTATION, credential.kind),
            )


@rule(
    id=MULTIPLE,
    title="More than one active secret",
    severity="low",
    rationale=(
        "Two live secrets of one kind usually mean a rotation that was never finished: the old key still "
        "works, and nobody knows which copy is in use. CIS AWS allows one active access key per user."
    ),
    remediation=("disable", "rotate"),
)
def multiple_active_credentials(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities():
        by_kind: dict[str, list[str]] = {}
        for credential in static_secrets(ctx, identity):
            by_kind.setdefault(credential.kind, []).append(credential.id)
        crowded = {kind: sorted(ids) for kind, ids in sorted(by_kind.items()) if len(ids) > 1}
        if not crowded:
            continue
        parts = [f"{len(ids)} active {kind_label(kind)}s ({', '.join(ids)})" for kind, ids in crowded.items()]
        controls: list[str] = []
        for kind in crowded:
            controls.extend(c for c in controls_for(MULTIPLE, kind) if c not in controls)
        yield Hit(
            identity=identity,
            message=f"{identity.name} has {'; '.join(parts)}",
            evidence={
                "credential_ids": [i for ids in crowded.values() for i in ids],
                "by_kind": crowded,
            },
            controls=controls,
        )
