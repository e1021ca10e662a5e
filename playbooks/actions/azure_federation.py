"""Entra ID actions and checks of the ``migrate`` playbook: a federated identity credential on the app.

``POST /applications/{id}/federatedIdentityCredentials {name, issuer, subject, audiences}`` replaces the
client secret with a trust in the consumer's token issuer; the credential with the same issuer and
subject is reused when it exists (reapplying changes nothing), and a rollback deletes only a
credential this plan created. Graph calls go through the rotation playbook's Graph client.

For ``--to azure-mi:<identity>`` the trust goes on a user-assigned managed identity instead (ARM
``PUT/DELETE .../userAssignedIdentities/{mi}/federatedIdentityCredentials/{name}`` through
azure-mgmt-msi), and the application's Azure role assignments are carried over to the identity's
principal (azure-mgmt-authorization, deterministic assignment names so reapplying changes nothing).
"""

from __future__ import annotations

from typing import Any

from nhiwarden.redact import redact

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


# -- federated identity credentials on a user-assigned managed identity (ARM, azure-mgmt-msi) ------

MI_FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"


def _arm_call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one SDK call; ARM errors become redacted StepErrors (None for a 404 when ``missing_ok``)."""
    from azure.core.exceptions import HttpResponseError

    missing_ok = kwargs.pop("missing_ok", False)
    try:
        return fn(*args, **kwargs)
    except HttpResponseError as exc:
        if missing_ok and exc.status_code == 404:
            return None
        code = getattr(getattr(exc, "error", None), "code", None) or exc.status_code
        raise StepError(f"{what}: {code}: {redact(exc.message or '')[:300]}") from None
    except Exception as exc:  # transport errors
        raise StepError(f"{what}: {type(exc).__name__}: {redact(exc)[:300]}") from None


def _arm_kwargs(ctx: Context) -> dict[str, Any]:
    conn = ctx.connection("azure")
    endpoint = str(conn.get("arm_endpoint") or "https://management.azure.com").rstrip("/")
    kwargs: dict[str, Any] = {"base_url": endpoint, "credential_scopes": [f"{endpoint}/.default"], "retry_total": 3}
    if conn.get("ca_bundle"):
        kwargs["connection_verify"] = conn["ca_bundle"]
    return kwargs


def msi_client(ctx: Context, subscription: str) -> Any:
    def make() -> Any:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return ManagedServiceIdentityClient(graph(ctx).credential, subscription, **_arm_kwargs(ctx))

    return ctx.cached(f"azure-msi:{subscription}", make)


def authz_client(ctx: Context, subscription: str) -> Any:
    def make() -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(graph(ctx).credential, subscription, **_arm_kwargs(ctx))

    return ctx.cached(f"azure-authz:{subscription}", make)


def _ident_json(ident: Any, subscription: str) -> dict[str, Any]:
    rid = str(ident.id)
    parts = rid.split("/")
    group = parts[parts.index("resourceGroups") + 1] if "resourceGroups" in parts else parts[4]
    return {
        "id": rid,
        "name": ident.name,
        "subscription": subscription,
        "resource_group": group,
        "principal_id": ident.principal_id,
        "client_id": ident.client_id,
        "tenant_id": ident.tenant_id,
    }


def find_identity(ctx: Context, params: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The managed identity named by ``azure-mi:[[sub/]rg/]name``: (identity, '') or (None, why)."""
    name, group = str(params["name"]), params.get("resource_group")
    subs = [params["subscription"]] if params.get("subscription") else list(params.get("subscriptions") or [])
    if not subs:
        return None, "no subscription: name it (azure-mi:<subscription>/<resource-group>/<name>) or scan with it"
    found: list[dict[str, Any]] = []
    for sub in subs:
        client = msi_client(ctx, sub)
        if group:
            ident = _arm_call("get managed identity", client.user_assigned_identities.get, group, name, missing_ok=True)
            if ident is not None:
                found.append(_ident_json(ident, sub))
            continue
        for ident in _arm_call(
            "list managed identities", lambda c=client: list(c.user_assigned_identities.list_by_subscription())
        ):
            if str(ident.name).lower() == name.lower():
                found.append(_ident_json(ident, sub))
    if not found:
        return None, f"user-assigned managed identity {name} not found in {', '.join(subs)}"
    if len(found) > 1:
        return None, f"{len(found)} managed identities are named {name}: name the resource group"
    return found[0], ""


def mi_credentials(ctx: Context, ident: dict[str, Any]) -> list[dict[str, Any]]:
    client = msi_client(ctx, ident["subscription"])
    items = _arm_call(
        "list federated credentials",
        lambda: list(client.federated_identity_credentials.list(ident["resource_group"], ident["name"])),
    )
    return [
        {"name": f.name, "id": f.id, "issuer": f.issuer, "subject": f.subject, "audiences": list(f.audiences or [])}
        for f in items
    ]


