"""The Kubernetes provider: service accounts, legacy token Secrets, workload usage and RBAC per context.

Owns settings, scopes (one per kubeconfig context), the order of list calls and how a missing signal
degrades the scope (``partial``) rather than failing it. Imports the ``kubernetes`` SDK only inside
``discover``/``doctor`` (through ``api``), so ``nhiwarden --help`` never loads it. Never writes to a
cluster and never keeps a Secret's data.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from nhiwarden.errors import ScopeError
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers import CallLog, DoctorCheck, Permission, Provider, ProviderSettings
from nhiwarden.redact import redact
from nhiwarden.retry import RetryPolicy
from pydantic import Field

IN_CLUSTER = "in-cluster"
TRACKING_CONFIGMAP = ("kube-system", "kube-apiserver-legacy-service-account-token-tracking")
WORKLOAD_KINDS = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
}


class KubernetesSettings(ProviderSettings):
    kubeconfig: str | None = Field(
        default=None, description="Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)."
    )
    contexts: list[str] = Field(
        default_factory=list,
        description="Kubeconfig contexts to scan (default: the current context).",
        json_schema_extra={"flag": "--kube-context"},
    )
    all_contexts: bool = Field(
        default=False,
        description="Scan every context in the kubeconfig.",
        json_schema_extra={"flag": "--all-contexts"},
    )
    tracking_since: date | None = Field(
        default=None,
        description="Date legacy-token usage tracking (LegacyServiceAccountTokenTracking) began on the "
        "clusters, when the cluster's own record cannot be read.",
    )
    privileged_namespaces: list[str] = Field(
        default_factory=lambda: ["kube-system"],
        description="Namespaces where creating pods or workloads counts as privilege escalation.",
        json_schema_extra={"flag": None},
    )
    page_size: int = Field(
        default=500, ge=1, le=5000, json_schema_extra={"flag": None}, description="Items per list page."
    )
    request_timeout: float = Field(
        default=30.0, gt=0, json_schema_extra={"flag": None}, description="Seconds per API request."
    )


def _permission(resource: str, why: str, verbs: str = "list", optional: bool = False) -> Permission:
    return Permission(action=f"{verbs} {resource}", why=why, optional=optional)


class KubernetesProvider(Provider):
    name = "kubernetes"
    title = "Kubernetes"
    Settings = KubernetesSettings
    permissions: ClassVar[tuple[Permission, ...]] = (
        _permission("serviceaccounts", "the identities themselves, their automount setting and token references"),
        _permission(
            "secrets",
            "legacy token Secrets (fieldSelector type=kubernetes.io/service-account-token) read as "
            "PartialObjectMetadata: labels and annotations only, never the token value",
            optional=True,
        ),
        _permission("pods", "which accounts running pods use, token automount and Secret mounts", optional=True),
        _permission(
            "deployments,statefulsets,daemonsets,replicasets (apps)",
            "accounts referenced by workload templates, including ones scaled to zero",
            optional=True,
        ),
        _permission("jobs,cronjobs (batch)", "accounts referenced by Job and CronJob templates", optional=True),
        _permission(
            "roles,rolebindings,clusterroles,clusterrolebindings (rbac.authorization.k8s.io)",
            "effective permissions of each account",
            optional=True,
        ),
        _permission(
            "configmaps kube-system/kube-apiserver-legacy-service-account-token-tracking",
            "when legacy-token usage tracking began, to judge tokens without a last-used label",
            verbs="get",
            optional=True,
        ),
    )

    def __init__(self, settings: Any = None, *, as_of: datetime) -> None:
        super().__init__(settings, as_of=as_of)
        self.sleep = None  # tests inject a no-op sleep for retries
        self.retry_attempts = 5

    @property
    def config(self) -> KubernetesSettings:
        assert isinstance(self.settings, KubernetesSettings)
        return self.settings

    def _kubeconfig(self) -> str:
        if self.config.kubeconfig:
            return str(Path(self.config.kubeconfig).expanduser())
        env = os.environ.get("KUBECONFIG", "")
        first = env.split(os.pathsep)[0] if env else ""
        return first or str(Path("~/.kube/config").expanduser())

    def scopes(self) -> list[Scope]:
        from kubernetes.config import list_kube_config_contexts
        from kubernetes.config.config_exception import ConfigException

        path = self._kubeconfig()
        if not Path(path).is_file():
            if not self.config.kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
                # running in a pod without a kubeconfig: the pod's own service account token
                return [Scope(provider=self.name, id=IN_CLUSTER, name=IN_CLUSTER, params={"in_cluster": True})]
            raise ScopeError(f"kubeconfig not found: {path}", kind="not-found")
        try:
            contexts, current = list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError) as exc:
            raise ScopeError(f"cannot read kubeconfig {path}: {redact(exc)}", kind="auth") from None
        by_name = {c["name"]: c for c in contexts or []}
        if self.config.contexts:
            names = list(dict.fromkeys(self.config.contexts))
        elif self.config.all_contexts:
            names = sorted(by_name)
        elif current:
            names = [current["name"]]
        else:
            raise ScopeError(
                f"kubeconfig {path} has no current context; pass --kube-context or --all-contexts", kind="not-found"
            )
        scopes = []
        for name in names:
            ctx = (by_name.get(name) or {}).get("context") or {}
            scopes.append(
                Scope(
                    provider=self.name,
                    id=name,
                    name=ctx.get("cluster") or name,
                    params={"kubeconfig": path, "cluster": ctx.get("cluster")},
                )
            )
        return scopes

    def _retry(self) -> RetryPolicy:
        policy = RetryPolicy(attempts=self.retry_attempts)
        if self.sleep is not None:
            policy.sleep = self.sleep
        return policy

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        from nhiwarden.providers.kubernetes.api import Denied, KubeApi
        from nhiwarden.providers.kubernetes.inventory import (
            LEGACY_TOKEN_TYPE,
            ClusterData,
            build_identities,
            parse_day,
            project_pod,
            project_secret,
            project_service_account,
            project_workload,
        )
        from nhiwarden.providers.kubernetes.rbac import resolve_bindings

        if not scope.params.get("in_cluster") and scope.id not in self._context_names(scope):
            raise ScopeError(
                f"context {scope.id!r} not found in kubeconfig {scope.params.get('kubeconfig')}", kind="not-found"
            )
        calls = CallLog(result)
        api = KubeApi(
            kubeconfig=scope.params.get("kubeconfig"),
            context=scope.id,
            calls=calls,
            retry=self._retry(),
            page_size=self.config.page_size,
            timeout=self.config.request_timeout,
            in_cluster=bool(scope.params.get("in_cluster")),
        )
        try:
            try:
                service_accounts = api.list("serviceaccounts", project_service_account)
            except Denied as exc:
                raise ScopeError(
                    f"context {scope.id!r}: cannot list serviceaccounts: {exc.message}", kind="permission"
                ) from None

            def optional(signal: str, fn: Any) -> Any:
                try:
                    return fn()
                except Denied as exc:
                    result.mark_partial(f"{signal}: {exc.message}")
                    return None

            secrets = optional(
                "legacy tokens",
                lambda: api.list(
                    "secrets", project_secret, field_selector=f"type={LEGACY_TOKEN_TYPE}", metadata_only=True
                ),
            )
            pods = optional("pod usage", lambda: api.list("pods", project_pod))
            workloads: list[dict[str, Any]] | None = []
            for resource, kind in WORKLOAD_KINDS.items():
                items = optional(
                    f"workload usage ({resource})", lambda r=resource, k=kind: api.list(r, project_workload(k))
                )
                if items is None:
                    workloads = None
                elif workloads is not None:
                    workloads.extend(items)
            rbac = {
                r: optional(f"rbac ({r})", lambda r=r: api.list(r, _keep_rbac))
                for r in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
            }
            bindings = None
            if all(v is not None for v in rbac.values()):
                bindings = resolve_bindings(
                    rbac["roles"],
                    rbac["clusterroles"],
                    rbac["rolebindings"],
                    rbac["clusterrolebindings"],
                    privileged_namespaces=self.config.privileged_namespaces,
                )
            tracking = self._tracking_since(api, Denied, parse_day, result, secrets)
        finally:
            api.close()
        data = ClusterData(
            service_accounts=service_accounts,
            secrets=secrets,
            pods=pods,
            workloads=workloads,
            bindings=bindings,
            tracking_since=tracking,
        )
        result.identities = build_identities(scope.id, data, as_of=self.as_of)
        result.identity_count = len(result.identities)
        result.credential_count = sum(len(i.credentials) for i in result.identities)
        result.attributes.update(
            {
                "server": redact(api.server),
                "cluster": scope.params.get("cluster"),
                "legacy_token_tracking_since": tracking.date().isoformat() if tracking else None,
                "orphan_legacy_tokens": _orphans(secrets, service_accounts),
            }
        )

    def _context_names(self, scope: Scope) -> set[str]:
        from kubernetes.config import list_kube_config_contexts

        try:
            contexts, _ = list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=scope.params.get("kubeconfig")
            )
        except Exception:
            return {scope.id}  # let the client report the real problem
        return {c["name"] for c in contexts or []}

    def _tracking_since(
        self,
        api: Any,
        denied: type[Exception],
        parse_day: Any,
        result: ScopeResult,
        secrets: list[dict[str, Any]] | None,
    ) -> datetime | None:
        if self.config.tracking_since is not None:
            return datetime.combine(self.config.tracking_since, datetime.min.time(), tzinfo=UTC)
        reason = ""
        try:
            cm = api.get_config_map(*TRACKING_CONFIGMAP)
            since = parse_day(str((cm.get("data") or {}).get("since", ""))[:10])
            if since is not None:
                return since  # type: ignore[no-any-return]
            reason = "the tracking ConfigMap has no valid 'since'"
        except denied as exc:
            reason = getattr(exc, "message", str(exc))
        unlabelled = [s for s in secrets or [] if "kubernetes.io/legacy-token-last-used" not in s["labels"]]
        if unlabelled:
            result.mark_partial(
                f"legacy-token usage: tracking start unknown ({reason}); {len(unlabelled)} token(s) without a "
                "last-used label are not judged (set tracking_since to judge them)"
            )
        return None

    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        from nhiwarden.providers.kubernetes.api import Denied, KubeApi

        result = ScopeResult(provider=self.name, scope=scope.id)
        checks: list[DoctorCheck] = []
        try:
            api = KubeApi(
                kubeconfig=scope.params.get("kubeconfig"),
                context=scope.id,
                calls=CallLog(result),
                retry=self._retry(),
                page_size=1,
                timeout=self.config.request_timeout,
                in_cluster=bool(scope.params.get("in_cluster")),
            )
        except ScopeError as exc:
            return [DoctorCheck(scope=scope.id, check="kubeconfig", ok=False, detail=exc.reason)]
        try:
            try:
                v = api.version()
                checks.append(
                    DoctorCheck(scope=scope.id, check="reach API server", ok=True, detail=str(v.get("gitVersion", "")))
                )
            except ScopeError as exc:
                return [DoctorCheck(scope=scope.id, check="reach API server", ok=False, detail=exc.reason)]
            from nhiwarden.providers.kubernetes.api import LISTS

            for resource in LISTS:
                try:
                    api.probe(
                        resource,
                        metadata_only=resource == "secrets",
                        field_selector="type=kubernetes.io/service-account-token" if resource == "secrets" else None,
                    )
                    checks.append(DoctorCheck(scope=scope.id, check=f"list {resource}", ok=True))
                except Denied as exc:
                    checks.append(DoctorCheck(scope=scope.id, check=f"list {resource}", ok=False, detail=exc.message))
                except ScopeError as exc:
                    checks.append(DoctorCheck(scope=scope.id, check=f"list {resource}", ok=False, detail=exc.reason))
        finally:
            api.close()
        return checks


def _keep_rbac(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "labels": meta.get("labels") or {}},
        "rules": obj.get("rules") or [],
        "aggregationRule": obj.get("aggregationRule"),
        "roleRef": obj.get("roleRef"),
        "subjects": obj.get("subjects") or [],
    }


def _orphans(secrets: list[dict[str, Any]] | None, service_accounts: list[dict[str, Any]]) -> int:
    names = {(s["namespace"], s["name"]) for s in service_accounts}
    return sum(
        1
        for s in secrets or []
        if (s["namespace"], s["annotations"].get("kubernetes.io/service-account.name")) not in names
    )
