"""Turn one cluster's raw objects into normalized identities: service accounts, legacy tokens, usage.

Pure: takes the compact projections the lister keeps (never a Secret's data) and returns Identities.
Usage facts (documented in the README, Kubernetes section):

* an account referenced by a pod or a workload template (Deployments, StatefulSets, DaemonSets,
  ReplicaSets, Jobs, CronJobs, including ones scaled to zero or suspended) is in use now:
  ``last_used_at = as_of``, ``last_used_source = "pods+workloads"``;
* otherwise its last use is the newest ``kubernetes.io/legacy-token-last-used`` label of its legacy
  token Secrets (day granularity), with the tracking start as ``last_used_tracking_since``;
* when the account has live legacy tokens but the tracking start is unknown, its usage is unknown
  (``last_used_source = None``): an external consumer of the token could be using it unseen.

Bound (projected/TokenRequest) tokens leave no trace on any object, so "not used" for an account
without legacy tokens means "no pod or workload references it" (``usage_confidence = weak``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nhiwarden.model import Credential, Grant, Identity
from nhiwarden.providers.kubernetes.rbac import BindingGrant

LEGACY_TOKEN_TYPE = "kubernetes.io/service-account-token"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"
INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"
OWNER_KEYS = ("nhiwarden.io/owner", "owner", "team", "app.kubernetes.io/owner")
SYSTEM_NAMESPACES = frozenset({"kube-node-lease", "kube-public"})
SYSTEM_ACCOUNTS = frozenset(
    {
        "attachdetach-controller",
        "bootstrap-signer",
        "certificate-controller",
        "clusterrole-aggregation-controller",
        "cronjob-controller",
        "daemon-set-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoint-controller",
        "endpointslice-controller",
        "endpointslicemirroring-controller",
        "ephemeral-volume-controller",
        "expand-controller",
        "generic-garbage-collector",
        "horizontal-pod-autoscaler",
        "job-controller",
        "legacy-service-account-token-cleaner",
        "namespace-controller",
        "node-controller",
        "persistent-volume-binder",
        "pod-garbage-collector",
        "pv-protection-controller",
        "pvc-protection-controller",
        "replicaset-controller",
        "replication-controller",
        "resourcequota-controller",
        "root-ca-cert-publisher",
        "service-account-controller",
        "service-controller",
        "statefulset-controller",
        "token-cleaner",
        "ttl-after-finished-controller",
        "ttl-controller",
        "validatingadmissionpolicy-status-controller",
    }
)
USAGE_SOURCE = "pods+workloads"
TOKEN_SOURCE = "legacy-token-last-used label"

Obj = Mapping[str, Any]


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def parse_day(value: str | None) -> datetime | None:
    """A ``YYYY-MM-DD`` label as midnight UTC; None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


# -- compact projections (what the lister keeps of each object) ----------------------------------
def _secret_refs(spec: Obj) -> list[str]:
    names: set[str] = set()
    for vol in spec.get("volumes") or []:
        if (vol.get("secret") or {}).get("secretName"):
            names.add(vol["secret"]["secretName"])
        for src in (vol.get("projected") or {}).get("sources") or []:
            if (src.get("secret") or {}).get("name"):
                names.add(src["secret"]["name"])
    for ref in spec.get("imagePullSecrets") or []:
        if ref.get("name"):
            names.add(ref["name"])
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                names.add(ref["name"])
        for env_from in c.get("envFrom") or []:
            if (env_from.get("secretRef") or {}).get("name"):
                names.add(env_from["secretRef"]["name"])
    return sorted(names)


def project_pod_spec(spec: Obj | None) -> dict[str, Any]:
    spec = spec or {}
    return {
        "sa": spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
        "automount": spec.get("automountServiceAccountToken"),
        "secrets": _secret_refs(spec),
    }


def project_pod(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    owners = [f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []]
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "owners": owners,
        **project_pod_spec(obj.get("spec")),
    }


def project_workload(kind: str) -> Any:
    def project(obj: Obj) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if kind == "CronJob":
            pod_spec = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
            idle = bool(spec.get("suspend"))
        else:
            pod_spec = (spec.get("template") or {}).get("spec")
            replicas = spec.get("replicas", 1) if kind in ("Deployment", "StatefulSet", "ReplicaSet") else None
            idle = replicas == 0
        owners = [f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []]
        return {
            "kind": kind,
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "idle": idle,
            "owners": owners,
            **project_pod_spec(pod_spec),
        }

    return project


