"""Ownership rule: ``no-owner``.

Pure function of the inventory. Only some platforms have an owner field in their API (Azure applications
have ``owners``); elsewhere the owner lives in a tag or label a provider maps onto ``Identity.owner``,
which many organisations do not set. So the rule checks only the kinds named in its ``kinds`` parameter
(Azure applications by default); ``kinds: ["*"]`` checks every identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import str_list_param

NO_OWNER = "no-owner"


@rule(
    id=NO_OWNER,
    title="No owner recorded",
    severity="low",
    rationale=(
        "An identity without an owner has nobody to rotate its secrets, answer for its permissions or "
        "retire it when its service goes away (OWASP NHI1; ISO 27001 A.5.9 asks for owners in the asset "
        "inventory)."
    ),
    params={"kinds": ["azure-application"]},
    remediation=("assign-owner",),
)
def no_owner(ctx: RuleContext) -> Iterator[Hit]:
    kinds = str_list_param(ctx, NO_OWNER, "kinds")
    for identity in ctx.identities():
        if identity.owner is not None and identity.owner.strip():
            continue
        if not any(fnmatchcase(identity.kind, pattern) for pattern in kinds):
            continue
        yield Hit(
            identity=identity,
            message=f"{identity.kind} {identity.name} has no owner",
            evidence={"kind": identity.kind, "owner": None, "checked_kinds": kinds},
        )
