"""HTTPS fake servers for the Entra token authority, Microsoft Graph (v1.0, beta) and ARM.

Three servers on three loopback ports share one ``FakeTenant``, so each is its own "host" as in Azure:
tokens carry the audience of the API they were issued for and each API checks it. Paging is tiny
(``page_size``, default 2) so every list pages through ``@odata.nextLink`` / ``nextLink``; errors use the
real envelopes; injected ``Fault``s give 429 + Retry-After, 403, 503. Graph also serves the writes of
``graph_writes`` (client secrets, federated credentials, ``accountEnabled``); the token authority accepts an
app's current secrets and refuses expired ones (AADSTS7000222) and disabled service principals
(AADSTS7000112); ARM is read-only. Every request is logged (method, path, query, status) without bodies
or headers, so no secret reaches the log. Never listens beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from nhiwarden.sandbox.azure.errors import HttpError, arm_error, graph_error
from nhiwarden.sandbox.azure.graph_writes import GraphWrites, Reply, parse_time
from nhiwarden.sandbox.azure.state import JSON, Client, FakeTenant, Subscription
from nhiwarden.sandbox.azure.tls import Tls

# Fields Graph knows per entity type, for $select validation (unknown names are a 400, as in Graph).
_GRAPH_FIELDS: dict[str, set[str]] = {
    "application": {
        "id", "appId", "displayName", "createdDateTime", "passwordCredentials", "keyCredentials",
        "signInAudience", "publisherDomain", "tags", "notes", "description", "deletedDateTime",
    },
    "servicePrincipal": {
        "id", "appId", "displayName", "servicePrincipalType", "accountEnabled", "passwordCredentials",
        "keyCredentials", "alternativeNames", "appRoles", "appOwnerOrganizationId", "tags",
        "servicePrincipalNames", "appDisplayName", "deletedDateTime", "description", "notes",
    },
    "directoryRole": {"id", "displayName", "roleTemplateId", "description", "deletedDateTime"},
    "appRoleAssignment": {
        "id", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType",
        "resourceDisplayName", "resourceId", "deletedDateTime",
    },
    "federatedIdentityCredential": {"id", "name", "issuer", "subject", "audiences", "description"},
    "directoryObject": {"id", "deletedDateTime", "displayName", "appId", "userPrincipalName"},
    "servicePrincipalSignInActivity": {
        "id", "appId", "lastSignInActivity", "applicationAuthenticationClientSignInActivity",
        "applicationAuthenticationResourceSignInActivity", "delegatedClientSignInActivity",
        "delegatedResourceSignInActivity",
    },
    "appCredentialSignInActivity": {
        "id", "keyId", "keyType", "keyUsage", "appId", "appObjectId", "servicePrincipalObjectId",
        "resourceId", "credentialOrigin", "createdDateTime", "expirationDateTime", "signInActivity",
    },
}  # fmt: skip
_TOKEN_LIFETIME = 3599


_graph_error = graph_error
_arm_error = arm_error


@dataclass
class _Token:
    client_id: str
    audience: str
    expires: float


class FakeAzure:
    """The three fake servers; use ``running()`` as a context manager."""

    def __init__(self, tenant: FakeTenant, tls: Tls) -> None:
        self.tenant = tenant
        self.tls = tls
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []
        self.urls: dict[str, str] = {}
        self.graph_writes = GraphWrites(tenant, lambda: self.graph)

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def authority(self) -> str:
        return self.urls["login"]

    @property
    def graph(self) -> str:
        return self.urls["graph"]

    @property
    def arm(self) -> str:
        return self.urls["arm"]

    def start(self) -> None:
        for role in ("login", "graph", "arm"):
            handler = _make_handler(self, role)
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            server.socket = self.tls.server_context.wrap_socket(server.socket, server_side=True)
            self._servers[role] = server
            self.urls[role] = f"https://127.0.0.1:{server.server_address[1]}"
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-azure-{role}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    @contextmanager
    def running(self) -> Iterator[FakeAzure]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # -- tokens ----------------------------------------------------------------------------------------
    def _issue(self, client_id: str, audience: str) -> str:
        tenant = self.tenant.tenant_id
        client = self.tenant.clients[client_id]
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": f"{self.authority}/{tenant}/v2.0",
            "tid": tenant,
            "appid": client_id,
            "oid": client.object_id,
            "iat": now,
            "nbf": now,
            "exp": now + _TOKEN_LIFETIME,
            "uti": secrets.token_hex(8),
        }

        def part(obj: JSON) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        token = f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = _Token(client_id, audience, now + _TOKEN_LIFETIME)
        return token

    def check_token(self, header: str | None, audience: str, arm: bool) -> str:
        """The client id behind a valid bearer token for ``audience``; raises the API's 401 otherwise."""
        err = _arm_error if arm else _graph_error
        code = "AuthenticationFailed" if arm else "InvalidAuthenticationToken"
        if not header or not header.lower().startswith("bearer "):
            raise err(401, code, "Authentication failed. The 'Authorization' header is missing.")
        with self._lock:
            token = self._tokens.get(header[7:].strip())
        if token is None:
            raise err(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if token.expires < time.time():
            raise err(401, "ExpiredAuthenticationToken", "Lifetime validation failed, the token is expired.")
        if token.audience.rstrip("/") != audience.rstrip("/"):
            raise err(401, "InvalidAuthenticationToken", "Invalid audience.")
        return token.client_id

    # -- login.microsoftonline.com ---------------------------------------------------------------------
    def login(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> JSON:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts[:3] == ["common", "discovery", "instance"]:
            tenant = self.tenant.tenant_id
            return {
                "tenant_discovery_endpoint": f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": "127.0.0.1", "preferred_cache": "127.0.0.1", "aliases": ["127.0.0.1"]}
                ],
            }
        if not parts:
            raise _oauth_error(404, "invalid_request", 90002, "Tenant '' not found.")
        tenant = parts[0]
        if tenant.lower() not in (self.tenant.tenant_id.lower(), "organizations", "common"):
            raise _oauth_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud.",
            )
        rest = "/".join(parts[1:])
        base = f"{self.authority}/{self.tenant.tenant_id}"
        if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            }
        if method == "POST" and rest == "oauth2/v2.0/token":
            if form.get("grant_type") != "client_credentials":
                raise _oauth_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
            client = self.tenant.clients.get(form.get("client_id", ""))
            if client is None:
                raise _oauth_error(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{form.get('client_id', '')}' was not found in the "
                    f"directory '{self.tenant.tenant_id}'.",
                )
            self._check_client_secret(client, form.get("client_secret", ""))
            scope = form.get("scope", "").split()
            resource = next((s for s in scope if s.endswith("/.default")), None)
            if resource is None:
                raise _oauth_error(
                    400,
                    "invalid_scope",
                    1002012,
                    "The provided value for scope is not valid. Client credential flows must have a scope "
                    "value with /.default suffixed to the resource identifier (application ID URI).",
                )
            audience = resource[: -len("/.default")]
            return {
                "token_type": "Bearer",
                "expires_in": _TOKEN_LIFETIME,
                "ext_expires_in": _TOKEN_LIFETIME,
                "access_token": self._issue(client.client_id, audience),
            }
        raise _oauth_error(404, "invalid_request", 900561, f"The endpoint '{path}' is not supported.")

    def _check_client_secret(self, client: Client, given: str) -> None:
        """Accept the seeded secret or a current passwordCredential of the app; Entra's errors otherwise."""
        key_id = next((k for k, v in client.secrets.items() if secrets.compare_digest(v, given)), None)
        seeded = bool(client.secret) and secrets.compare_digest(client.secret, given)
        cred = None
        if key_id is not None:
            with self.tenant.lock:
                app = self.tenant.application_by_app_id(client.client_id) or {}
                cred = next((p for p in app.get("passwordCredentials", []) if p["keyId"] == key_id), None)
        if not seeded and cred is None:  # unknown, or removed with removePassword
            raise _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client.client_id}'.",
            )
        now = datetime.now(UTC)
        if cred is not None and cred.get("endDateTime") and parse_time(cred["endDateTime"], "", "") <= now:
            raise _oauth_error(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{client.client_id}' are expired. Visit the Azure portal "
                "to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                "credentials for added security: https://aka.ms/certCreds.",
            )
        with self.tenant.lock:
            sp = self.tenant.service_principal_by_app_id(client.client_id)
        if sp is not None and sp.get("accountEnabled") is False:
            raise _oauth_error(
                400,
                "unauthorized_client",
                7000112,
                f"Application '{client.client_id}'({sp.get('displayName', '')}) is disabled.",
            )

    # -- Microsoft Graph -------------------------------------------------------------------------------
    def graph_api(self, path: str, query: dict[str, str], client_id: str) -> JSON:
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("v1.0", "beta"):
            raise _graph_error(400, "BadRequest", "Invalid version.")
        version, rest = parts[0], parts[1:]
        t = self.tenant
        base = f"{self.graph}{path}"
        if rest == ["applications"]:
            apps = [self._with_owners(a, query) for a in t.applications]
            return self._graph_page(base, query, apps, "application", expandable={"owners"})
        if len(rest) == 4 and rest[0] == "applications" and rest[2] == "federatedIdentityCredentials":
            app = self._find(t.applications, rest[1])
            fics = app.get("federatedIdentityCredentials", [])
            return self._find(fics, rest[3])
        if len(rest) == 3 and rest[0] == "applications":
            app = self._find(t.applications, rest[1])
            if rest[2] == "federatedIdentityCredentials":
                items = app.get("federatedIdentityCredentials", [])
                return self._graph_page(base, query, items, "federatedIdentityCredential")
            if rest[2] == "owners":
                return self._graph_page(base, query, app.get("owners", []), "directoryObject")
        if rest == ["servicePrincipals"]:
            sps = t.service_principals
            flt = query.get("$filter")
            if flt:
                match = re.fullmatch(r"appId eq '([0-9a-fA-F-]+)'", flt.strip())
                if not match:
                    raise _graph_error(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter.")
                sps = [s for s in sps if s["appId"].lower() == match.group(1).lower()]
            return self._graph_page(base, query, sps, "servicePrincipal")
        if len(rest) == 3 and rest[0] == "servicePrincipals":
            sp = self._find(t.service_principals, rest[1])
            if rest[2] == "appRoleAssignedTo":
                items = [a for a in t.app_role_assignments if a["resourceId"] == sp["id"]]
                return self._graph_page(base, query, items, "appRoleAssignment")
            if rest[2] == "appRoleAssignments":
                items = [a for a in t.app_role_assignments if a["principalId"] == sp["id"]]
                return self._graph_page(base, query, items, "appRoleAssignment")
        if rest and rest[0] == "directoryRoles" and "$top" in query:
            raise _graph_error(
                400,
                "Request_UnsupportedQuery",
                "The query specified in the URI is not valid. Query option '$top' is not allowed.",
            )
        if rest == ["directoryRoles"]:
            roles = [{k: v for k, v in r.items() if k != "members"} for r in t.directory_roles]
            return self._graph_page(base, query, roles, "directoryRole")
        if len(rest) == 3 and rest[0] == "directoryRoles" and rest[2] == "members":
            role = self._find(t.directory_roles, rest[1])
            return self._graph_page(base, query, role.get("members", []), "directoryObject")
        if len(rest) == 2 and rest[0] == "reports":
            report = {
                "servicePrincipalSignInActivities": (t.sp_sign_ins, "servicePrincipalSignInActivity"),
                "appCredentialSignInActivities": (t.credential_sign_ins, "appCredentialSignInActivity"),
            }.get(rest[1])
            if report is None or version != "beta":
                raise _graph_error(400, "BadRequest", f"Resource not found for the segment '{rest[1]}'.")
            if not t.premium:
                raise _graph_error(
                    403,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                )
            return self._graph_page(base, query, report[0], report[1])
        segment = rest[-1] if rest else path
        raise _graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def _find(self, items: list[JSON], object_id: str) -> JSON:
        for item in items:
            if item["id"].lower() == object_id.lower():
                return item
        raise _graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
        )

    def _with_owners(self, app: JSON, query: dict[str, str]) -> JSON:
        out = {k: v for k, v in app.items() if k not in ("owners", "federatedIdentityCredentials")}
        expand = query.get("$expand", "")
        if expand:
            if expand.split("(")[0].strip() != "owners":
                raise _graph_error(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{expand.split('(')[0]}' on type 'microsoft.graph.application'.",
                )
            nested = re.search(r"\(\$select=([^)]*)\)", expand)
            owners = app.get("owners", [])[:20]
            if nested:
                keep = {"@odata.type", *[f.strip() for f in nested.group(1).split(",")]}
                owners = [{k: v for k, v in o.items() if k in keep} for o in owners]
            out["owners"] = owners
        return out

    def _graph_page(
        self,
        base: str,
        query: dict[str, str],
        items: list[JSON],
        entity: str,
        expandable: set[str] | None = None,
    ) -> JSON:
        select = [f.strip() for f in query.get("$select", "").split(",") if f.strip()]
        known = _GRAPH_FIELDS[entity]
        for name in select:
            if name not in known:
                raise _graph_error(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.{entity}'.",
                )
        try:
            top = int(query.get("$top", "100"))
        except ValueError:
            raise _graph_error(400, "BadRequest", "Invalid page size specified: ''.") from None
        if not 1 <= top <= 999:
            raise _graph_error(
                400, "Request_BadRequest", f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
            )
        if expandable and "$expand" in query:
            top = min(top, 100)  # $expand on directory objects caps a page at 100 (Graph known issue)
        size = min(top, self.tenant.page_size)
        offset = _offset(query.get("$skiptoken"))
        page = items[offset : offset + size]
        keep = set(select) | {"@odata.type"} | (expandable or set()) if select else None
        value = [{k: v for k, v in item.items() if keep is None or k in keep} for item in page]
        body: JSON = {"@odata.context": f"{self.graph}/$metadata#{entity}s", "value": value}
        if offset + size < len(items):
            nxt = {k: v for k, v in query.items() if k != "$skiptoken"}
            nxt["$skiptoken"] = _token(offset + size)
            body["@odata.nextLink"] = f"{base}?{urlencode(nxt, safe='$,()=')}"
        return body

    # -- ARM -------------------------------------------------------------------------------------------
    def arm_api(self, path: str, query: dict[str, str], client_id: str) -> JSON:
        if "api-version" not in query:
            raise _arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        t = self.tenant
        parts = [p for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        client = t.clients[client_id]
        base = f"{self.arm}{path}"
        if low == ["subscriptions"]:
            subs = [_subscription_json(s, t.tenant_id) for s in t.subscriptions]
            return self._arm_page(base, query, subs)
        if len(low) >= 4 and low[0] == "providers" and low[2] == "roledefinitions":
            return self._role_definition(parts[3])
        if len(low) < 2 or low[0] != "subscriptions":
            raise _arm_error(
                404,
                "InvalidResourceType",
                f"The resource type '{parts[0] if parts else ''}' "
                "could not be found in the namespace 'Microsoft.Resources'.",
            )
        sub = t.subscription(parts[1])
        if sub is None:
            raise _arm_error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        rest = low[2:]
        action = _arm_action(rest)
        if sub.subscription_id not in client.arm_readable:
            scope = "/" + "/".join(parts[:2])
            raise _arm_error(
                403,
                "AuthorizationFailed",
                f"The client '{client.object_id}' with object id '{client.object_id}' does not have "
                f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. "
                "If access was recently granted, please refresh your credentials.",
            )
        if not rest:
            return _subscription_json(sub, t.tenant_id)
        if rest == ["providers", "microsoft.authorization", "roleassignments"]:
            return self._arm_page(base, query, _role_assignments(sub, query.get("$filter")))
        if rest[:3] == ["providers", "microsoft.authorization", "roledefinitions"] and len(rest) == 4:
            return self._role_definition(parts[5], sub.subscription_id)
        if rest == ["providers", "microsoft.managedidentity", "userassignedidentities"]:
            return self._arm_page(base, query, sub.identities)
        if (
            len(rest) == 7
            and rest[0] == "resourcegroups"
            and rest[2:5] == ["providers", "microsoft.managedidentity", "userassignedidentities"]
            and rest[6] == "federatedidentitycredentials"
        ):
            ident = "/" + "/".join(parts[:8])
            if not any(i["id"].lower() == ident.lower() for i in sub.identities):
                raise _arm_error(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{parts[7]}' under "
                    f"resource group '{parts[3]}' was not found.",
                )
            return self._arm_page(base, query, sub.federated.get(ident.lower(), []))
        raise _arm_error(404, "NotFound", f"The requested path '{path}' was not found.")

    def _role_definition(self, role_id: str, subscription: str | None = None) -> JSON:
        found = self.tenant.role_definitions.get(role_id.lower())
        if found is None:
            raise _arm_error(
                404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role_id}' does not exist."
            )
        out = dict(found)
        if subscription:
            out["id"] = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
        return out

    def _arm_page(self, base: str, query: dict[str, str], items: list[JSON]) -> JSON:
        offset = _offset(query.get("$skiptoken"))
        size = self.tenant.page_size
        body: JSON = {"value": items[offset : offset + size]}
        if offset + size < len(items):
            nxt = {k: v for k, v in query.items() if k != "$skiptoken"}
            nxt["$skiptoken"] = _token(offset + size)
            body["nextLink"] = f"{base}?{urlencode(nxt, safe='$()')}"
        return body


