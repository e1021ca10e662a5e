"""GCP-specific rules: leaked keys, privileged default service accounts, service-account sprawl.

Pure functions of the inventory and ``ctx.as_of``; they read only the normalized model and the
``attributes`` the GCP provider documents (credential ``exposure``, identity ``default_service_account``,
scope ``service_account_count`` / ``service_account_quota``). No I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nhiwarden.findings import Severity
from nhiwarden.model import Identity
from nhiwarden.rules import Hit, RuleContext, rule

BASIC_ROLES = ("roles/owner", "roles/editor")


@rule(
    id="gcp-key-exposed",
    title="Service account key leaked or compromised",
    severity="critical",
    rationale="Google found this key's private material in a public place (or detected its abuse). Anyone "
    "who saw it can act as the service account until the key is deleted.",
    providers=("gcp",),
)
def key_exposed(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("gcp"):
        for cred in identity.credentials:
            exposure = cred.attributes.get("exposure")
            if cred.kind != "gcp-sa-key" or not exposure:
                continue
            state = "still enabled" if cred.enabled else "disabled but not deleted"
            yield Hit(
                identity=identity,
                credential=cred,
                message=f"Key {cred.id} of {identity.name} is flagged by Google as {exposure} and is {state}; "
                "delete it and rotate to a new credential (or workload identity).",
                evidence={
                    "exposure": exposure,
                    "extended_status": cred.attributes.get("extended_status", []),
                    "disable_reason": cred.attributes.get("disable_reason"),
                    "enabled": cred.enabled,
                    "locations": list(cred.locations),
                    "last_used_at": cred.last_used_at.isoformat() if cred.last_used_at else None,
                },
                severity=None if cred.enabled else Severity.HIGH,
            )


@rule(
    id="gcp-default-service-account-privileged",
    title="Default service account holds Editor or Owner",
    severity="high",
    rationale="Compute Engine and App Engine default service accounts are attached to workloads "
    "automatically; with Editor or Owner every VM or app using them can change nearly anything in the "
    "project.",
    providers=("gcp",),
)
def default_sa_privileged(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("gcp"):
        which = identity.attributes.get("default_service_account")
        if not which:
            continue
        grants = [g for g in identity.grants if g.source in BASIC_ROLES]
        if not grants:
            continue
        roles = sorted({g.source for g in grants})
        yield Hit(
            identity=identity,
            message=f"The default {which} service account {identity.name} holds {', '.join(roles)}; grant it "
            "only the roles its workloads need, or attach a dedicated service account.",
            evidence={
                "default_service_account": which,
                "roles": roles,
                "bindings": [g.resource_scope for g in grants],
            },
        )


@rule(
    id="gcp-service-account-quota",
    title="Project close to its service-account quota",
    severity="medium",
    rationale="A project within 10% of its service-account quota (100 by default) is a sign of account "
    "sprawl: many accounts nobody owns, and new workloads that will soon be unable to get their own.",
    params={"headroom_percent": 10},
    providers=("gcp",),
)
def service_account_quota(ctx: RuleContext) -> Iterator[Hit]:
    headroom = float(ctx.params.get("headroom_percent", 10))
    for scope in ctx.scopes("gcp"):
        count = scope.attributes.get("service_account_count")
        quota = scope.attributes.get("service_account_quota")
        if not isinstance(count, int) or not isinstance(quota, int) or quota <= 0:
            continue
        threshold = math.ceil(quota * (1 - headroom / 100))
        if count < threshold:
            continue
        project = Identity(
            uid=f"gcp:{scope.scope}:project",
            provider="gcp",
            kind="gcp-project",
            scope=scope.scope,
            name=scope.name or scope.scope,
        )
        yield Hit(
            identity=project,
            message=f"Project {scope.scope} has {count} service accounts of a quota of {quota} "
            f"(alert at {threshold}); remove unused accounts before raising the quota.",
            evidence={
                "service_account_count": count,
                "quota": quota,
                "threshold": threshold,
                "headroom_percent": headroom,
            },
        )
