"""Kubernetes actions and checks: replace a legacy service-account token Secret by a TokenRequest token.

The new token is bound to a new Opaque Secret (``boundObjectRef``), so deleting that Secret revokes it:
the rollback of the create step. The old legacy token is first invalidated with the
``kubernetes.io/legacy-token-invalid-since`` label (reversible: the API server rejects it loudly and
still records use), and deleted only in the separate delete stage, after checking the
``legacy-token-last-used`` label shows no use since. The token is registered with the redactor at once.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from nhiwarden.redact import redact

from ..actions import Action, Context, StepError, action, get_action, observer
from ..kubeapi import KubeError, kube

INVALID_LABEL = "kubernetes.io/legacy-token-invalid-since"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"
MANAGED_LABEL = "nhiwarden.io/plan-step"
LEGACY_TYPE = "kubernetes.io/service-account-token"


def parse_uid(uid: str) -> tuple[str, str, str]:
    """``k8s:<cluster>:ns/<ns>:sa/<name>`` -> (cluster, namespace, service account)."""
    parts = uid.split(":")
    if len(parts) < 4 or parts[0] != "k8s" or not parts[-2].startswith("ns/") or not parts[-1].startswith("sa/"):
        raise StepError(f"not a Kubernetes service account identity: {uid}")
    return ":".join(parts[1:-2]), parts[-2][3:], parts[-1][3:]


def _secret_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/secrets" + (f"/{name}" if name else "")


def get_secret(ctx: Context, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return kube(ctx).request("GET", _secret_path(ns, name))
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def _mounted_by(ctx: Context, ns: str, secret: str) -> list[str]:
    pods = kube(ctx).request("GET", f"/api/v1/namespaces/{ns}/pods").get("items") or []
    out = []
    for pod in pods:
        spec = pod.get("spec") or {}
        text = json.dumps(
            [
                [v.get("secret", {}).get("secretName") for v in spec.get("volumes") or []],
                [c.get("env") or [] for c in spec.get("containers") or []],
                [c.get("envFrom") or [] for c in spec.get("containers") or []],
            ]
        )
        if f'"{secret}"' in text:
            out.append(f"Pod/{pod['metadata']['name']}")
    return sorted(out)


@observer("k8s.legacy-token")
def observe_legacy_token(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ns, name = params["namespace"], params["name"]
    secret = get_secret(ctx, ns, name)
    if secret is None:
        return {"exists": False}
    meta = secret.get("metadata") or {}
    ann, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    created = datetime.fromisoformat(str(meta.get("creationTimestamp")).replace("Z", "+00:00"))
    facts: dict[str, Any] = {
        "exists": True,
        "uid": meta.get("uid"),
        "type": secret.get("type"),
        "service_account": ann.get("kubernetes.io/service-account.name"),
        "created_at": meta.get("creationTimestamp"),
        "old_enough": created <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
        "invalid_since": labels.get(INVALID_LABEL),
        "invalidated": INVALID_LABEL in labels,
        "last_used": labels.get(LAST_USED_LABEL),
    }
    if params.get("with_pods"):
        facts["mounted_by"] = _mounted_by(ctx, ns, name)
    if params.get("since"):
        facts["used_after"] = bool(labels.get(LAST_USED_LABEL) and labels[LAST_USED_LABEL] > str(params["since"]))
    return facts


@observer("k8s.service-account")
def observe_sa(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        sa = kube(ctx).request("GET", f"/api/v1/namespaces/{params['namespace']}/serviceaccounts/{params['name']}")
    except KubeError as exc:
        if exc.status == 404:
            return {"exists": False, "uid": None}
        raise
    meta = sa.get("metadata") or {}
    created = datetime.fromisoformat(str(meta.get("creationTimestamp")).replace("Z", "+00:00"))
    return {
        "exists": True,
        "uid": meta.get("uid"),
        "created_at": meta.get("creationTimestamp"),
        "old_enough": created <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
    }


@action
class CreateBoundToken(Action):
    """Create an Opaque Secret to bind to, then a TokenRequest bound to it (revocable by deleting it)."""

    name = "k8s.create-bound-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        ns, sa = params["namespace"], params["service_account"]
        label = f"{ctx.plan.id}.{ctx.current}"
        bound = kube(ctx).request(
            "POST",
            _secret_path(ns),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": f"{sa}-nhw-token-{uuid.uuid4().hex[:6]}",
                    "namespace": ns,
                    "labels": {MANAGED_LABEL: label},
                    "annotations": {"nhiwarden.io/purpose": f"binds the TokenRequest token of {ns}/{sa}"},
                },
            },
        )
        name, uid = bound["metadata"]["name"], bound["metadata"]["uid"]
        spec: dict[str, Any] = {
            "expirationSeconds": int(params["expiration_seconds"]),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": name, "uid": uid},
        }
        if params.get("audiences"):
            spec["audiences"] = list(params["audiences"])
        try:
            resp = kube(ctx).request(
                "POST",
                f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
            )
        except Exception:
            kube(ctx).request("DELETE", _secret_path(ns, name))
            raise
        status = resp.get("status") or {}
        ctx.keep_secret(ctx.current, {"token": str(status["token"]), "token_ref": name})
        return {"bound_secret": name, "expires_at": status.get("expirationTimestamp")}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _delete_secret(ctx, params["namespace"], outputs["bound_secret"])

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """A bound Secret left by a crashed create holds no retrievable token: delete it, create again."""
        label = f"{ctx.plan.id}.{step_id}"
        items = kube(ctx).request(
            "GET", _secret_path(params["namespace"]) + f"?labelSelector={MANAGED_LABEL}%3D{label}"
        )
        for item in items.get("items") or []:
            _delete_secret(ctx, params["namespace"], item["metadata"]["name"])
        return None


def _delete_secret(ctx: Context, ns: str, name: str) -> None:
    try:
        kube(ctx).request("DELETE", _secret_path(ns, name))
    except KubeError as exc:
        if exc.status != 404:
            raise


@action
class VerifyToken(Action):
    """TokenReview of the delivered token: it must authenticate as the service account.

    Fails closed: when TokenReview is forbidden (the plan's identity lacks ``create tokenreviews``)
    or not served, or the review does not authenticate the expected user, the step fails; there is
    no weaker fallback (a JWT's claims say nothing about whether the API server accepts it).
    """

    name = "k8s.verify-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        token = fields.get("token") or ""
        if not token:
            raise StepError("the delivery target holds no token to verify")
        expected = f"system:serviceaccount:{params['namespace']}:{params['service_account']}"
        try:
            review = kube(ctx).request(
                "POST",
                "/apis/authentication.k8s.io/v1/tokenreviews",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
            )
        except KubeError as exc:
            if exc.status == 403:
                raise StepError(
                    "TokenReview is forbidden (grant create on tokenreviews.authentication.k8s.io), so the new "
                    f"token cannot be verified: {exc}"
                ) from None
            if exc.status in (404, 405):
                raise StepError(
                    f"the API server does not serve TokenReview, so the new token cannot be verified: {exc}"
                ) from None
            raise
        status = review.get("status") or {}
        user = (status.get("user") or {}).get("username")
        if status.get("authenticated") is not True or user != expected:
            why = f" ({redact(str(status['error']))})" if status.get("error") else ""
            raise StepError(
                f"TokenReview: authenticated={bool(status.get('authenticated'))}, user={user}, expected {expected}{why}"
            )
        return {"verified_by": "TokenReview", "username": user}


@action
class InvalidateLegacyToken(Action):
    name = "k8s.invalidate-legacy-token"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        day = ctx.now.date().isoformat()
        kube(ctx).request(
            "PATCH",
            _secret_path(params["namespace"], params["name"]),
            {"metadata": {"labels": {INVALID_LABEL: day}}},
            content_type="application/merge-patch+json",
        )
        return {"invalid_since": day, "at": ctx.now.isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        kube(ctx).request(
            "PATCH",
            _secret_path(params["namespace"], params["name"]),
            {"metadata": {"labels": {INVALID_LABEL: None}}},
            content_type="application/merge-patch+json",
        )


@action
class DeleteSecret(Action):
    name = "k8s.delete-secret"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _delete_secret(ctx, params["namespace"], params["name"])
        return {"deleted": f"{params['namespace']}/{params['name']}"}

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        if get_secret(ctx, params["namespace"], params["name"]) is None:
            return {"deleted": f"{params['namespace']}/{params['name']}"}
        return None


from . import k8s_offboard  # noqa: E402 - registers the offboarding actions under the same prefix

__all__ = ["k8s_offboard"]