def _arm_action(rest: list[str]) -> str:
    if "roleassignments" in rest:
        return "Microsoft.Authorization/roleAssignments/read"
    if "roledefinitions" in rest:
        return "Microsoft.Authorization/roleDefinitions/read"
    if "federatedidentitycredentials" in rest:
        return "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read"
    if "userassignedidentities" in rest:
        return "Microsoft.ManagedIdentity/userAssignedIdentities/read"
    return "Microsoft.Resources/subscriptions/read"


def _role_assignments(sub: Subscription, flt: str | None) -> list[JSON]:
    own = f"/subscriptions/{sub.subscription_id}".lower()
    if not flt:
        return sub.role_assignments
    if flt.strip() == "atScope()":
        # At or above the subscription: the subscription itself, management groups and the root.
        return [
            a
            for a in sub.role_assignments
            if a["properties"]["scope"].lower() == own
            or a["properties"]["scope"].lower().startswith("/providers/microsoft.management/")
            or a["properties"]["scope"] == "/"
        ]
    match = re.fullmatch(r"principalId eq '([0-9a-fA-F-]+)'", flt.strip())
    if match:
        return [a for a in sub.role_assignments if a["properties"]["principalId"] == match.group(1)]
    raise _arm_error(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported.")


def _subscription_json(sub: Subscription, tenant: str) -> JSON:
    return {
        "id": f"/subscriptions/{sub.subscription_id}",
        "subscriptionId": sub.subscription_id,
        "tenantId": tenant,
        "displayName": sub.display_name,
        "state": sub.state,
        "authorizationSource": "RoleBased",
    }


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode() + b"==").decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise _graph_error(400, "BadRequest", "The skip token is invalid.") from None


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _oauth_error(status: int, error: str, code: int, description: str) -> HttpError:
    trace = str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return HttpError(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {trace} "
            f"Timestamp: {now}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": trace,
        },
    )