def project_secret(obj: Obj) -> dict[str, Any]:
    """Metadata only: the ``data`` of a Secret is never kept, even when the server sent it."""
    meta = obj.get("metadata") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid"),
        "created": meta.get("creationTimestamp"),
        "deleting": bool(meta.get("deletionTimestamp")),
        "labels": dict(meta.get("labels") or {}),
        "annotations": {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k in (SA_NAME_ANNOTATION, SA_UID_ANNOTATION) or k in OWNER_KEYS
        },
        "type": obj.get("type"),
    }


def project_service_account(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid"),
        "created": meta.get("creationTimestamp"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": {
            k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("kubectl.kubernetes.io/")
        },
        "automount": obj.get("automountServiceAccountToken"),
        "secrets": [s.get("name") for s in obj.get("secrets") or [] if s.get("name")],
    }


# -- assembly ------------------------------------------------------------------------------------
@dataclass
class ClusterData:
    """The compact projections of one cluster; ``None`` for a signal that could not be read."""

    service_accounts: list[dict[str, Any]]
    secrets: list[dict[str, Any]] | None
    pods: list[dict[str, Any]] | None
    workloads: list[dict[str, Any]] | None
    bindings: list[BindingGrant] | None
    tracking_since: datetime | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _is_system(ns: str, name: str) -> bool:
    return ns in SYSTEM_NAMESPACES or name == "default" or (ns == "kube-system" and name in SYSTEM_ACCOUNTS)


def _owner(sa: Obj) -> str | None:
    for source in (sa["labels"], sa["annotations"]):
        for key in OWNER_KEYS:
            if source.get(key):
                return str(source[key])
    return None


def build_identities(context: str, data: ClusterData, *, as_of: datetime) -> list[Identity]:
    users: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    pods_by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in data.pods or []:
        users[(pod["namespace"], pod["sa"])].append({"kind": "Pod", **pod})
        pods_by_ns[pod["namespace"]].append(pod)
    for wl in data.workloads or []:
        users[(wl["namespace"], wl["sa"])].append(wl)
    tokens: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for secret in data.secrets or []:
        if secret.get("type") not in (None, LEGACY_TOKEN_TYPE):
            continue
        sa_name = secret["annotations"].get(SA_NAME_ANNOTATION)
        if sa_name:
            tokens[(secret["namespace"], sa_name)].append(secret)
    grants_for: dict[tuple[str, str], list[tuple[BindingGrant, str | None]]] = defaultdict(list)
    all_sa: list[BindingGrant] = []
    ns_groups: dict[str, list[BindingGrant]] = defaultdict(list)
    for bg in data.bindings or []:
        for subj in bg.subjects:
            if subj.kind == "sa" and subj.namespace and subj.name:
                grants_for[(subj.namespace, subj.name)].append((bg, subj.via))
            elif subj.kind == "group-all":
                all_sa.append(bg)
            elif subj.kind == "group-ns" and subj.namespace:
                ns_groups[subj.namespace].append(bg)

    identities = []
    for sa in sorted(data.service_accounts, key=lambda s: (s["namespace"], s["name"])):
        identities.append(_identity(context, sa, users, pods_by_ns, tokens, grants_for, all_sa, ns_groups, data, as_of))
    return identities


