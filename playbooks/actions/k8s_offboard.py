"""Kubernetes offboarding: remove a service account from its RBAC bindings (recorded for restore).

Disable = for each binding recorded in the plan that names the account: remove that subject with a
json-patch guarded by a ``test`` op (so a binding changed since is never corrupted), or delete the
binding when the account was its only subject. The removed bindings (public RBAC objects) are
recorded in the journal, and the rollback puts back exactly those subjects or bindings. Delete stage:
delete the ServiceAccount itself (which also deletes its legacy token Secrets).
"""

from __future__ import annotations

from typing import Any

from ..actions import Action, Context, StepError, action, observer
from ..kubeapi import KubeError, kube

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _path(kind: str, ns: str | None, name: str = "") -> str:
    base = f"{RBAC}/namespaces/{ns}/rolebindings" if kind == "RoleBinding" else f"{RBAC}/clusterrolebindings"
    return base + (f"/{name}" if name else "")


def _is_subject(subject: dict[str, Any], ns: str, sa: str) -> bool:
    return bool(
        subject.get("kind") == "ServiceAccount" and subject.get("name") == sa and subject.get("namespace", ns) == ns
    )


def bindings_of(ctx: Context, ns: str, sa: str) -> list[dict[str, Any]]:
    """Every RoleBinding and ClusterRoleBinding that names the service account as a subject."""
    out = []
    for kind, path in (("RoleBinding", f"{RBAC}/rolebindings"), ("ClusterRoleBinding", f"{RBAC}/clusterrolebindings")):
        for item in kube(ctx).request("GET", path).get("items") or []:
            subjects = item.get("subjects") or []
            if any(_is_subject(s, (item.get("metadata") or {}).get("namespace") or ns, sa) for s in subjects):
                meta = item.get("metadata") or {}
                out.append({"kind": kind, "namespace": meta.get("namespace"), "name": meta["name"]})
    return sorted(out, key=lambda b: (b["kind"], b["namespace"] or "", b["name"]))


@observer("k8s.sa-bindings")
def observe_bindings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    found = bindings_of(ctx, params["namespace"], params["name"])
    return {"bindings": [f"{b['kind']}/{b['namespace'] or '-'}/{b['name']}" for b in found]}


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k in ("name", "namespace", "labels", "annotations")}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": obj.get("kind") or "RoleBinding",
        "metadata": meta,
        "roleRef": obj["roleRef"],
        "subjects": obj.get("subjects") or [],
    }


@action
class RemoveFromBindings(Action):
    name = "k8s.remove-sa-bindings"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        ns, sa = params["namespace"], params["name"]
        removed: list[dict[str, Any]] = []
        try:
            for ref in params["bindings"]:
                kind, bns, name = ref.split("/", 2)
                bns = None if bns == "-" else bns
                path = _path(kind, bns, name)
                try:
                    obj = kube(ctx).request("GET", path)
                except KubeError as exc:
                    if exc.status == 404:
                        continue
                    raise
                obj["kind"] = kind
                subjects = obj.get("subjects") or []
                index = next((i for i, s in enumerate(subjects) if _is_subject(s, bns or ns, sa)), None)
                if index is None:
                    continue
                if len(subjects) == 1:
                    kube(ctx).request("DELETE", path)
                    removed.append({"ref": ref, "deleted": True, "binding": _clean(obj)})
                else:
                    kube(ctx).request(
                        "PATCH",
                        path,
                        [
                            {"op": "test", "path": f"/subjects/{index}", "value": subjects[index]},
                            {"op": "remove", "path": f"/subjects/{index}"},
                        ],
                        content_type="application/json-patch+json",
                    )
                    removed.append({"ref": ref, "deleted": False, "subject": subjects[index]})
        except Exception:
            self.rollback(ctx, params, {"removed": removed})
            raise
        return {"removed": removed}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        errors = []
        for entry in reversed(outputs.get("removed") or []):
            kind, bns, name = entry["ref"].split("/", 2)
            bns = None if bns == "-" else bns
            try:
                if entry["deleted"]:
                    kube(ctx).request("POST", _path(kind, bns), entry["binding"])
                else:
                    kube(ctx).request(
                        "PATCH",
                        _path(kind, bns, name),
                        [{"op": "add", "path": "/subjects/-", "value": entry["subject"]}],
                        content_type="application/json-patch+json",
                    )
            except KubeError as exc:
                errors.append(f"{entry['ref']}: {exc}")
        if errors:
            raise StepError("could not restore " + "; ".join(errors))


@action
class DeleteServiceAccount(Action):
    name = "k8s.delete-service-account"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            kube(ctx).request("DELETE", f"/api/v1/namespaces/{params['namespace']}/serviceaccounts/{params['name']}")
        except KubeError as exc:
            if exc.status != 404:
                raise
        return {"deleted": f"{params['namespace']}/{params['name']}"}
