"""Deliver a new secret into a Kubernetes Secret (Opaque), with a resourceVersion precondition.

The write names the resourceVersion the plan saw: a Secret changed since is never overwritten (409).
A Secret the step created is deleted by the rollback. Restoring the previous content of an existing
Secret needs that content, which is a secret: it is kept in memory only, so that rollback works within
the same apply; after a crash it is refused with a clear message (restore by hand), never guessed.
"""

from __future__ import annotations

import base64
from typing import Any

from nhiwarden.redact import register_secret

from ..actions import PUBLIC_FIELDS, Context, Delivery, StepError, action, observer
from ..kubeapi import KubeError, kube

MANAGED_LABEL = "app.kubernetes.io/managed-by"


def _path(params: dict[str, Any]) -> str:
    return f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}"


def _get(ctx: Context, params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return kube(ctx).request("GET", _path(params))
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def _decode(secret: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in (secret.get("data") or {}).items():
        text = base64.b64decode(value).decode(errors="replace")
        if key not in PUBLIC_FIELDS:
            register_secret(text)
        out[key] = text
    return out


def _encode(data: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


@observer("k8s-secret.secret")
def observe_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    secret = _get(ctx, params)
    if secret is None:
        return {"exists": False, "resource_version": "", "type": None}
    return {
        "exists": True,
        "resource_version": (secret.get("metadata") or {}).get("resourceVersion"),
        "type": secret.get("type"),
    }


@action
class K8sSecretWrite(Delivery):
    name = "k8s-secret.write"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        secret = ctx.secret(params["secret_step"])
        current = _get(ctx, params)
        planned = str(params.get("resource_version") or "")
        new_fields = {kf: secret[sf] for kf, sf in params["fields"].items()}
        if current is None:
            if planned:
                raise StepError(f"secret {params['namespace']}/{params['name']} was deleted since the plan")
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": params["name"],
                    "namespace": params["namespace"],
                    "labels": {MANAGED_LABEL: "nhiwarden"},
                },
                "data": _encode(new_fields),
            }
            made = kube(ctx).request("POST", f"/api/v1/namespaces/{params['namespace']}/secrets", body)
            return {
                "created": True,
                "resource_version": made["metadata"]["resourceVersion"],
                "previous_resource_version": "",
            }
        meta = current.get("metadata") or {}
        if meta.get("resourceVersion") != planned:
            raise StepError(
                f"secret {params['namespace']}/{params['name']} changed since the plan "
                f"(resourceVersion {meta.get('resourceVersion')}, planned {planned}): not overwriting"
            )
        previous = _decode(current)
        ctx.secrets[f"{ctx.current}#previous"] = previous
        data = {**previous, **new_fields}
        body = {**current, "data": _encode(data)}
        body.pop("stringData", None)
        updated = kube(ctx).request("PUT", _path(params), body)
        return {
            "created": False,
            "resource_version": updated["metadata"]["resourceVersion"],
            "previous_resource_version": planned,
        }

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        current = _get(ctx, params)
        if current is None:
            return
        if (current.get("metadata") or {}).get("resourceVersion") != outputs["resource_version"]:
            raise StepError(f"secret {params['namespace']}/{params['name']} changed after delivery: not restoring")
        if outputs.get("created"):
            kube(ctx).request("DELETE", _path(params))
            return
        previous = ctx.secrets.get(f"{ctx.current}#previous")
        if previous is None:
            raise StepError(
                f"the previous content of secret {params['namespace']}/{params['name']} was only kept in the "
                "memory of the apply that replaced it: restore it by hand"
            )
        kube(ctx).request("PUT", _path(params), {**current, "data": _encode(previous)})

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        current = _get(ctx, params)
        key_field = params.get("key_field")
        if current is None or not key_field:
            return None
        data = _decode(current)
        if data.get(key_field) == params.get("key_id"):
            rv = (current.get("metadata") or {}).get("resourceVersion")
            return {
                "created": not params.get("resource_version"),
                "resource_version": rv,
                "previous_resource_version": params.get("resource_version") or "",
            }
        return None

    def read_back(self, ctx: Context, params: dict[str, Any]) -> dict[str, str]:
        current = _get(ctx, params)
        if current is None:
            raise StepError(f"secret {params['namespace']}/{params['name']} does not exist")
        data = _decode(current)
        return {sf: data.get(kf, "") for kf, sf in params["fields"].items()}
