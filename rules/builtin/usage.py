"""Usage rules: ``unused-credential`` and ``dormant-identity``.

Pure functions of the inventory and ``ctx.as_of``. They never turn unknown usage into a verdict: when a
provider cannot know whether something was used (``last_used_source`` is None) there is no finding;
the provider reports the missing signal on its scope instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from nhiwarden.model import Identity
from nhiwarden.rules import Hit, RuleContext, idle_since, rule
from nhiwarden.rules.builtin._common import (
    bool_param,
    identity_idle_since,
    idle_phrase,
    int_param,
    iso,
    label,
    live,
    usage_evidence,
)
from nhiwarden.rules.controls import controls_for

UNUSED = "unused-credential"
DORMANT = "dormant-identity"


def dormant_days_of(ctx: RuleContext, identity: Identity, threshold: int) -> int | None:
    """How many days an enabled identity has been idle when that reaches ``threshold``, else None.

    The single definition of "dormant", shared by ``dormant-identity`` and the skip in
    ``unused-credential`` so that one root cause gives one finding.
    """
    if not identity.enabled:
        return None
    days = ctx.days_since(identity_idle_since(ctx, identity))
    if days is None or days < threshold:
        return None
    return days


@rule(
    id=UNUSED,
    title="Credential not used recently",
    severity="medium",
    rationale=(
        "A credential nobody uses is pure risk: it can still be stolen and used, and nobody would notice. "
        "Credentials left behind after a service is retired are the commonest NHI failure (OWASP NHI1); "
        "PCI DSS 8.2.6 asks for accounts unused for 90 days to be disabled, CIS AWS for 45 days."
    ),
    params={"unused_days": 90, "skip_when_dormant": True, "dormant_days": 180},
    remediation=("disable", "offboard"),
)
def unused_credential(ctx: RuleContext) -> Iterator[Hit]:
    threshold = int_param(ctx, UNUSED, "unused_days", minimum=1)
    skip_when_dormant = bool_param(ctx, UNUSED, "skip_when_dormant")
    dormant_threshold = int_param(ctx, UNUSED, "dormant_days", minimum=1)
    if ctx.enabled and DORMANT not in ctx.enabled:
        skip_when_dormant = False  # nobody else reports these identities
    elif DORMANT in ctx.params_of:
        dormant_threshold = int(ctx.params_of[DORMANT].get("dormant_days", dormant_threshold))
    for identity in ctx.identities():
        if not identity.enabled:
            continue
        if skip_when_dormant and dormant_days_of(ctx, identity, dormant_threshold) is not None:
            continue  # dormant-identity reports the root cause once
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if not live(ctx, credential) or not credential.usage_known:
                continue
            since = idle_since(credential)
            days = ctx.days_since(since)
            if since is None or days is None or days < threshold:
                continue
            yield Hit(
                identity=identity,
                credential=credential,
                message=(
                    f"{label(credential)} of {identity.name} {idle_phrase(credential, days, since)} "
                    f"(threshold {threshold})"
                ),
                evidence=usage_evidence(credential, days, threshold),
                controls=controls_for(UNUSED, credential.kind),
            )


@rule(
    id=DORMANT,
    title="Identity dormant",
    severity="medium",
    rationale=(
        "An identity that has not authenticated for months is most likely left over from a retired "
        "service or a departed owner, yet keeps its permissions (OWASP NHI1). Google calls a service "
        "account unused for 180 days dormant; offboarding it removes every credential and grant at once."
    ),
    params={"dormant_days": 180},
    remediation=("offboard", "disable"),
)
def dormant_identity(ctx: RuleContext) -> Iterator[Hit]:
    threshold = int_param(ctx, DORMANT, "dormant_days", minimum=1)
    for identity in ctx.identities():
        days = dormant_days_of(ctx, identity, threshold)
        if days is None:
            continue
        own_since = idle_since(identity)
        if identity.last_used_at is None and own_since is not None and ctx.days_since(own_since) == days:
            phrase = idle_phrase(identity, days, own_since)
        else:
            phrase = f"has not authenticated for {days} days"
        evidence = usage_evidence(identity, days, threshold)
        evidence["live_credentials"] = sorted(c.id for c in identity.credentials if live(ctx, c))
        evidence["credentials_last_used_at"] = {
            c.id: iso(c.last_used_at)
            for c in sorted(identity.credentials, key=lambda c: c.uid)
            if c.usage_known and c.last_used_at is not None
        }
        yield Hit(
            identity=identity,
            message=f"{identity.kind} {identity.name} {phrase} (threshold {threshold})",
            evidence=evidence,
        )
