"""The Microsoft Graph writes the fake serves: client secrets, federated credentials, enabling a service principal.

Owns ``POST applications/{id}/addPassword`` and ``/removePassword``, ``POST`` and ``DELETE
applications/{id}/federatedIdentityCredentials[/{id}]`` and ``PATCH servicePrincipals/{id}`` on v1.0 and
beta, with Graph's validation, status codes (200 / 201 / 204) and error bodies, and Graph's
authorization: the caller needs ``Application.ReadWrite.All``, ``Application.ReadWrite.OwnedBy`` on an
app it owns, or an application-administrator directory role (``Directory.ReadWrite.All`` also for a
service principal update); otherwise 403 ``Authorization_RequestDenied``. A new secret's value is kept
in the tenant's ``clients`` (so the token authority accepts it while the credential exists and is
current) and is returned once, in the addPassword answer. Never serves a stored secret value.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nhiwarden.sandbox.azure.errors import HttpError, graph_error
from nhiwarden.sandbox.azure.state import JSON, Client, FakeTenant, ts

APPLICATION_READWRITE_ALL = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"
APPLICATION_READWRITE_OWNEDBY = "18a4783c-866b-4cc7-a460-3d5e5662c884"
DIRECTORY_READWRITE_ALL = "19dbc75e-c2e2-444c-a770-ec69d8559fc7"
# Directory roles that may manage every application: Global, Application and Cloud Application Administrator.
_APP_ADMIN_TEMPLATES = {
    "62e90394-69f5-4237-9190-012177145e10",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "158c047a-c907-4556-b7ef-446551a6b5f7",
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")
_FIC_FIELDS = {"name", "issuer", "subject", "audiences", "description"}
_MAX_FICS = 20
_SP_WRITABLE = {"accountEnabled", "displayName", "tags", "notes", "description", "alternativeNames", "appRoles"}
_SP_READ_ONLY = {
    "id", "appId", "servicePrincipalType", "passwordCredentials", "keyCredentials", "appOwnerOrganizationId",
    "appDisplayName", "deletedDateTime", "servicePrincipalNames",
}  # fmt: skip
_DENIED = "Insufficient privileges to complete the operation."


@dataclass
class Reply:
    """A successful Graph answer: status and JSON body (``None`` for 204 No Content)."""

    status: int
    body: JSON | None


def parse_time(value: object, prop: str, resource: str) -> datetime:
    """A Graph ``DateTimeOffset`` (ISO 8601); 400 as Graph answers for anything else."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(prop, resource) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _invalid(prop: str, resource: str) -> HttpError:
    return graph_error(
        400, "Request_BadRequest", f"Invalid value specified for property '{prop}' of resource '{resource}'."
    )


def _unknown_property(prop: str, entity: str) -> HttpError:
    return graph_error(
        400,
        "BadRequest",
        f"The property '{prop}' does not exist on type 'microsoft.graph.{entity}'. Make sure to only use property "
        "names that are defined by the type.",
    )


def _not_found(object_id: str) -> HttpError:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


