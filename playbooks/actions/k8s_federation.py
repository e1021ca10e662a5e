"""Kubernetes actions and checks of the ``migrate`` playbook: legacy token Secret -> projected tokens.

Each workload that mounts the legacy token Secret as a volume gets that volume replaced, under the
same name, by a projected volume with a bound ``serviceAccountToken`` (plus ``ca.crt`` and
``namespace``: the same files the legacy Secret held, so mounts and paths do not change). The change
is a JSON patch whose first operation ``test``s the exact volume the plan saw, so a concurrent edit
fails the step instead of being clobbered; the rollback is the inverse patch, again guarded by
``test``. The old token is then invalidated reversibly with the ``kubernetes.io/legacy-token-
invalid-since`` label (Kubernetes >= 1.29 rejects it), and deleted last. Never reads the token value.
"""

from __future__ import annotations

from typing import Any

from ..kubeapi import KubeError, kube
from . import Action, Context, StepError, action, observer

INVALID_SINCE = "kubernetes.io/legacy-token-invalid-since"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
WORKLOADS = {
    "Deployment": ("apis/apps/v1", "deployments", "/spec/template/spec"),
    "StatefulSet": ("apis/apps/v1", "statefulsets", "/spec/template/spec"),
    "DaemonSet": ("apis/apps/v1", "daemonsets", "/spec/template/spec"),
    "CronJob": ("apis/batch/v1", "cronjobs", "/spec/jobTemplate/spec/template/spec"),
}


def workload_path(kind: str, ns: str, name: str = "") -> str:
    api, plural, _ = WORKLOADS[kind]
    return f"/{api}/namespaces/{ns}/{plural}" + (f"/{name}" if name else "")


def pod_spec(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    node: Any = obj
    for part in WORKLOADS[kind][2].strip("/").split("/"):
        node = (node or {}).get(part) or {}
    return dict(node)


def projected_volume(name: str, expiration_seconds: int, audience: str | None) -> dict[str, Any]:
    token: dict[str, Any] = {"path": "token", "expirationSeconds": expiration_seconds}
    if audience:
        token["audience"] = audience
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": token},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def mounting_workloads(ctx: Context, ns: str, secret: str) -> list[dict[str, Any]]:
    """Every workload template in ``ns`` that uses the Secret: as a volume, or in env/envFrom."""
    found = []
    for kind in WORKLOADS:
        items = kube(ctx).request("GET", workload_path(kind, ns)).get("items") or []
        for obj in items:
            spec = pod_spec(obj, kind)
            name = obj["metadata"]["name"]
            for index, vol in enumerate(spec.get("volumes") or []):
                if (vol.get("secret") or {}).get("secretName") == secret:
                    found.append({"kind": kind, "name": name, "index": index, "volume": vol, "spec": spec})
            containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
            env_refs = [
                e
                for c in containers
                for e in (c.get("env") or [])
                if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret
            ] + [
                e
                for c in containers
                for e in (c.get("envFrom") or [])
                if (e.get("secretRef") or {}).get("name") == secret
            ]
            if env_refs:
                found.append({"kind": kind, "name": name, "index": None, "volume": None, "spec": spec})
    return found


@observer("k8sfed.workload-volume")
def observe_volume(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        obj = kube(ctx).request("GET", workload_path(params["kind"], params["namespace"], params["name"]))
    except KubeError as exc:
        if exc.status == 404:
            return {"exists": False, "volume": None, "service_account": None}
        raise
    spec = pod_spec(obj, params["kind"])
    volumes = spec.get("volumes") or []
    index = int(params["index"])
    return {
        "exists": True,
        "volume": volumes[index] if index < len(volumes) else None,
        "service_account": spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
    }


@observer("k8sfed.secret-users")
def observe_users(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    users = mounting_workloads(ctx, params["namespace"], params["secret"])
    pods = kube(ctx).request("GET", f"/api/v1/namespaces/{params['namespace']}/pods").get("items") or []
    bare = [
        p["metadata"]["name"]
        for p in pods
        if any((v.get("secret") or {}).get("secretName") == params["secret"] for v in p["spec"].get("volumes") or [])
    ]
    return {"workloads": sorted(f"{u['kind']}/{u['name']}" for u in users), "pods": sorted(bare)}


@observer("k8sfed.legacy-secret")
def observe_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        obj = kube(ctx).request("GET", f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}")
    except KubeError as exc:
        if exc.status == 404:
            return {"exists": False, "type": None, "invalid_since": None, "service_account": None, "marked": False}
        raise
    meta = obj.get("metadata") or {}
    label = (meta.get("labels") or {}).get(INVALID_SINCE)
    return {
        "exists": True,
        "type": obj.get("type"),
        "invalid_since": label,
        "marked": label is not None and label == params.get("invalid_since"),
        "service_account": (meta.get("annotations") or {}).get("kubernetes.io/service-account.name"),
    }


def _volume_pointer(kind: str, index: int) -> str:
    return f"{WORKLOADS[kind][2]}/volumes/{index}"


@action
class ProjectToken(Action):
    """Replace the Secret volume of one workload by a projected service-account token volume."""

    name = "k8sfed.project-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        live = observe_volume(ctx, params)
        if live["volume"] == params["new"]:
            return {"patched": False}
        self._patch(ctx, params, params["old"], params["new"])
        return {"patched": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("patched"):
            self._patch(ctx, params, params["new"], params["old"])

    @staticmethod
    def _patch(ctx: Context, params: dict[str, Any], expect: dict[str, Any], value: dict[str, Any]) -> None:
        pointer = _volume_pointer(params["kind"], int(params["index"]))
        ops = [{"op": "test", "path": pointer, "value": expect}, {"op": "replace", "path": pointer, "value": value}]
        try:
            kube(ctx).request(
                "PATCH",
                workload_path(params["kind"], params["namespace"], params["name"]),
                ops,
                content_type=JSON_PATCH,
            )
        except KubeError as exc:
            raise StepError(f"{params['kind']}/{params['name']}: the volume changed since the plan: {exc}") from None


@action
class InvalidateLegacyToken(Action):
    """Label the Secret ``kubernetes.io/legacy-token-invalid-since``: the API server rejects the token."""

    name = "k8sfed.invalidate-legacy-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        day = ctx.now.date().isoformat()
        self._label(ctx, params, day)
        return {"invalid_since": day, "at": ctx.now.replace(microsecond=0).isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._label(ctx, params, None)

    @staticmethod
    def _label(ctx: Context, params: dict[str, Any], value: str | None) -> None:
        kube(ctx).request(
            "PATCH",
            f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}",
            {"metadata": {"labels": {INVALID_SINCE: value}}},
            content_type=MERGE_PATCH,
        )


@action
class DeleteLegacyToken(Action):
    name = "k8sfed.delete-legacy-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            kube(ctx).request("DELETE", f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}")
        except KubeError as exc:
            if exc.status != 404:
                raise
        return {"deleted": f"{params['namespace']}/{params['name']}"}


@action
class VerifyUnmounted(Action):
    """Read-only: no workload template uses the Secret any more."""

    name = "k8sfed.verify-unmounted"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        users = mounting_workloads(ctx, params["namespace"], params["secret"])
        if users:
            names = ", ".join(f"{u['kind']}/{u['name']}" for u in users)
            raise StepError(f"Secret {params['secret']} is still used by {names}")
        return {"verified": True, "at": ctx.now.replace(microsecond=0).isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None
