"""Azure / Entra ID actions and checks: client-secret rotation with addPassword / removePassword.

Entra ID cannot disable a password credential: the old secret stays valid until it is removed, so an
Azure rotation has no deactivate stage; ``removePassword`` runs in the separate, held delete stage.
The new ``secretText`` is registered with the redactor at once and handed to delivery in memory only.
Graph calls go through httpx with a token from azure-identity (the provider's credential settings).
"""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta
from typing import Any

import httpx
from nhiwarden.redact import redact, register_secret

from ..actions import Action, Context, StepError, action, get_action, observer

VERIFY_ATTEMPTS = 6
VERIFY_DELAY_S = 5.0  # new secrets take a while to replicate in Entra ID


class GraphError(StepError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def parse_uid(uid: str) -> tuple[str, str]:
    """``azure:<tenant>:sp/<appId>`` -> (tenant, appId)."""
    parts = uid.split(":", 2)
    if len(parts) != 3 or parts[0] != "azure" or not parts[2].startswith("sp/"):
        raise StepError(f"not an Azure application identity: {uid}")
    return parts[1], parts[2][3:]


def _verify(conn: dict[str, Any]) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=conn["ca_bundle"]) if conn.get("ca_bundle") else True


def _credential_kwargs(conn: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if conn.get("authority_host"):
        kwargs["authority"] = conn["authority_host"]
        kwargs["disable_instance_discovery"] = True
    if conn.get("ca_bundle"):
        kwargs["connection_verify"] = conn["ca_bundle"]
    return kwargs


class Graph:
    def __init__(self, ctx: Context) -> None:
        from nhiwarden.providers.azure.auth import build_credential

        conn = ctx.connection("azure")
        self.base = str(conn.get("graph_endpoint") or "https://graph.microsoft.com").rstrip("/")
        self.credential = build_credential(
            str(conn.get("credential") or "default"),
            tenant=conn.get("tenant"),
            client_id=conn.get("client_id"),
            authority_host=conn.get("authority_host"),
            ca_bundle=conn.get("ca_bundle"),
        )
        self.http = httpx.Client(verify=_verify(conn), timeout=30.0)

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        token = self.credential.get_token(f"{self.base}/.default").token
        register_secret(token)
        url = path if path.startswith("http") else f"{self.base}/v1.0/{path.lstrip('/')}"
        try:
            resp = self.http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise GraphError(0, f"{method} {path}: {redact(exc)}") from None
        data: dict[str, Any] = {}
        if resp.content:
            try:
                data = resp.json()
            except ValueError:
                data = {}
        if resp.status_code >= 400:
            err = data.get("error") or {}
            raise GraphError(resp.status_code, f"{method} {path}: {err.get('code')}: {redact(err.get('message'))}")
        return data


def graph(ctx: Context) -> Graph:
    client: Graph = ctx.cached("azure-graph", lambda: Graph(ctx))
    return client


def application(ctx: Context, app_id: str) -> dict[str, Any] | None:
    """The application object with this appId (paged list; the appId is matched exactly)."""
    page = graph(ctx).request("GET", "applications?$select=id,appId,displayName,passwordCredentials")
    while True:
        for app in page.get("value") or []:
            if str(app.get("appId", "")).lower() == app_id.lower():
                return dict(app)
        nxt = page.get("@odata.nextLink")
        if not nxt:
            return None
        page = graph(ctx).request("GET", str(nxt))


def _secrets(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(p["keyId"]).lower(): p for p in app.get("passwordCredentials") or []}


def _object_id(ctx: Context, app_id: str) -> str:
    app = application(ctx, app_id)
    if app is None:
        raise StepError(f"application {app_id} not found")
    return str(app["id"])


@observer("azure.app-secret")
def observe_secret(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    app = application(ctx, params["app_id"])
    secret = _secrets(app).get(str(params["key_id"]).lower()) if app else None
    if app is None or secret is None:
        return {"exists": False}
    start = datetime.fromisoformat(str(secret.get("startDateTime")).replace("Z", "+00:00"))
    return {
        "exists": True,
        "object_id": app["id"],
        "created_at": secret.get("startDateTime"),
        "old_enough": start <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
    }


@observer("azure.app-secrets")
def observe_secrets(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    app = application(ctx, params["app_id"])
    return {"key_ids": sorted(_secrets(app)) if app else []}


@action
class AddPassword(Action):
    name = "azure.add-password"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        object_id = _object_id(ctx, params["app_id"])
        end = ctx.now + timedelta(days=float(params["valid_days"]))
        resp = graph(ctx).request(
            "POST",
            f"applications/{object_id}/addPassword",
            {
                "passwordCredential": {
                    "displayName": self.label(ctx, ctx.current),
                    "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            },
        )
        secret = str(resp.get("secretText") or "")
        if not secret:
            raise StepError("addPassword returned no secretText")
        register_secret(secret)
        key_id = str(resp["keyId"]).lower()
        ctx.keep_secret(
            ctx.current,
            {"client_secret": secret, "client_id": params["app_id"], "tenant_id": params["tenant"], "key_id": key_id},
        )
        return {"key_id": key_id, "end": resp.get("endDateTime")}

    @staticmethod
    def label(ctx: Context, step_id: str) -> str:
        return f"nhiwarden {ctx.plan.id} {step_id}"

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _remove(ctx, params["app_id"], outputs["key_id"])

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """Remove a secret the crashed create added (recognised by its display name): its value is lost."""
        app = application(ctx, params["app_id"]) or {}
        label = self.label(ctx, step_id)
        for key_id, cred in _secrets(app).items():
            if cred.get("displayName") == label and key_id not in set(params.get("known_key_ids", [])):
                _remove(ctx, params["app_id"], key_id)
        return None


def _remove(ctx: Context, app_id: str, key_id: str) -> None:
    object_id = _object_id(ctx, app_id)
    try:
        graph(ctx).request("POST", f"applications/{object_id}/removePassword", {"keyId": key_id})
    except GraphError as exc:
        if not (exc.status == 400 and "No credential found" in str(exc)):
            raise


@action
class VerifyClientSecret(Action):
    """Get a token with the delivered client secret (client-credentials flow)."""

    name = "azure.verify-client-secret"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from azure.identity import ClientSecretCredential

        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        if fields.get("key_id") != params["key_id"]:
            raise StepError(f"the delivery target holds secret {fields.get('key_id')}, expected {params['key_id']}")
        conn = ctx.connection("azure")
        scope = f"{str(conn.get('graph_endpoint') or 'https://graph.microsoft.com').rstrip('/')}/.default"
        credential = ClientSecretCredential(
            params["tenant"], params["app_id"], fields.get("client_secret", ""), **_credential_kwargs(conn)
        )
        for attempt in range(VERIFY_ATTEMPTS):
            try:
                register_secret(credential.get_token(scope).token)
                return {"verified_by": "client-credentials token", "key_id": params["key_id"]}
            except Exception as exc:
                if attempt == VERIFY_ATTEMPTS - 1:
                    raise StepError(f"the new client secret cannot get a token: {redact(exc)}") from None
                ctx.sleep(VERIFY_DELAY_S)
        raise StepError("unreachable")


@action
class RemovePassword(Action):
    name = "azure.remove-password"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _remove(ctx, params["app_id"], params["key_id"])
        return {"removed_key_id": params["key_id"]}

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        app = application(ctx, params["app_id"]) or {}
        return None if params["key_id"] in _secrets(app) else {"removed_key_id": params["key_id"]}


# -- offboarding ---------------------------------------------------------------------------------


def service_principal(ctx: Context, app_id: str) -> dict[str, Any] | None:
    page = graph(ctx).request("GET", f"servicePrincipals?$filter=appId eq '{app_id}'")
    items = page.get("value") or []
    return dict(items[0]) if items else None


@observer("azure.sp")
def observe_sp(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    sp = service_principal(ctx, params["app_id"])
    if sp is None:
        return {"exists": False}
    return {"exists": True, "object_id": sp["id"], "account_enabled": bool(sp.get("accountEnabled", True))}


@action
class DisableServicePrincipal(Action):
    """``accountEnabled: false`` on the service principal: no new tokens, fully reversible."""

    name = "azure.disable-sp"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        graph(ctx).request("PATCH", f"servicePrincipals/{params['object_id']}", {"accountEnabled": False})
        return {"object_id": params["object_id"], "at": ctx.now.isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        graph(ctx).request("PATCH", f"servicePrincipals/{params['object_id']}", {"accountEnabled": True})


@action
class RemovePasswords(Action):
    name = "azure.remove-passwords"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        for key_id in params["key_ids"]:
            _remove(ctx, params["app_id"], key_id)
        return {"removed": list(params["key_ids"])}
