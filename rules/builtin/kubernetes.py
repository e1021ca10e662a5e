"""Kubernetes-specific rules: default service account in use (CIS 5.1.5), token automount (CIS 5.1.6),
bindings to roles that do not exist.

Pure functions of the inventory: they read the facts the Kubernetes provider records in
``Identity.attributes`` (usage by pods and workload templates, the effective automount setting, the
bindings that reach each account) and its grants. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator

from nhiwarden.findings import Severity
from nhiwarden.model import Identity, Privilege
from nhiwarden.rules import Hit, RuleContext, rule

PROVIDER = "kubernetes"
_RISKY = (Privilege.ADMIN, Privilege.PRIVILEGE_ESCALATION)


def _accounts(ctx: RuleContext) -> Iterator[Identity]:
    """Every Kubernetes service account, platform-created ``default`` accounts included."""
    for scope in ctx.scopes(PROVIDER):
        for identity in scope.identities:
            if identity.kind == "k8s-service-account":
                yield identity


@rule(
    id="k8s-default-service-account",
    title="Default service account in use",
    severity="medium",
    rationale=(
        "Every pod that names no service account runs as its namespace's 'default' account, so rights "
        "granted to it reach every such workload, and workloads cannot be told apart in audit logs. "
        "CIS Kubernetes 5.1.5: the default account should not be used by workloads nor granted roles; "
        "create a dedicated account per workload. High when the default account holds admin or "
        "privilege-escalation rights."
    ),
    providers=(PROVIDER,),
    remediation=("reconfigure", "remove-grant"),
)
def default_service_account(ctx: RuleContext) -> Iterator[Hit]:
    for identity in _accounts(ctx):
        attrs = identity.attributes
        if not attrs.get("is_default"):
            continue
        users = ([f"{attrs.get('used_by_pods', 0)} pod(s)"] if attrs.get("used_by_pods") else []) + list(
            attrs.get("used_by_workloads") or []
        )
        direct = [g for g in identity.grants if g.via is None or g.via.startswith("user/")]
        risky = [g for g in identity.grants if g.privilege in _RISKY]
        if not users and not direct and not risky:
            continue
        reasons = []
        if users:
            reasons.append(f"used by {', '.join(users)}")
        if direct or risky:
            named = sorted({g.source for g in [*direct, *risky]})
            reasons.append(f"granted {', '.join(named)}")
        controls: list[str] = []
        for g in risky:
            controls.extend(c for c in g.controls if c not in controls)
        yield Hit(
            identity=identity,
            message=f"default service account {identity.name} is {' and '.join(reasons)}",
            evidence={
                "used_by_pods": attrs.get("used_by_pods", 0),
                "used_by_workloads": attrs.get("used_by_workloads") or [],
                "direct_grants": [g.source for g in direct],
                "risky_grants": [
                    {"source": g.source, "privilege": g.privilege.value, "via": g.via, "permissions": g.permissions}
                    for g in risky
                ],
                "group_bindings": attrs.get("group_bindings") or [],
            },
            severity=Severity.HIGH if risky else None,
            controls=controls,
        )


@rule(
    id="k8s-token-automount",
    title="Service account token mounted where it is not needed",
    severity="low",
    rationale=(
        "Unless automountServiceAccountToken is false, every pod gets an API token for its account; a "
        "compromised container can then call the API as that account. CIS Kubernetes 5.1.6: mount tokens "
        "only where necessary. The effective setting is judged (pod or template wins over the account, "
        "default true), and only where the token is plainly unnecessary: the account has no binding of "
        "its own, or it is a namespace's default account."
    ),
    providers=(PROVIDER,),
    remediation=("reconfigure",),
)
def token_automount(ctx: RuleContext) -> Iterator[Hit]:
    for identity in _accounts(ctx):
        attrs = identity.attributes
        if identity.system and not attrs.get("is_default"):
            continue
        mounted_by = list(attrs.get("token_mounted_by") or [])
        if not mounted_by:
            continue
        own_bindings = [
            b for b in attrs.get("direct_bindings") or [] if b not in (attrs.get("bindings_to_missing_roles") or [])
        ]
        if own_bindings and not attrs.get("is_default"):
            continue
        why = (
            "it is the namespace's default account"
            if attrs.get("is_default")
            else "the account has no role binding of its own"
        )
        yield Hit(
            identity=identity,
            message=f"{identity.name}: API token mounted into {', '.join(mounted_by)} although {why}",
            evidence={
                "token_mounted_by": mounted_by,
                "account_setting": attrs.get("automount_service_account_token"),
                "pod_overrides": attrs.get("automount_overrides") or [],
                "direct_bindings": own_bindings,
            },
        )


@rule(
    id="k8s-binding-to-missing-role",
    title="Binding to a role that does not exist",
    severity="low",
    rationale=(
        "A RoleBinding or ClusterRoleBinding whose role is missing grants nothing today, but whoever "
        "later creates a role of that name silently grants it to the bound service account. Remove "
        "stale bindings."
    ),
    providers=(PROVIDER,),
    remediation=("remove-grant",),
)
def binding_to_missing_role(ctx: RuleContext) -> Iterator[Hit]:
    for identity in _accounts(ctx):
        if identity.system and not identity.attributes.get("is_default"):
            continue
        missing = list(identity.attributes.get("bindings_to_missing_roles") or [])
        if missing:
            yield Hit(
                identity=identity,
                message=f"{identity.name} is bound by {', '.join(missing)} to a role that does not exist",
                evidence={"bindings": missing},
            )
