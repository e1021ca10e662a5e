"""The kinds the fake kube-apiserver serves: URL names, scope and the real field-selector whitelists.

Data only. The whitelists are those of kubernetes/kubernetes (``pkg/registry/*/strategy.go``
``*ToSelectableFields``): every kind supports ``metadata.name`` and ``metadata.namespace``; a few add
their own. Anything else is rejected with 400, as the real server does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    fields: tuple[str, ...] = ()  # extra selectable fields besides metadata.name/namespace

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def selectable(self) -> tuple[str, ...]:
        return ("metadata.name", "metadata.namespace", *self.fields)


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("status.phase",)),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True),
    Resource("", "v1", "secrets", "Secret", True, ("type",)),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "pods", "Pod", True, _POD_FIELDS),
    Resource("", "v1", "nodes", "Node", False, ("spec.unschedulable",)),
    Resource("apps", "v1", "deployments", "Deployment", True),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("status.replicas",)),
    Resource("batch", "v1", "jobs", "Job", True, ("status.successful",)),
    Resource("batch", "v1", "cronjobs", "CronJob", True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
)

BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES}


def resource_for(api_version: str, kind: str) -> Resource:
    try:
        return BY_KIND[(api_version, kind)]
    except KeyError:
        raise KeyError(f"the fake apiserver does not serve {api_version} {kind}") from None
