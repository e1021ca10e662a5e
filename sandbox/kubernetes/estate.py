"""Seeded estates for the fake kube-apiserver: a realistic "prod" cluster, a small "staging" one, and a
large synthetic one for call-budget tests.

Every age is relative to ``now`` so the demo (real time) and the tests (a fixed ``as_of``) see the same
story. The prod estate plants a canary token value in a legacy token Secret's ``data``: it must never
appear in any output. Seeding writes to the store directly (no HTTP), so it is fast.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.sandbox.kubernetes.store import Obj, Store

TOKEN_TYPE = "kubernetes.io/service-account-token"
TRACKING_CM = "kube-apiserver-legacy-service-account-token-tracking"
_NS = uuid.UUID("6f1b2c1e-8a59-4d0e-9d7e-3f1c5b7a9e10")


class Seeder:
    """Small builders for the objects an estate needs, aged relative to ``now``."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now.astimezone(UTC)
        self.objects: list[Obj] = []

    def ts(self, days_ago: float) -> str:
        return (self.now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def day(self, days_ago: float) -> str:
        return (self.now - timedelta(days=days_ago)).strftime("%Y-%m-%d")

    @staticmethod
    def uid(*parts: str) -> str:
        return str(uuid.uuid5(_NS, "/".join(parts)))

    def add(self, obj: Obj) -> Obj:
        self.objects.append(obj)
        return obj

    def flush(self) -> None:
        self.store.put_many(self.objects)
        self.objects = []

    def meta(self, kind: str, ns: str | None, name: str, days: float, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "uid": self.uid(kind, ns or "", name), "creationTimestamp": self.ts(days)}
        if ns:
            meta["namespace"] = ns
        meta.update({k: v for k, v in extra.items() if v is not None})
        return meta

    def namespace(self, name: str, days: float = 500) -> None:
        self.add(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": self.meta("Namespace", None, name, days),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
        self.service_account(name, "default", days)

    def service_account(
        self,
        ns: str,
        name: str,
        days: float,
        *,
        automount: bool | None = None,
        labels: dict[str, str] | None = None,
        secrets_: list[str] | None = None,
    ) -> None:
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": self.meta("ServiceAccount", ns, name, days, labels=labels),
        }
        if automount is not None:
            obj["automountServiceAccountToken"] = automount
        if secrets_:
            obj["secrets"] = [{"name": s} for s in secrets_]
        self.add(obj)

    def legacy_token(
        self,
        ns: str,
        name: str,
        sa: str,
        days: float,
        *,
        token: str,
        last_used: float | None = None,
        invalid_since: float | None = None,
    ) -> None:
        labels = {}
        if last_used is not None:
            labels["kubernetes.io/legacy-token-last-used"] = self.day(last_used)
        if invalid_since is not None:
            labels["kubernetes.io/legacy-token-invalid-since"] = self.day(invalid_since)
        b64 = base64.b64encode
        self.add(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": TOKEN_TYPE,
                "metadata": self.meta(
                    "Secret",
                    ns,
                    name,
                    days,
                    labels=labels or None,
                    annotations={
                        "kubernetes.io/service-account.name": sa,
                        "kubernetes.io/service-account.uid": self.uid("ServiceAccount", ns, sa),
                    },
                ),
                "data": {
                    "token": b64(token.encode()).decode(),
                    "namespace": b64(ns.encode()).decode(),
                    "ca.crt": b64(b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n").decode(),
                },
            }
        )

    @staticmethod
    def pod_spec(sa: str | None, automount: bool | None = None, secret_volume: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry.example/app:1"}]}
        if sa:
            spec["serviceAccountName"] = sa
        if automount is not None:
            spec["automountServiceAccountToken"] = automount
        if secret_volume:
            spec["volumes"] = [{"name": "token", "secret": {"secretName": secret_volume}}]
        return spec

    def pod(
        self,
        ns: str,
        name: str,
        sa: str | None,
        *,
        automount: bool | None = None,
        owner: tuple[str, str] | None = None,
        secret_volume: str | None = None,
        days: float = 3,
    ) -> None:
        owners = None
        if owner:
            api = "batch/v1" if owner[0] == "Job" else "apps/v1"
            owners = [
                {
                    "apiVersion": api,
                    "kind": owner[0],
                    "name": owner[1],
                    "controller": True,
                    "uid": self.uid(owner[0], ns, owner[1]),
                }
            ]
        spec = self.pod_spec(sa or "default", automount, secret_volume)
        if sa is None:
            spec.pop("serviceAccountName")
        spec.setdefault("serviceAccountName", sa or "default")  # admission fills it in
        spec["serviceAccount"] = spec["serviceAccountName"]
        self.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": self.meta("Pod", ns, name, days, ownerReferences=owners),
                "spec": {**spec, "nodeName": "node-1", "restartPolicy": "Always"},
                "status": {"phase": "Running", "podIP": "10.0.0.1"},
            }
        )

    def workload(
        self,
        kind: str,
        ns: str,
        name: str,
        sa: str | None,
        *,
        replicas: int | None = None,
        automount: bool | None = None,
        days: float = 100,
        suspend: bool | None = None,
        owner: tuple[str, str] | None = None,
    ) -> None:
        api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
        template = {"metadata": {"labels": {"app": name}}, "spec": self.pod_spec(sa, automount)}
        spec: dict[str, Any]
        if kind == "CronJob":
            spec = {"schedule": "0 3 1 * *", "jobTemplate": {"spec": {"template": template}}}
            if suspend is not None:
                spec["suspend"] = suspend
        else:
            spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
            if replicas is not None:
                spec["replicas"] = replicas
        owners = None
        if owner:
            owners = [
                {
                    "apiVersion": "apps/v1" if owner[0] != "CronJob" else "batch/v1",
                    "kind": owner[0],
                    "name": owner[1],
                    "controller": True,
                    "uid": self.uid(owner[0], ns, owner[1]),
                }
            ]
        self.add(
            {
                "apiVersion": api,
                "kind": kind,
                "metadata": self.meta(kind, ns, name, days, ownerReferences=owners),
                "spec": spec,
            }
        )

    def cluster_role(
        self,
        name: str,
        rules: list[dict[str, Any]],
        *,
        labels: dict[str, str] | None = None,
        aggregate: dict[str, str] | None = None,
    ) -> None:
        obj: dict[str, Any] = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": self.meta("ClusterRole", None, name, 500, labels=labels),
            "rules": rules,
        }
        if aggregate:
            obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
            obj["rules"] = []
        self.add(obj)

    def role(self, ns: str, name: str, rules: list[dict[str, Any]]) -> None:
        self.add(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": self.meta("Role", ns, name, 300),
                "rules": rules,
            }
        )

    def binding(
        self,
        name: str,
        role: str,
        subjects: list[dict[str, str]],
        *,
        ns: str | None = None,
        role_kind: str = "ClusterRole",
    ) -> None:
        kind = "RoleBinding" if ns else "ClusterRoleBinding"
        self.add(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": kind,
                "metadata": self.meta(kind, ns, name, 300),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
                "subjects": subjects,
            }
        )


