"""Reads one tenant's directory from Microsoft Graph: apps, service principals, grants, sign-in activity.

Owns which Graph calls are made, with which ``$select`` (only the fields the model needs), and which
failures are fatal (applications, service principals) versus a missing signal (sign-in reports, roles).
Read-only; never judges (rules do that). Returns plain Graph JSON for ``build.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nhiwarden.providers.azure.graph import GraphClient, GraphError

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CREDENTIAL_FIELDS = "keyId,displayName,startDateTime,endDateTime"
APP_SELECT = "id,appId,displayName,createdDateTime,signInAudience,passwordCredentials,keyCredentials"
SP_SELECT = (
    "id,appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,alternativeNames,"
    "passwordCredentials,keyCredentials"
)
SP_SIGN_INS = "servicePrincipalSignInActivities"
CREDENTIAL_SIGN_INS = "appCredentialSignInActivities"


@dataclass
class DirectoryData:
    applications: list[dict[str, Any]] = field(default_factory=list)
    federated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # app object id -> FICs
    service_principals: list[dict[str, Any]] = field(default_factory=list)
    graph_roles: dict[str, str] = field(default_factory=dict)  # Graph app role id -> permission value
    app_permissions: list[dict[str, Any]] = field(default_factory=list)  # appRoleAssignedTo on Graph
    directory_roles: list[dict[str, Any]] = field(default_factory=list)  # with "memberIds"
    sp_sign_ins: dict[str, str | None] | None = None  # appId -> last sign-in; None = unknown
    credential_sign_ins: dict[str, str | None] | None = None  # keyId -> last sign-in; None = unknown
    missing: list[str] = field(default_factory=list)


def read_directory(graph: GraphClient, *, top: int, sign_in_activity: bool) -> DirectoryData:
    """Everything the tenant scope needs from Graph. Raises GraphError when apps/SPs cannot be read."""
    data = DirectoryData()
    page = str(top)
    for app in graph.list(
        "graph:applications.list",
        "/v1.0/applications",
        {"$select": APP_SELECT, "$expand": "owners", "$top": page},
    ):
        data.applications.append(app)
    for app in data.applications:
        data.federated[app["id"]] = list(
            graph.list(
                "graph:federatedIdentityCredentials.list",
                f"/v1.0/applications/{app['id']}/federatedIdentityCredentials",
                {"$select": "id,name,issuer,subject,audiences"},
            )
        )
    data.service_principals = list(
        graph.list("graph:servicePrincipals.list", "/v1.0/servicePrincipals", {"$select": SP_SELECT, "$top": page})
    )
    _read_graph_permissions(graph, data, page)
    _read_directory_roles(graph, data, page)
    if sign_in_activity:
        _read_sign_ins(graph, data, page)
    else:
        data.missing.append("last-used: sign-in activity reports not read (sign_in_activity is off)")
    return data


def _read_graph_permissions(graph: GraphClient, data: DirectoryData, page: str) -> None:
    try:
        graph_sps = list(
            graph.list(
                "graph:servicePrincipals.get",
                "/v1.0/servicePrincipals",
                {"$filter": f"appId eq '{MICROSOFT_GRAPH_APP_ID}'", "$select": "id,appId,appRoles"},
            )
        )
        if not graph_sps:
            data.missing.append("graph-permissions: the Microsoft Graph service principal was not found")
            return
        graph_sp = graph_sps[0]
        data.graph_roles = {r["id"]: r.get("value") or r["id"] for r in graph_sp.get("appRoles", [])}
        data.app_permissions = list(
            graph.list(
                "graph:appRoleAssignedTo.list",
                f"/v1.0/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
                {"$select": "id,appRoleId,principalId,principalType,createdDateTime", "$top": page},
            )
        )
    except GraphError as exc:
        if exc.status not in (400, 403, 404):
            raise
        data.missing.append(f"graph-permissions: HTTP {exc.status} {exc.code}: {exc.message}")


def _read_directory_roles(graph: GraphClient, data: DirectoryData, page: str) -> None:
    try:
        roles = list(
            graph.list(
                "graph:directoryRoles.list", "/v1.0/directoryRoles", {"$select": "id,displayName,roleTemplateId"}
            )
        )
        for role in roles:
            members = graph.list(
                "graph:directoryRoleMembers.list",
                f"/v1.0/directoryRoles/{role['id']}/members",
                {"$select": "id"},  # directory roles and their members do not support $top
            )
            role["memberIds"] = [m["id"] for m in members if m.get("@odata.type", "").endswith("servicePrincipal")]
            data.directory_roles.append(role)
    except GraphError as exc:
        if exc.status not in (400, 403, 404):
            raise
        data.missing.append(f"directory-roles: HTTP {exc.status} {exc.code}: {exc.message}")


def _read_sign_ins(graph: GraphClient, data: DirectoryData, page: str) -> None:
    why = "needs an Entra ID P1/P2 licence and AuditLog.Read.All; no unused/dormant verdict is made"
    try:
        data.sp_sign_ins = {
            row["appId"].lower(): (row.get("lastSignInActivity") or {}).get("lastSignInDateTime")
            for row in graph.list(
                "graph:servicePrincipalSignInActivities.list",
                f"/beta/reports/{SP_SIGN_INS}",
                {"$top": page},  # documented query options: $filter, $orderby, $top (no $select)
            )
            if row.get("appId")
        }
    except GraphError as exc:
        if exc.status not in (400, 403, 404):
            raise
        data.missing.append(f"last-used: beta {SP_SIGN_INS}: HTTP {exc.status} {exc.code} ({why})")
        return
    try:
        latest: dict[str, str | None] = {}
        for row in graph.list(
            "graph:appCredentialSignInActivities.list",
            f"/beta/reports/{CREDENTIAL_SIGN_INS}",
            None,  # documented query option: $filter only
        ):
            key = (row.get("keyId") or "").lower()
            when = (row.get("signInActivity") or {}).get("lastSignInDateTime")
            if key and (latest.get(key) is None or (when and when > (latest[key] or ""))):
                latest[key] = when
        data.credential_sign_ins = latest
    except GraphError as exc:
        if exc.status not in (400, 403, 404):
            raise
        data.missing.append(f"credential last-used: beta {CREDENTIAL_SIGN_INS}: HTTP {exc.status} {exc.code} ({why})")
