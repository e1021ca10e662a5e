"""Expiry rules: ``credential-expiring`` (the outage warning) and ``credential-expired`` (left behind).

Pure functions of the inventory and ``ctx.as_of``. A credential without ``expires_at`` never expires (or
its expiry is unknown) and is judged by ``static-credential`` instead. Short-lived credentials expire by
design and are not warned about.
"""

from __future__ import annotations

from collections.abc import Iterator

from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import int_param, is_expired, iso, label, lifetime_days

EXPIRING = "credential-expiring"
EXPIRED = "credential-expired"


@rule(
    id=EXPIRING,
    title="Credential expires soon",
    severity="medium",
    rationale=(
        "When a long-lived secret reaches its end date the service that uses it stops working. Replacing "
        "it before then avoids the outage, and the rotation is a chance to move to federation (OWASP NHI7)."
    ),
    params={"expiry_warning_days": 30},
    remediation=("rotate",),
)
def credential_expiring(ctx: RuleContext) -> Iterator[Hit]:
    window = int_param(ctx, EXPIRING, "expiry_warning_days", minimum=0)
    for identity in ctx.identities():
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if not credential.enabled or credential.interactive or credential.expires_at is None:
                continue
            if is_expired(ctx, credential):
                continue
            left_seconds = (credential.expires_at - ctx.as_of).total_seconds()
            if left_seconds > window * 86400:
                continue
            lifetime = lifetime_days(credential)
            # Short-lived credentials (a one-hour token) expire by design: warn only for long-lived ones.
            if not credential.static and (lifetime is None or lifetime <= window):
                continue
            days_left = int(left_seconds // 86400)
            when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
            yield Hit(
                identity=identity,
                credential=credential,
                message=(f"{label(credential)} of {identity.name} expires {when} (warning window {window} days)"),
                evidence={
                    "expires_at": iso(credential.expires_at),
                    "days_left": days_left,
                    "warning_days": window,
                    "created_at": iso(credential.created_at),
                    "last_used_at": iso(credential.last_used_at),
                    "last_used_source": credential.last_used_source,
                },
            )


@rule(
    id=EXPIRED,
    title="Expired credential still present",
    severity="low",
    rationale=(
        "An expired credential can no longer authenticate, so the direct risk is low, but it shows a "
        "secret that was never rotated or cleaned up: either its service already broke or the service is "
        "gone and the identity is left behind (OWASP NHI1, NHI7). Removing it keeps the inventory honest."
    ),
    remediation=("remove-credential",),
)
def credential_expired(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities():
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if not is_expired(ctx, credential):
                continue
            days = ctx.days_since(credential.expires_at)
            ago = "today" if not days else f"{days} day{'s' if days != 1 else ''} ago"
            yield Hit(
                identity=identity,
                credential=credential,
                message=f"{label(credential)} of {identity.name} expired {ago} and is still present",
                evidence={
                    "expires_at": iso(credential.expires_at),
                    "days_since_expiry": days,
                    "enabled": credential.enabled,
                    "created_at": iso(credential.created_at),
                    "last_used_at": iso(credential.last_used_at),
                },
            )
