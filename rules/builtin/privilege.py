"""Privilege and sign-in rules: ``over-privileged`` and ``human-use``.

Pure functions of the inventory and ``ctx.as_of``. Providers decide what a grant's privilege level is and
record why (source, reason, permissions); these rules only report it, with that evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nhiwarden.findings import Severity
from nhiwarden.model import Grant, Privilege
from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import kind_label, label, live, static_secrets

OVER_PRIVILEGED = "over-privileged"
HUMAN_USE = "human-use"

_RISKY = (Privilege.ADMIN, Privilege.PRIVILEGE_ESCALATION)


def _grant_evidence(grant: Grant) -> dict[str, Any]:
    return {
        "privilege": grant.privilege.value,
        "source": grant.source,
        "source_kind": grant.source_kind,
        "via": grant.via,
        "resource_scope": grant.resource_scope,
        "reason": grant.reason,
        "permissions": list(grant.permissions),
    }


def _grant_key(grant: Grant) -> tuple[int, str, str, str, str]:
    scope = grant.resource_scope or ""
    return (grant.privilege.rank, grant.source_kind, grant.source, grant.via or "", scope)


@rule(
    id=OVER_PRIVILEGED,
    title="Admin or privilege-escalation rights",
    severity="high",
    rationale=(
        "A non-human identity with admin rights, or rights that let it grant itself admin, turns any leak "
        "of its credentials into a full compromise (OWASP NHI5). Least privilege is required by PCI DSS "
        "7.2.5 for system accounts. Severity is critical when an admin identity also holds a live "
        "long-lived secret, the combination attackers look for first."
    ),
    remediation=("remove-grant",),
)
def over_privileged(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities():
        if not identity.enabled:
            continue
        risky = sorted((g for g in identity.grants if g.privilege in _RISKY), key=_grant_key)
        if not risky:
            continue
        worst = risky[0]
        admin = worst.privilege is Privilege.ADMIN
        secrets = [c.id for c in static_secrets(ctx, identity)]
        controls: list[str] = []
        for grant in risky:
            controls.extend(c for c in grant.controls if c not in controls)
        more = f" and {len(risky) - 1} more grant{'s' if len(risky) > 2 else ''}" if len(risky) > 1 else ""
        where = f" via {worst.via}" if worst.via else ""
        message = (
            f"{identity.name} holds {worst.privilege.value} rights through {worst.source_kind} "
            f"{worst.source}{where}{more}"
        )
        if admin and secrets:
            message += f", and authenticates with a long-lived secret ({', '.join(secrets)})"
        yield Hit(
            identity=identity,
            message=message,
            evidence={
                "privilege": worst.privilege.value,
                "grants": [_grant_evidence(g) for g in risky],
                "static_credentials": secrets,
            },
            severity=Severity.CRITICAL if admin and secrets else None,
            controls=controls,
        )


@rule(
    id=HUMAN_USE,
    title="Non-human identity used by a person",
    severity="high",
    rationale=(
        "A service identity that a person can sign in with mixes two lifecycles: actions cannot be "
        "attributed to a person, the password outlives the person's access, and MFA and session policies "
        "for people are bypassed (OWASP NHI10, PCI DSS 8.6.1)."
    ),
    remediation=("disable",),
)
def human_use(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities():
        if not identity.enabled:
            continue
        creds = sorted(identity.credentials, key=lambda c: c.uid)
        interactive = [c for c in creds if c.interactive and live(ctx, c)]
        if not interactive:
            continue
        machine = [c for c in creds if not c.interactive and live(ctx, c)]
        marked = identity.attributes.get("non_human") is True
        if not machine and not marked:
            continue
        first = interactive[0]
        why = f"also has {', '.join(label(c) for c in machine)}" if machine else "is marked as a non-human identity"
        yield Hit(
            identity=identity,
            credential=first,
            message=f"{identity.name} has a {kind_label(first.kind)} for sign-in and {why}",
            evidence={
                "interactive_credentials": [c.id for c in interactive],
                "non_interactive_credentials": [c.id for c in machine],
                "non_human_attribute": marked,
            },
        )