def sa_subject(ns: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": ns}


def group_subject(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


READ = ["get", "list", "watch"]


def seed_prod(store: Store, now: datetime, *, canary: str | None = None) -> list[str]:
    """The demo/test "prod" cluster. Returns the canary secret values planted (raw and base64)."""
    canary = canary or f"nhw-canary-k8s-{secrets.token_hex(12)}"
    s = Seeder(store, now)
    for ns in (
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "payments",
        "analytics",
        "ci",
        "monitoring",
        "platform",
    ):
        s.namespace(ns)
    s.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": s.meta("ConfigMap", "kube-system", TRACKING_CM, 300),
            "data": {"since": s.day(300)},
        }
    )

    # built-in roles, including the aggregated "view"
    s.cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}])
    s.cluster_role("view", [], aggregate={"rbac.authorization.k8s.io/aggregate-to-view": "true"})
    s.cluster_role(
        "system:aggregate-to-view",
        [
            rule([""], ["pods", "services", "configmaps", "endpoints"], READ),
            rule(["apps"], ["deployments", "statefulsets", "daemonsets"], READ),
        ],
        labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    )
    s.cluster_role(
        "system:discovery", [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version"], "verbs": ["get"]}]
    )
    s.binding("system:discovery", "system:discovery", [group_subject("system:authenticated")])

    # kube-system: a controller (system) and coredns
    s.service_account("kube-system", "replicaset-controller", 500)
    s.cluster_role(
        "system:controller:replicaset-controller",
        [
            rule([""], ["pods"], ["create", "delete", "list", "patch", "watch"]),
            rule(["apps"], ["replicasets"], ["get", "list", "update", "watch"]),
        ],
    )
    s.binding(
        "system:controller:replicaset-controller",
        "system:controller:replicaset-controller",
        [sa_subject("kube-system", "replicaset-controller")],
    )
    s.service_account("kube-system", "coredns", 500)
    s.cluster_role("system:coredns", [rule([""], ["endpoints", "services", "pods", "namespaces"], ["list", "watch"])])
    s.binding("system:coredns", "system:coredns", [sa_subject("kube-system", "coredns")])
    s.workload("Deployment", "kube-system", "coredns", "coredns", replicas=2, days=500)
    s.workload(
        "ReplicaSet", "kube-system", "coredns-5d78c9869d", "coredns", replicas=2, owner=("Deployment", "coredns")
    )
    for i in range(2):
        s.pod("kube-system", f"coredns-5d78c9869d-{i}", "coredns", owner=("ReplicaSet", "coredns-5d78c9869d"))

    # group bindings: every account may list namespaces; every payments account may view payments
    s.cluster_role("namespace-lister", [rule([""], ["namespaces"], ["get", "list"])])
    s.binding("all-serviceaccounts-namespace-lister", "namespace-lister", [group_subject("system:serviceaccounts")])
    s.binding("payments-view", "view", [group_subject("system:serviceaccounts:payments")], ns="payments")

    # payments
    s.service_account("payments", "api", 200, labels={"team": "payments"})
    s.workload("Deployment", "payments", "payments-api", "api", replicas=2, days=200)
    s.workload("ReplicaSet", "payments", "payments-api-7d9f", "api", replicas=2, owner=("Deployment", "payments-api"))
    for i in range(2):
        s.pod("payments", f"payments-api-7d9f-{i}", "api", owner=("ReplicaSet", "payments-api-7d9f"))
    s.role("payments", "secret-reader", [rule([""], ["secrets"], ["get", "list"])])
    s.binding("api-secrets", "secret-reader", [sa_subject("payments", "api")], ns="payments", role_kind="Role")
    s.binding("stale-binding", "deleted-role", [sa_subject("payments", "api")], ns="payments", role_kind="Role")
    # a token nobody used since tracking began, though the account itself is busy
    s.legacy_token("payments", "api-token-legacy", "api", 400, token=f"api-{secrets.token_hex(8)}")
    s.pod("payments", "legacy-batch", None)  # runs as "default"
    s.service_account("payments", "reporter", 400, secrets_=["reporter-token"])
    s.legacy_token("payments", "reporter-token", "reporter", 400, token=canary, last_used=10)
    s.workload("CronJob", "payments", "monthly-report", "reporter", days=400)
    s.pod("payments", "report-debug", "api", secret_volume="reporter-token")  # mounts another account's token

    # analytics: a Deployment scaled to zero with an aggregated ClusterRole that can list secrets
    s.service_account("analytics", "etl", 300, automount=False)
    s.workload("Deployment", "analytics", "etl", "etl", replicas=0, automount=True, days=300)
    s.cluster_role("analytics-reader", [], aggregate={"rbac.example.com/aggregate-to-analytics-reader": "true"})
    s.cluster_role(
        "analytics-pods-reader",
        [rule([""], ["pods"], ["get", "list"])],
        labels={"rbac.example.com/aggregate-to-analytics-reader": "true"},
    )
    s.cluster_role(
        "analytics-secrets-lister",
        [rule([""], ["secrets"], ["list"])],
        labels={"rbac.example.com/aggregate-to-analytics-reader": "true"},
    )
    s.binding("etl-analytics-reader", "analytics-reader", [sa_subject("analytics", "etl")])
    s.role(
        "kube-system", "pod-launcher", [rule([""], ["pods"], ["create"]), rule(["apps"], ["deployments"], ["create"])]
    )
    s.binding("etl-launcher", "pod-launcher", [sa_subject("analytics", "etl")], ns="kube-system", role_kind="Role")

    # ci: an admin deployer with a manual token used 120 days ago, a forgotten bot, a token minter
    s.service_account("ci", "deployer", 500)
    s.legacy_token("ci", "deployer-token", "deployer", 500, token=f"deployer-{secrets.token_hex(8)}", last_used=120)
    s.binding("ci-deployer-admin", "cluster-admin", [sa_subject("ci", "deployer")])
    s.service_account("ci", "old-bot", 400, secrets_=["old-bot-token"])
    s.legacy_token("ci", "old-bot-token", "old-bot", 400, token=f"old-bot-{secrets.token_hex(8)}")
    s.service_account("ci", "release-bot", 100)
    s.workload("CronJob", "ci", "release", "release-bot", suspend=True, days=100)
    s.cluster_role(
        "token-minter", [rule([""], ["serviceaccounts/token"], ["create"]), rule([""], ["pods/exec"], ["create"])]
    )
    s.binding("release-token-minter", "token-minter", [sa_subject("ci", "release-bot")], ns="ci")
    s.cluster_role("impersonator", [rule([""], ["users", "groups"], ["impersonate"])])
    s.binding(
        "release-impersonate",
        "impersonator",
        [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "system:serviceaccount:ci:release-bot"}],
    )
    s.service_account("ci", "retired", 600, secrets_=["retired-token"])
    s.legacy_token(
        "ci", "retired-token", "retired", 600, token=f"retired-{secrets.token_hex(8)}", last_used=400, invalid_since=30
    )
    s.service_account("ci", "builder", 30)
    s.workload("Job", "ci", "build-1", "builder", automount=False, days=2)

    # monitoring
    s.service_account("monitoring", "prometheus", 250, labels={"owner": "sre"})
    s.workload("Deployment", "monitoring", "prometheus", "prometheus", replicas=1, days=250)
    s.pod("monitoring", "prometheus-0", "prometheus", owner=("Deployment", "prometheus"))
    s.cluster_role(
        "prometheus",
        [
            rule([""], ["nodes", "nodes/metrics", "services", "endpoints", "pods"], READ),
            rule([""], ["nodes/proxy"], ["get"]),
        ],
    )
    s.binding("prometheus", "prometheus", [sa_subject("monitoring", "prometheus")])
    s.service_account("monitoring", "node-exporter", 250, automount=False)
    s.workload("DaemonSet", "monitoring", "node-exporter", "node-exporter", automount=True, days=250)
    for i in range(2):
        s.pod("monitoring", f"node-exporter-{i}", "node-exporter", automount=True, owner=("DaemonSet", "node-exporter"))

    # platform: an RBAC operator that may escalate and bind, and a wildcard on configmaps
    s.service_account("platform", "rbac-operator", 150, labels={"owner": "platform"})
    s.workload("Deployment", "platform", "rbac-operator", "rbac-operator", replicas=1, days=150)
    s.pod("platform", "rbac-operator-0", "rbac-operator", owner=("Deployment", "rbac-operator"))
    s.cluster_role(
        "rbac-manager",
        [
            rule(["rbac.authorization.k8s.io"], ["roles", "clusterroles"], ["escalate", "bind"]),
            rule(["rbac.authorization.k8s.io"], ["rolebindings"], ["get", "list", "create"]),
        ],
    )
    s.binding("rbac-operator", "rbac-manager", [sa_subject("platform", "rbac-operator")])
    s.cluster_role("platform-config", [rule([""], ["configmaps"], ["*"])])
    s.binding("rbac-operator-config", "platform-config", [sa_subject("platform", "rbac-operator")], ns="platform")
    s.flush()
    return [canary, base64.b64encode(canary.encode()).decode()]