@observer("azurefed.mi")
def observe_mi(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ident, why = find_identity(ctx, params)
    if ident is None:
        return {"exists": False, "reason": why}
    return {"exists": True, **ident}


@observer("azurefed.mi-credential")
def observe_mi_credential(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ident = {"subscription": params["subscription"], "resource_group": params["resource_group"]}
    fics = mi_credentials(ctx, {**ident, "name": params["identity"]})
    match = next((f for f in fics if _same(f, params)), None)
    return {
        "exists": match is not None,
        "name_taken": match is None and any(f.get("name") == params["fic"] for f in fics),
        "count": len(fics),
    }


def role_assignments(ctx: Context, subscription: str, principal_id: str) -> list[dict[str, str]]:
    client = authz_client(ctx, subscription)
    items = _arm_call(
        "list role assignments",
        lambda: list(client.role_assignments.list_for_subscription(filter=f"principalId eq '{principal_id}'")),
    )
    return sorted(
        (
            {"scope": str(a.scope), "role_definition_id": str(a.role_definition_id), "name": str(a.name)}
            for a in items
            if str(a.principal_id).lower() == principal_id.lower()
        ),
        key=lambda a: (a["scope"].lower(), a["role_definition_id"].lower()),
    )


@observer("azurefed.role-assignments")
def observe_role_assignments(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    out: list[dict[str, str]] = []
    for sub in params["subscriptions"]:
        out += [
            {k: a[k] for k in ("scope", "role_definition_id")}
            for a in role_assignments(ctx, sub, params["principal_id"])
        ]
    return {"assignments": out}


@action
class EnsureMiCredential(Action):
    """PUT .../userAssignedIdentities/{mi}/federatedIdentityCredentials/{name}, unless the trust exists."""

    name = "azurefed.ensure-mi-credential"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from azure.mgmt.msi.models import FederatedIdentityCredential

        ident = {"subscription": params["subscription"], "resource_group": params["resource_group"]}
        fics = mi_credentials(ctx, {**ident, "name": params["identity"]})
        for fic in fics:
            if _same(fic, params):
                return {"name": fic["name"], "created": False}
            if fic["name"] == params["fic"]:
                raise StepError(f"federated credential {params['fic']} exists with another issuer or subject")
        client = msi_client(ctx, params["subscription"])
        body = FederatedIdentityCredential(
            issuer=params["issuer"], subject=params["subject"], audiences=list(params["audiences"])
        )
        _arm_call(
            "create federated credential",
            client.federated_identity_credentials.create_or_update,
            params["resource_group"],
            params["identity"],
            params["fic"],
            body,
        )
        return {"name": params["fic"], "created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        client = msi_client(ctx, params["subscription"])
        _arm_call(
            "delete federated credential",
            client.federated_identity_credentials.delete,
            params["resource_group"],
            params["identity"],
            params["fic"],
            missing_ok=True,
        )


@action
class VerifyMiCredential(Action):
    """Read the identity's credential back and judge it with the federation trust audit (read-only)."""

    name = "azurefed.verify-mi-credential"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from nhiwarden.providers.azure.trust import trust_from_credential
        from nhiwarden.rules.builtin.federation import judge

        ident = {"subscription": params["subscription"], "resource_group": params["resource_group"]}
        match = next((f for f in mi_credentials(ctx, {**ident, "name": params["identity"]}) if _same(f, params)), None)
        if match is None:
            raise StepError(f"no federated credential for {params['subject']} on managed identity {params['identity']}")
        verdict = judge(trust_from_credential(match))
        if verdict is not None:
            raise StepError(f"the federated credential is too broad: {verdict[1]}")
        return {"verified": True, "name": match["name"], "at": ctx.now.replace(microsecond=0).isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


@action
class EnsureRoleAssignment(Action):
    """PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name} for the identity's principal."""

    name = "azurefed.ensure-role-assignment"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        sub = str(params["subscription"])
        for existing in role_assignments(ctx, sub, params["principal_id"]):
            if (
                existing["scope"].lower() == params["scope"].lower()
                and existing["role_definition_id"].lower() == params["role_definition_id"].lower()
            ):
                return {"name": existing["name"], "created": False}
        body = RoleAssignmentCreateParameters(
            role_definition_id=params["role_definition_id"],
            principal_id=params["principal_id"],
            principal_type="ServicePrincipal",
            description=f"nhiwarden plan {ctx.plan.id}",
        )
        _arm_call(
            "create role assignment",
            authz_client(ctx, sub).role_assignments.create,
            params["scope"],
            params["name"],
            body,
        )
        return {"name": params["name"], "created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            client = authz_client(ctx, str(params["subscription"]))
            _arm_call(
                "delete role assignment",
                client.role_assignments.delete,
                params["scope"],
                params["name"],
                missing_ok=True,
            )