def new_secret_value() -> str:
    """A value shaped like an Entra client secret (40 characters, ``Q~`` at index 4)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
    head = "".join(secrets.choice(alphabet[:62]) for _ in range(3))
    tail = "".join(secrets.choice(alphabet) for _ in range(34))
    return f"{head}8Q~{tail}"


class GraphWrites:
    """Graph's write endpoints over one ``FakeTenant``; ``graph_base`` gives the server's URL."""

    def __init__(self, tenant: FakeTenant, graph_base: Callable[[], str]) -> None:
        self.tenant = tenant
        self.graph_base = graph_base

    def handle(self, method: str, path: str, raw: bytes, client_id: str) -> Reply:
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("v1.0", "beta"):
            raise graph_error(400, "BadRequest", "Invalid version.")
        version, rest = parts[0], parts[1:]
        body = _json(raw)
        with self.tenant.lock:  # one write at a time, as one directory object store
            if len(rest) == 3 and rest[0] == "applications" and method == "POST":
                app = self._find(self.tenant.applications, rest[1])
                if rest[2] == "addPassword":
                    self._authorize(client_id, app, allow_directory=False)
                    return self._add_password(version, app, body)
                if rest[2] == "removePassword":
                    self._authorize(client_id, app, allow_directory=False)
                    return self._remove_password(app, body)
                if rest[2] == "federatedIdentityCredentials":
                    self._authorize(client_id, app, allow_directory=False)
                    return self._add_federated(version, app, body)
            if len(rest) == 4 and rest[0] == "applications" and rest[2] == "federatedIdentityCredentials":
                app = self._find(self.tenant.applications, rest[1])
                if method == "DELETE":
                    self._authorize(client_id, app, allow_directory=False)
                    return self._delete_federated(app, rest[3])
            if len(rest) == 2 and rest[0] == "servicePrincipals" and method == "PATCH":
                sp = self._find(self.tenant.service_principals, rest[1])
                owner_app = self.tenant.application_by_app_id(sp["appId"])
                self._authorize(client_id, owner_app, allow_directory=True)
                return self._update_sp(sp, body)
        raise graph_error(
            405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed for the requested resource."
        )

    # -- authorization ---------------------------------------------------------------------------
    def _authorize(self, client_id: str, app: JSON | None, *, allow_directory: bool) -> None:
        client = self.tenant.clients.get(client_id)
        principal = client.object_id if client else ""
        roles = {a["appRoleId"] for a in self.tenant.app_role_assignments if a["principalId"] == principal}
        if APPLICATION_READWRITE_ALL in roles or (allow_directory and DIRECTORY_READWRITE_ALL in roles):
            return
        owners = {o.get("id") for o in (app or {}).get("owners", [])}
        if APPLICATION_READWRITE_OWNEDBY in roles and principal in owners:
            return
        for role in self.tenant.directory_roles:
            if role.get("roleTemplateId") in _APP_ADMIN_TEMPLATES and any(
                m.get("id") == principal for m in role.get("members", [])
            ):
                return
        raise graph_error(403, "Authorization_RequestDenied", _DENIED)

    # -- client secrets --------------------------------------------------------------------------
    def _add_password(self, version: str, app: JSON, body: JSON) -> Reply:
        given = body.get("passwordCredential") or {}
        if not isinstance(given, dict):
            raise _invalid("passwordCredential", "Application")
        for prop in given:
            if prop not in ("displayName", "startDateTime", "endDateTime", "customKeyIdentifier", "hint", "keyId"):
                raise _unknown_property(prop, "passwordCredential")
        now = datetime.now(UTC).replace(microsecond=0)
        start = (
            parse_time(given["startDateTime"], "startDateTime", "PasswordCredential")
            if given.get("startDateTime")
            else now
        )
        end = (
            parse_time(given["endDateTime"], "endDateTime", "PasswordCredential")
            if given.get("endDateTime")
            else start + timedelta(days=730)
        )
        if end <= start:
            raise _invalid("endDateTime", "PasswordCredential")
        value = new_secret_value()
        cred: JSON = {
            "customKeyIdentifier": None,
            "displayName": given.get("displayName"),
            "endDateTime": ts(end),
            "hint": value[:3],
            "keyId": str(uuid.uuid4()),
            "secretText": None,
            "startDateTime": ts(start),
        }
        app.setdefault("passwordCredentials", []).append(cred)
        client = self.tenant.clients.get(app["appId"])
        if client is None:
            sp = self.tenant.service_principal_by_app_id(app["appId"])
            client = Client(client_id=app["appId"], secret="", object_id=(sp or app)["id"])
            self.tenant.clients[app["appId"]] = client
        client.secrets[cred["keyId"]] = value
        context = f"{self.graph_base()}/{version}/$metadata#microsoft.graph.passwordCredential"
        return Reply(200, {"@odata.context": context, **cred, "secretText": value})

    def _remove_password(self, app: JSON, body: JSON) -> Reply:
        key_id = body.get("keyId")
        if not isinstance(key_id, str) or not _GUID.match(key_id):
            raise _invalid("keyId", "Application")
        creds = app.get("passwordCredentials", [])
        kept = [c for c in creds if c["keyId"].lower() != key_id.lower()]
        if len(kept) == len(creds):
            raise graph_error(400, "Request_BadRequest", f"No credential found with keyId {key_id}.")
        app["passwordCredentials"] = kept
        client = self.tenant.clients.get(app["appId"])
        if client is not None:
            for known in [k for k in client.secrets if k.lower() == key_id.lower()]:
                del client.secrets[known]
        return Reply(204, None)

    # -- federated identity credentials ------------------------------------------------------------
    def _add_federated(self, version: str, app: JSON, body: JSON) -> Reply:
        for prop in body:
            if prop not in _FIC_FIELDS and not prop.startswith("@odata."):
                raise _unknown_property(prop, "federatedIdentityCredential")
        name, issuer, subject = body.get("name"), body.get("issuer"), body.get("subject")
        audiences, description = body.get("audiences"), body.get("description")
        if not isinstance(name, str) or not _FIC_NAME.match(name):
            raise _invalid("name", "FederatedIdentityCredential")
        if not isinstance(issuer, str) or not issuer.startswith("https://") or len(issuer) > 600:
            raise _invalid("issuer", "FederatedIdentityCredential")
        if not isinstance(subject, str) or not subject or len(subject) > 600:
            raise _invalid("subject", "FederatedIdentityCredential")
        if (
            not isinstance(audiences, list)
            or len(audiences) != 1
            or not all(isinstance(a, str) and 0 < len(a) <= 600 for a in audiences)
        ):
            raise _invalid("audiences", "FederatedIdentityCredential")
        if description is not None and (not isinstance(description, str) or len(description) > 600):
            raise _invalid("description", "FederatedIdentityCredential")
        fics = app.setdefault("federatedIdentityCredentials", [])
        if any(f["name"].lower() == name.lower() for f in fics):
            raise graph_error(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                f"FederatedIdentityCredential with name {name} already exists.",
            )
        if any(f["issuer"] == issuer and f["subject"] == subject for f in fics):
            raise graph_error(
                400,
                "InvalidFederatedIdentityCredentialValue",
                "The combination of issuer and subject must be unique for the application. "
                f"Issuer {issuer} and Subject: {subject} already exist. "
                f"paramName: FederatedIdentityCredential.Subject, paramValue: {subject}, "
                "objectType: Microsoft.Online.DirectoryServices.Application",
            )
        if len(fics) >= _MAX_FICS:
            raise graph_error(
                400,
                "Request_BadRequest",
                f"The application already has the maximum number ({_MAX_FICS}) of federated identity credentials.",
            )
        fic: JSON = {
            "id": str(uuid.uuid4()),
            "name": name,
            "issuer": issuer,
            "subject": subject,
            "description": description,
            "audiences": list(audiences),
        }
        fics.append(fic)
        context = (
            f"{self.graph_base()}/{version}/$metadata#applications('{app['id']}')/federatedIdentityCredentials/$entity"
        )
        return Reply(201, {"@odata.context": context, **fic})

    def _delete_federated(self, app: JSON, fic_id: str) -> Reply:
        fics = app.get("federatedIdentityCredentials", [])
        match = next((f for f in fics if f["id"].lower() == fic_id.lower() or f["name"] == fic_id), None)
        if match is None:
            raise _not_found(fic_id)
        app["federatedIdentityCredentials"] = [f for f in fics if f is not match]
        return Reply(204, None)

    # -- service principals ------------------------------------------------------------------------
    def _update_sp(self, sp: JSON, body: JSON) -> Reply:
        for prop, value in body.items():
            if prop in _SP_READ_ONLY:
                raise graph_error(400, "Request_BadRequest", f"Property '{prop}' is read-only and cannot be set.")
            if prop not in _SP_WRITABLE:
                raise _unknown_property(prop, "servicePrincipal")
            if prop == "accountEnabled" and not isinstance(value, bool):
                raise _invalid(prop, "ServicePrincipal")
        sp.update(body)
        return Reply(204, None)

    @staticmethod
    def _find(items: list[JSON], object_id: str) -> JSON:
        for item in items:
            if item["id"].lower() == object_id.lower():
                return item
        raise _not_found(object_id)


def _json(raw: bytes) -> JSON:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
            "JSON format.",
        ) from None
    if not isinstance(data, dict):
        raise graph_error(400, "BadRequest", "Unable to read JSON request payload: expected an object.")
    return data
