"""Kubernetes RBAC resolution: which bindings reach a service account, and how risky each one is.

Pure functions over raw RBAC JSON (Roles, ClusterRoles, RoleBindings, ClusterRoleBindings): no I/O,
no SDK. Aggregated ClusterRoles get the union of their own ``rules`` (filled by the aggregation
controller) and the rules of the ClusterRoles their selectors match, so a stale controller cannot hide
a permission. Each binding becomes one ``Grant`` at its worst privilege level, naming the risky
permissions and the CIS Kubernetes 5.1.x controls they fall under. A provider must never judge here:
levels are facts about permissions; rules decide what to report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nhiwarden.model import Grant, Privilege

Obj = Mapping[str, Any]

READ_VERBS = frozenset({"get", "list", "watch"})
WORKLOADS = (
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
)
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
AUTHENTICATED = "system:authenticated"


def _cis(*ids: str) -> tuple[str, ...]:
    return tuple(f"CIS-K8S-{i}" for i in ids)


@dataclass(frozen=True)
class _Check:
    """A risky permission: any of ``verbs`` on any of ``targets`` (api group, resource)."""

    name: str
    privilege: Privilege
    controls: tuple[str, ...]
    verbs: frozenset[str]
    targets: tuple[tuple[str, str], ...]
    narrowable: bool = False  # resourceNames make it harmless (e.g. reading one named Secret)


_CHECKS: tuple[_Check, ...] = (
    _Check(
        "secrets get/list/watch",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.2"),
        READ_VERBS,
        (("", "secrets"),),
        narrowable=True,
    ),
    _Check(
        "secrets create/update/patch",
        Privilege.PRIVILEGE_ESCALATION,
        (),
        frozenset({"create", "update", "patch"}),
        (("", "secrets"),),
        narrowable=True,
    ),
    _Check("pods/exec", Privilege.PRIVILEGE_ESCALATION, (), frozenset({"create", "get"}), (("", "pods/exec"),)),
    _Check("pods/attach", Privilege.PRIVILEGE_ESCALATION, (), frozenset({"create", "get"}), (("", "pods/attach"),)),
    _Check(
        "pods/ephemeralcontainers update/patch",
        Privilege.PRIVILEGE_ESCALATION,
        (),
        frozenset({"update", "patch"}),
        (("", "pods/ephemeralcontainers"),),
    ),
    _Check(
        "impersonate",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.8"),
        frozenset({"impersonate"}),
        (
            ("", "users"),
            ("", "groups"),
            ("", "serviceaccounts"),
            ("authentication.k8s.io", "userextras"),
            ("authentication.k8s.io", "uids"),
        ),
    ),
    _Check(
        "escalate roles",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.8"),
        frozenset({"escalate"}),
        (("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles")),
    ),
    _Check(
        "bind roles",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.8"),
        frozenset({"bind"}),
        (("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles")),
    ),
    _Check(
        "serviceaccounts/token create",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.13"),
        frozenset({"create"}),
        (("", "serviceaccounts/token"),),
    ),
    _Check(
        "nodes/proxy",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.10"),
        frozenset({"get", "create", "update", "patch", "delete"}),
        (("", "nodes/proxy"),),
    ),
    _Check(
        "persistentvolumes create",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.9"),
        frozenset({"create"}),
        (("", "persistentvolumes"),),
    ),
    _Check(
        "certificatesigningrequests approval",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.11"),
        frozenset({"update", "patch"}),
        (("certificates.k8s.io", "certificatesigningrequests/approval"),),
    ),
    _Check(
        "admission webhook configuration write",
        Privilege.PRIVILEGE_ESCALATION,
        _cis("5.1.12"),
        frozenset({"create", "update", "patch", "delete"}),
        (
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ),
    ),
)
_WRITE_VERBS = frozenset(
    {
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "*",
        "escalate",
        "bind",
        "impersonate",
        "approve",
        "sign",
    }
)


def _matches(values: Iterable[str], wanted: str) -> bool:
    vals = list(values)
    return "*" in vals or wanted in vals


def _resource_matches(resources: Iterable[str], wanted: str) -> bool:
    res = list(resources)
    if "*" in res or wanted in res:
        return True
    if "/" in wanted:
        base, sub = wanted.split("/", 1)
        return f"{base}/*" in res or f"*/{sub}" in res
    return False


def rule_allows(rule: Obj, verb: str, group: str, resource: str) -> bool:
    """Does one PolicyRule allow ``verb`` on ``group``/``resource`` (ignoring resourceNames)?"""
    if not rule.get("resources"):
        return False
    return (
        _matches(rule.get("verbs") or [], verb)
        and _matches(rule.get("apiGroups") or [], group)
        and _resource_matches(rule.get("resources") or [], resource)
    )


def _label_selector_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and present and labels[key] in values):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def cluster_role_rules(cluster_roles: list[Obj]) -> dict[str, list[Obj]]:
    """Rules of every ClusterRole by name, aggregated ClusterRoles included."""
    own = {r["metadata"]["name"]: list(r.get("rules") or []) for r in cluster_roles}
    out = dict(own)
    for role in cluster_roles:
        agg = role.get("aggregationRule")
        if not agg:
            continue
        rules = list(own[role["metadata"]["name"]])
        for other in cluster_roles:
            if other is role or other.get("aggregationRule"):
                continue
            labels = other["metadata"].get("labels") or {}
            if any(_label_selector_matches(sel, labels) for sel in agg.get("clusterRoleSelectors") or []):
                rules.extend(r for r in other.get("rules") or [] if r not in rules)
        out[role["metadata"]["name"]] = rules
    return out


@dataclass
class Assessment:
    """What a set of rules allows in one place: worst level, risky permissions named, controls."""

    privilege: Privilege
    permissions: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    reason: str = ""


def _fmt_rule(rule: Obj) -> str:
    groups = ",".join(g or "core" for g in rule.get("apiGroups") or [])
    res = ",".join(rule.get("resources") or rule.get("nonResourceURLs") or [])
    verbs = ",".join(rule.get("verbs") or [])
    names = f" names={','.join(rule['resourceNames'])}" if rule.get("resourceNames") else ""
    return f"{verbs} on {res} ({groups}){names}" if groups else f"{verbs} on {res}{names}"


def assess(
    rules: list[Obj],
    *,
    role_name: str,
    namespaces: str | None,
    privileged_namespaces: Iterable[str],
) -> Assessment:
    """Classify what ``rules`` allow in ``namespaces`` (None = cluster-wide)."""
    levels: list[Privilege] = []
    perms: list[str] = []
    controls: list[str] = []

    def add(level: Privilege, perm: str, ctrl: Iterable[str]) -> None:
        levels.append(level)
        if perm not in perms:
            perms.append(perm)
        controls.extend(c for c in ctrl if c not in controls)

    resource_rules = [r for r in rules if r.get("resources")]
    full_wildcard = any(
        "*" in (r.get("verbs") or []) and "*" in (r.get("resources") or []) and "*" in (r.get("apiGroups") or [])
        for r in resource_rules
    )
    summary = "; ".join(_fmt_rule(r) for r in rules[:6]) + (f"; +{len(rules) - 6} more rules" if len(rules) > 6 else "")
    if role_name == "cluster-admin" or full_wildcard:  # everything else is implied: name only this
        perm = "cluster-admin" if role_name == "cluster-admin" else "* on * (all verbs, all resources)"
        ctrl = _cis("5.1.1", "5.1.3") if namespaces is None or role_name == "cluster-admin" else _cis("5.1.3")
        return Assessment(privilege=Privilege.ADMIN, permissions=[perm], controls=list(ctrl), reason=summary)
    for check in _CHECKS:
        for rule in resource_rules:
            if check.narrowable and rule.get("resourceNames"):
                continue
            if any(rule_allows(rule, v, g, r) for v in check.verbs for g, r in check.targets):
                add(check.privilege, check.name, check.controls)
                break
    privileged = set(privileged_namespaces)
    touches_privileged = namespaces is None or namespaces in privileged
    for rule in resource_rules:
        if any(rule_allows(rule, "create", g, r) for g, r in WORKLOADS):
            where = "all namespaces" if namespaces is None else namespaces
            if touches_privileged:
                add(Privilege.PRIVILEGE_ESCALATION, f"create pods/workloads in {where}", _cis("5.1.4"))
            else:
                add(Privilege.WRITE, f"create pods/workloads in {where}", _cis("5.1.4"))
            break
    wild = [r for r in resource_rules if "*" in (r.get("verbs") or []) or "*" in (r.get("resources") or [])]
    if wild:
        for r in wild:
            name = f"wildcard: {_fmt_rule(r)}"
            add(Privilege.WRITE if "*" in (r.get("verbs") or []) else Privilege.READ, name, _cis("5.1.3"))
    if any(set(r.get("verbs") or []) & _WRITE_VERBS for r in rules):
        levels.append(Privilege.WRITE)
    levels.append(Privilege.READ)
    worst = min(levels, key=lambda p: p.rank)
    return Assessment(privilege=worst, permissions=perms, controls=controls, reason=summary or "no rules")


@dataclass(frozen=True)
class SubjectRef:
    """Who a binding subject is: one service account, a group of them, or something else."""

    kind: str  # "sa" | "group-all" | "group-ns"
    namespace: str | None = None
    name: str | None = None
    via: str | None = None


def subject_ref(subject: Obj, binding_namespace: str | None) -> SubjectRef | None:
    """The service accounts a binding subject reaches; None for users and unrelated groups."""
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == "ServiceAccount":
        return SubjectRef("sa", subject.get("namespace") or binding_namespace, name)
    if kind == "User" and name.startswith("system:serviceaccount:"):
        parts = name.split(":")
        if len(parts) == 4:
            return SubjectRef("sa", parts[2], parts[3], via=f"user/{name}")
    if kind == "Group":
        if name in (ALL_SERVICE_ACCOUNTS, AUTHENTICATED):
            return SubjectRef("group-all", via=f"group/{name}")
        if name.startswith(ALL_SERVICE_ACCOUNTS + ":"):
            return SubjectRef("group-ns", namespace=name.split(":", 2)[2], via=f"group/{name}")
    return None


def is_default_discovery_binding(binding: Obj) -> bool:
    """Bootstrap bindings of ``system:*`` roles to every authenticated user (discovery, basic-user)."""
    name = binding["metadata"]["name"]
    role = (binding.get("roleRef") or {}).get("name", "")
    subjects = binding.get("subjects") or []
    return (
        name.startswith("system:")
        and role.startswith("system:")
        and bool(subjects)
        and all(
            s.get("kind") == "Group" and s.get("name") in (AUTHENTICATED, "system:unauthenticated") for s in subjects
        )
    )


@dataclass
class BindingGrant:
    """One binding resolved: the grant it gives and whom it reaches."""

    grant: Grant
    subjects: list[SubjectRef]
    binding: str
    missing_role: bool = False


def resolve_bindings(
    roles: list[Obj],
    cluster_roles: list[Obj],
    role_bindings: list[Obj],
    cluster_role_bindings: list[Obj],
    *,
    privileged_namespaces: Iterable[str],
) -> list[BindingGrant]:
    """Every binding that reaches at least one service account, as a Grant."""
    cr_rules = cluster_role_rules(cluster_roles)
    role_rules = {(r["metadata"].get("namespace"), r["metadata"]["name"]): list(r.get("rules") or []) for r in roles}
    privileged = list(privileged_namespaces)
    out: list[BindingGrant] = []
    cache: dict[tuple[str, str, str | None], Assessment] = {}
    for binding, cluster_wide in [(b, False) for b in role_bindings] + [(b, True) for b in cluster_role_bindings]:
        if is_default_discovery_binding(binding):
            continue
        ns = None if cluster_wide else binding["metadata"].get("namespace")
        subjects = [s for s in (subject_ref(x, ns) for x in binding.get("subjects") or []) if s is not None]
        if not subjects:
            continue
        ref = binding.get("roleRef") or {}
        ref_kind, ref_name = ref.get("kind", "ClusterRole"), ref.get("name", "")
        rules = role_rules.get((ns, ref_name)) if ref_kind == "Role" else cr_rules.get(ref_name)
        bname = binding["metadata"]["name"] if cluster_wide else f"{ns}/{binding['metadata']['name']}"
        kind_label = "ClusterRoleBinding" if cluster_wide else "RoleBinding"
        if rules is None:
            grant = Grant(
                privilege=Privilege.READ,
                source=f"{bname} ({ref_kind} {ref_name}, missing)",
                source_kind=kind_label,
                resource_scope="cluster" if ns is None else f"namespace {ns}",
                reason=f"binds {ref_kind} {ref_name}, which does not exist: it grants nothing until someone creates it",
            )
            out.append(BindingGrant(grant, subjects, bname, missing_role=True))
            continue
        key = (ref_kind, ref_name, ns)
        if key not in cache:
            cache[key] = assess(
                rules,
                role_name=ref_name if ref_kind == "ClusterRole" else "",
                namespaces=ns,
                privileged_namespaces=privileged,
            )
        a = cache[key]
        where = "cluster-wide" if ns is None else f"in namespace {ns}"
        out.append(
            BindingGrant(
                Grant(
                    privilege=a.privilege,
                    source=f"{bname} ({ref_kind} {ref_name})",
                    source_kind=kind_label,
                    resource_scope="cluster" if ns is None else f"namespace {ns}",
                    reason=f"{ref_kind} {ref_name} {where}: {a.reason}",
                    permissions=list(a.permissions),
                    controls=list(a.controls),
                ),
                subjects,
                bname,
            )
        )
    return out