def _identity(
    context: str,
    sa: dict[str, Any],
    users: Mapping[tuple[str, str], list[dict[str, Any]]],
    pods_by_ns: Mapping[str, list[dict[str, Any]]],
    tokens: Mapping[tuple[str, str], list[dict[str, Any]]],
    grants_for: Mapping[tuple[str, str], list[tuple[BindingGrant, str | None]]],
    all_sa: list[BindingGrant],
    ns_groups: Mapping[str, list[BindingGrant]],
    data: ClusterData,
    as_of: datetime,
) -> Identity:
    ns, name = sa["namespace"], sa["name"]
    uid = f"k8s:{context}:ns/{ns}:sa/{name}"
    key = (ns, name)
    refs = users.get(key, [])
    pods = [r for r in refs if r["kind"] == "Pod"]
    workloads = [r for r in refs if r["kind"] != "Pod"]
    # effective automount: pod (or template) wins, then the account, then true
    sa_automount = sa["automount"]
    mounting, overrides = [], []
    for r in refs:
        effective = (
            r["automount"] if r["automount"] is not None else (sa_automount if sa_automount is not None else True)
        )
        label = f"{r['kind']}/{r['name']}"
        if effective and not r["owners"]:  # owned pods and ReplicaSets/Jobs: their owner's template counts
            mounting.append(label)
        if r["automount"] is not None and sa_automount is not None and r["automount"] != sa_automount:
            overrides.append({"object": label, "pod_setting": r["automount"], "account_setting": sa_automount})

    grants: list[Grant] = []
    direct: list[str] = []
    group_bound: list[str] = []
    missing_roles: list[str] = []
    for bg, via in grants_for.get(key, []):
        grants.append(bg.grant.model_copy(update={"via": via}) if via else bg.grant)
        direct.append(bg.binding)
        if bg.missing_role:
            missing_roles.append(bg.binding)
    for bg in [*ns_groups.get(ns, []), *all_sa]:
        via = next((s.via for s in bg.subjects if s.kind in ("group-all", "group-ns")), None)
        grants.append(bg.grant.model_copy(update={"via": via}))
        group_bound.append(bg.binding)
    grants = [g for g in grants if not g.source.endswith(", missing)")]

    credentials = []
    tracking = data.tracking_since
    for secret in sorted(tokens.get(key, []), key=lambda s: s["name"]):
        if secret["annotations"].get(SA_UID_ANNOTATION) not in (None, sa["uid"]):
            continue  # bound to an older account of the same name: the authenticator rejects it
        credentials.append(_credential(uid, secret, sa, pods_by_ns.get(ns, []), tracking))

    used_now = bool(refs)
    token_uses = [c.last_used_at for c in credentials if c.last_used_at is not None]
    tracked = all(c.usage_known for c in credentials)
    live_untracked = any(c.enabled and not c.usage_known for c in credentials)
    last_used_at: datetime | None
    source: str | None
    if used_now:
        last_used_at, source = as_of, USAGE_SOURCE
    elif live_untracked or data.pods is None or data.workloads is None:
        last_used_at, source = None, None
    else:
        last_used_at = max(token_uses) if token_uses else None
        source = f"{USAGE_SOURCE}+{TOKEN_SOURCE}" if credentials else USAGE_SOURCE
    confidence = "strong" if (credentials and tracked) else "weak"
    attributes: dict[str, Any] = {
        "namespace": ns,
        "service_account": name,
        "k8s_uid": sa["uid"],
        "is_default": name == "default",
        "automount_service_account_token": sa_automount,
        "token_mounted_by": sorted(mounting),
        "automount_overrides": overrides,
        "used_by_pods": len(pods),
        "used_by_workloads": sorted(f"{w['kind']}/{w['name']}" for w in workloads if not w["owners"]),
        "idle_workloads": sorted(f"{w['kind']}/{w['name']}" for w in workloads if w["idle"]),
        "usage_confidence": confidence if source else "unknown",
        "direct_bindings": sorted(set(direct)),
        "group_bindings": sorted(set(group_bound)),
        "bindings_to_missing_roles": sorted(set(missing_roles)),
    }
    return Identity(
        uid=uid,
        provider="kubernetes",
        kind="k8s-service-account",
        scope=context,
        name=f"{ns}/{name}",
        created_at=parse_time(sa["created"]),
        last_used_at=last_used_at,
        last_used_source=source,
        last_used_tracking_since=tracking if (source and credentials and not used_now) else None,
        enabled=True,
        system=_is_system(ns, name),
        owner=_owner(sa),
        tags={k: str(v) for k, v in sa["labels"].items()},
        grants=grants,
        credentials=credentials,
        attributes=attributes,
    )


def _credential(
    identity_uid: str,
    secret: dict[str, Any],
    sa: Obj,
    pods: Iterable[dict[str, Any]],
    tracking_since: datetime | None,
) -> Credential:
    labels = secret["labels"]
    last_used = parse_day(labels.get(LAST_USED_LABEL))
    invalid_since = parse_day(labels.get(INVALID_SINCE_LABEL))
    created = parse_time(secret["created"])
    if last_used is not None:
        source: str | None = TOKEN_SOURCE
    elif tracking_since is not None:
        source = TOKEN_SOURCE  # no label since tracking began: not used since then
    else:
        source = None
    mounted_by = sorted(f"Pod/{p['name']}" for p in pods if secret["name"] in p["secrets"])
    return Credential(
        uid=f"{identity_uid}:legacy-token/{secret['name']}",
        kind="k8s-legacy-token",
        id=secret["name"],
        name=secret["name"],
        created_at=created,
        expires_at=None,
        last_used_at=last_used,
        last_used_source=source,
        last_used_tracking_since=tracking_since if source and last_used is None else None,
        enabled=invalid_since is None and not secret["deleting"],
        static=True,
        locations=[f"k8s-secret:{secret['namespace']}/{secret['name']}"]
        + [f"k8s-pod:{secret['namespace']}/{m.split('/', 1)[1]}" for m in mounted_by],
        attributes={
            "auto_generated": secret["name"] in sa["secrets"],
            "invalid_since": invalid_since.date().isoformat() if invalid_since else None,
            "mounted_by": mounted_by,
            "last_used_label": labels.get(LAST_USED_LABEL),
        },
    )
