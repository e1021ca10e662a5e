"""Entra ID actions and checks of the ``migrate`` playbook: a federated identity credential on the app.

``POST /applications/{id}/federatedIdentityCredentials {name, issuer, subject, audiences}`` replaces the
client secret with a trust in the consumer's token issuer; the credential with the same issuer and
subject is reused when it exists (reapplying changes nothing), and a rollback deletes only a
credential this plan created. Graph calls go through the rotation playbook's Graph client.
"""

from __future__ import annotations

from typing import Any

from . import Action, Context, StepError, action, observer
from .azure import GraphError, application, graph


def _object_id(ctx: Context, app_id: str) -> str:
    app = application(ctx, app_id)
    if app is None:
        raise StepError(f"application {app_id} not found")
    return str(app["id"])


def credentials(ctx: Context, object_id: str) -> list[dict[str, Any]]:
    page = graph(ctx).request("GET", f"applications/{object_id}/federatedIdentityCredentials")
    out = list(page.get("value") or [])
    while page.get("@odata.nextLink"):
        page = graph(ctx).request("GET", str(page["@odata.nextLink"]))
        out += list(page.get("value") or [])
    return out


def _same(fic: dict[str, Any], params: dict[str, Any]) -> bool:
    return (
        fic.get("issuer") == params["issuer"]
        and fic.get("subject") == params["subject"]
        and sorted(fic.get("audiences") or []) == sorted(params["audiences"])
    )


@observer("azurefed.credential")
def observe_credential(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    app = application(ctx, params["app_id"])
    if app is None:
        return {"app_exists": False, "exists": False, "name_taken": False}
    fics = credentials(ctx, str(app["id"]))
    match = next((f for f in fics if _same(f, params)), None)
    return {
        "app_exists": True,
        "exists": match is not None,
        "name_taken": match is None and any(f.get("name") == params["name"] for f in fics),
        "count": len(fics),
    }


@action
class EnsureFederatedCredential(Action):
    name = "azurefed.ensure-credential"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        object_id = _object_id(ctx, params["app_id"])
        for fic in credentials(ctx, object_id):
            if _same(fic, params):
                return {"id": fic.get("id"), "name": fic.get("name"), "created": False}
        body = {
            "name": params["name"],
            "issuer": params["issuer"],
            "subject": params["subject"],
            "audiences": list(params["audiences"]),
            "description": params.get("description", "")[:600],
        }
        made = graph(ctx).request("POST", f"applications/{object_id}/federatedIdentityCredentials", body)
        return {"id": made.get("id"), "name": made.get("name"), "created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        object_id = _object_id(ctx, params["app_id"])
        try:
            graph(ctx).request("DELETE", f"applications/{object_id}/federatedIdentityCredentials/{outputs['id']}")
        except GraphError as exc:
            if exc.status != 404:
                raise

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        return None  # the ensure finds a credential a crashed apply created, by issuer and subject


@action
class VerifyFederatedCredential(Action):
    """Read the credential back and judge it with the federation trust audit (read-only)."""

    name = "azurefed.verify-credential"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from nhiwarden.providers.azure.trust import trust_from_credential
        from nhiwarden.rules.builtin.federation import judge

        object_id = _object_id(ctx, params["app_id"])
        match = next((f for f in credentials(ctx, object_id) if _same(f, params)), None)
        if match is None:
            raise StepError(f"no federated credential for {params['subject']} on application {params['app_id']}")
        verdict = judge(trust_from_credential(match))
        if verdict is not None:
            raise StepError(f"the federated credential is too broad: {verdict[1]}")
        return {"verified": True, "id": match.get("id"), "at": ctx.now.replace(microsecond=0).isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None