def _make_handler(fake: FakeAzure, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in one round trip, no delayed-ACK stalls
        server_version = "nhiwarden-fake-azure"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the tenant keeps a request log
            return

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            path = split.path
            query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, headers = 200, {}
            body: JSON | None = {}
            try:
                fault = fake.tenant.take_fault(method, path)
                if fault is not None:
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    maker = _arm_error if role == "arm" else _graph_error
                    raise HttpError(fault.status, maker(fault.status, fault.code, fault.message).body, headers)
                answer = self._route(method, path, query, raw)
                if isinstance(answer, Reply):
                    status, body = answer.status, answer.body
                else:
                    body = answer
            except HttpError as exc:
                status, body, headers = exc.status, exc.body, exc.headers
            except Exception as exc:  # a fake bug must show as a 500, not hang the client
                status, body = 500, {"error": {"code": "InternalServerError", "message": type(exc).__name__}}
            fake.tenant.log({"server": role, "method": method, "path": path, "query": query, "status": status})
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", str(uuid.uuid4()))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> JSON | Reply:
            if role == "login":
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                return fake.login(method, path, query, form)
            auth = self.headers.get("Authorization")
            if role == "graph":
                client = fake.check_token(auth, fake.graph, arm=False)
                if method == "GET":
                    return fake.graph_api(path, query, client)
                return fake.graph_writes.handle(method, path, raw, client)
            if method != "GET":
                raise _arm_error(405, "MethodNotAllowed", "The fake is read-only for this path.")
            client = fake.check_token(auth, fake.arm, arm=True)
            return fake.arm_api(path, query, client)

    return Handler