def seed_staging(store: Store, now: datetime) -> None:
    s = Seeder(store, now)
    for ns in ("default", "kube-system", "web"):
        s.namespace(ns)
    s.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": s.meta("ConfigMap", "kube-system", TRACKING_CM, 100),
            "data": {"since": s.day(100)},
        }
    )
    s.service_account("web", "frontend", 60, labels={"owner": "web"})
    s.workload("Deployment", "web", "frontend", "frontend", replicas=1, days=60)
    s.pod("web", "frontend-0", "frontend", owner=("Deployment", "frontend"))
    s.flush()


def seed_scale(store: Store, now: datetime, *, accounts: int = 5000, pods: int = 20000, namespaces: int = 50) -> None:
    """A large cluster: ``accounts`` service accounts and ``pods`` pods spread over ``namespaces``."""
    s = Seeder(store, now)
    for n in range(namespaces):
        s.namespace(f"ns-{n:03d}")
    per_ns = accounts // namespaces - 1  # each namespace also has its "default" account
    for n in range(namespaces):
        for a in range(per_ns):
            s.service_account(f"ns-{n:03d}", f"svc-{a:04d}", 200)
    for p in range(pods):
        n = p % namespaces
        s.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"pod-{p:05d}",
                    "namespace": f"ns-{n:03d}",
                    "uid": f"pod-{p}",
                    "creationTimestamp": s.ts(1),
                },
                "spec": {
                    "serviceAccountName": f"svc-{(p // namespaces) % per_ns:04d}",
                    "containers": [{"name": "c", "image": "i"}],
                },
                "status": {"phase": "Running"},
            }
        )
    s.flush()
