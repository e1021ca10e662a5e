"""Turns Graph and ARM data into normalized identities: one per appId, keyed ``azure:<tenant>:sp/<appId>``.

An application registration and its service principal in the tenant are one identity (kind
``azure-application``): the app holds the secrets and owners, the service principal signs in and holds
the grants. Service principals without a registration here are ``azure-service-principal`` (third-party
or Microsoft apps), managed identities ``azure-managed-identity``. ARM role assignments from every
subscription join on the service principal's object id. Pure: no I/O, no clock, never a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from nhiwarden.model import Credential, Grant, Identity
from nhiwarden.providers.azure import privilege
from nhiwarden.providers.azure.arm import SubscriptionData, UserAssignedIdentity
from nhiwarden.providers.azure.directory import CREDENTIAL_SIGN_INS, SP_SIGN_INS, DirectoryData
from nhiwarden.providers.azure.trust import trust_from_credential

PROVIDER = "azure"
# Tenants that own Microsoft's first-party apps: their service principals are platform-managed.
MICROSOFT_TENANTS = frozenset({"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"})
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})?")
SP_USAGE_SOURCE = f"graph-beta:reports/{SP_SIGN_INS}"
CREDENTIAL_USAGE_SOURCE = f"graph-beta:reports/{CREDENTIAL_SIGN_INS}"


def parse_time(value: Any) -> datetime | None:
    """A Graph/ARM timestamp as an aware UTC datetime (Graph sends up to 7 fractional digits)."""
    if not value:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        match = _TIMESTAMP.fullmatch(str(value).strip())
        if match is None:
            return None
        head, fraction, zone = match.group(1), (match.group(2) or "")[:6], match.group(3) or ""
        zone = "+00:00" if zone in ("", "Z", "z") else zone
        when = datetime.fromisoformat(f"{head}{'.' + fraction if fraction else ''}{zone}")
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def identity_uid(tenant: str, app_id: str) -> str:
    return f"azure:{tenant}:sp/{app_id.lower()}"


def build_identities(
    tenant: str, directory: DirectoryData, subscriptions: Iterable[SubscriptionData]
) -> list[Identity]:
    apps = {a["appId"].lower(): a for a in directory.applications}
    sps = {s["appId"].lower(): s for s in directory.service_principals}
    uais: dict[str, UserAssignedIdentity] = {}
    arm_grants: dict[str, list[Grant]] = {}
    seen_assignments: set[str] = set()
    for sub in subscriptions:
        for uai in sub.identities:
            uais[uai.principal_id.lower()] = uai
        for grant in sub.grants:
            if grant.assignment_id.lower() in seen_assignments:
                continue  # management-group assignments show up in every subscription below
            seen_assignments.add(grant.assignment_id.lower())
            arm_grants.setdefault(grant.principal_id.lower(), []).append(
                Grant(
                    privilege=grant.privilege,
                    source=grant.role_name,
                    source_kind="azure-role-assignment",
                    resource_scope=grant.scope,
                    reason=f"{grant.role_name} at {_scope_label(grant.scope)}: {grant.reason}",
                    permissions=[grant.role_name],
                    controls=list(grant.controls),
                )
            )
    graph_grants = _graph_grants(directory)
    role_grants = _directory_role_grants(directory)

    identities: list[Identity] = []
    for app_id in sorted(set(apps) | set(sps)):
        app, sp = apps.get(app_id), sps.get(app_id)
        sp_object = (sp or {}).get("id", "").lower()
        joined = uais.pop(sp_object, None) if sp_object else None
        identity = _identity(tenant, app_id, app, sp, joined, directory)
        identity.grants = [
            *role_grants.get(sp_object, []),
            *graph_grants.get(sp_object, []),
            *arm_grants.get(sp_object, []),
        ]
        identities.append(identity)
    for principal_id, uai in sorted(uais.items()):  # in ARM but not (yet) in Graph
        identity = _identity(tenant, uai.client_id.lower(), None, None, uai, directory)
        identity.grants = list(arm_grants.get(principal_id, []))
        identities.append(identity)
    return identities


def _identity(
    tenant: str,
    app_id: str,
    app: dict[str, Any] | None,
    sp: dict[str, Any] | None,
    uai: UserAssignedIdentity | None,
    directory: DirectoryData,
) -> Identity:
    uid = identity_uid(tenant, app_id)
    sp_type = (sp or {}).get("servicePrincipalType") or ""
    alt = [str(a) for a in (sp or {}).get("alternativeNames") or []]
    owner_org = ((sp or {}).get("appOwnerOrganizationId") or "").lower()
    attributes: dict[str, Any] = {"app_id": app_id}
    if sp_type == "ManagedIdentity" or uai is not None:
        kind = "azure-managed-identity"
        explicit = uai is not None or "isExplicit=True" in alt
        resource = uai.resource_id if uai else next((a for a in alt if a.startswith("/")), None)
        attributes["managed_identity"] = {"assignment": "user" if explicit else "system", "resource_id": resource}
    elif app is not None:
        kind = "azure-application"
    else:
        kind = "azure-service-principal"
    if sp is not None:
        attributes["service_principal_id"] = sp["id"]
        attributes["service_principal_type"] = sp_type or None
        attributes["app_owner_organization_id"] = owner_org or None
    if app is not None:
        attributes["application_object_id"] = app["id"]
        attributes["sign_in_audience"] = app.get("signInAudience")
    owners = [_owner_name(o) for o in (app or {}).get("owners") or []]
    owner = owners[0] if owners else None
    if app is not None:
        attributes["owners"] = owners
    if uai is not None:
        attributes["subscription"] = uai.subscription_id
        owner = owner or uai.tags.get("owner")
    identity = Identity(
        uid=uid,
        provider=PROVIDER,
        kind=kind,
        scope=tenant,
        name=(app or sp or {}).get("displayName") or (uai.name if uai else app_id),
        created_at=parse_time((app or {}).get("createdDateTime")) or (uai.created_at if uai else None),
        enabled=bool((sp or {}).get("accountEnabled", True)),
        system=app is None and owner_org in MICROSOFT_TENANTS and kind != "azure-managed-identity",
        owner=owner,
        tags=dict(uai.tags) if uai else {},
        attributes=attributes,
    )
    if app is not None and sp is None:
        attributes["has_service_principal"] = False
    _usage(identity, sp, directory)
    creds: list[Credential] = []
    if app is not None:
        creds += _secrets(uid, app, "application", directory)
        creds += [_federated(uid, f) for f in directory.federated.get(app["id"], [])]
    if sp is not None:
        creds += _secrets(uid, sp, "servicePrincipal", directory)
    if uai is not None:
        creds += [_federated(uid, f, arm=True) for f in uai.federated]
    identity.credentials = creds
    if app is not None:
        identity.trusts += [trust_from_credential(f) for f in directory.federated.get(app["id"], [])]
    if uai is not None:
        identity.trusts += [trust_from_credential(f, owner="user-assigned-identity") for f in uai.federated]
    return identity


def _owner_name(owner: dict[str, Any]) -> str:
    return str(owner.get("userPrincipalName") or owner.get("displayName") or owner.get("appId") or owner["id"])


def _usage(identity: Identity, sp: dict[str, Any] | None, directory: DirectoryData) -> None:
    if directory.sp_sign_ins is None:
        return  # unknown: no unused/dormant verdict (the scope says why)
    identity.last_used_source = SP_USAGE_SOURCE
    app_id = identity.attributes["app_id"]
    recorded = app_id in directory.sp_sign_ins
    identity.attributes["sign_in_record"] = recorded and sp is not None
    identity.last_used_at = parse_time(directory.sp_sign_ins.get(app_id)) if sp is not None else None


def _secrets(uid: str, owner: dict[str, Any], origin: str, directory: DirectoryData) -> list[Credential]:
    out: list[Credential] = []
    prefix = "" if origin == "application" else "sp-"
    for kind, field, part, static in (
        ("azure-client-secret", "passwordCredentials", "secret", True),
        ("azure-certificate", "keyCredentials", "certificate", False),
    ):
        for raw in owner.get(field) or []:
            key_id = str(raw["keyId"]).lower()
            cred = Credential(
                uid=f"{uid}:{prefix}{part}/{key_id}",
                kind=kind,
                id=key_id,
                name=raw.get("displayName"),
                created_at=parse_time(raw.get("startDateTime")),
                expires_at=parse_time(raw.get("endDateTime")),
                static=static,
                attributes={"credential_origin": origin},
            )
            if raw.get("type"):
                cred.attributes["key_type"] = raw["type"]
            if raw.get("usage"):
                cred.attributes["key_usage"] = raw["usage"]
            if directory.credential_sign_ins is not None:
                cred.last_used_source = CREDENTIAL_USAGE_SOURCE
                cred.last_used_at = parse_time(directory.credential_sign_ins.get(key_id))
            out.append(cred)
    return out


def _federated(uid: str, fic: dict[str, Any], *, arm: bool = False) -> Credential:
    fic_id = str(fic["name"] if arm else fic["id"])
    return Credential(
        uid=f"{uid}:federated/{fic_id}",
        kind="azure-federated-credential",
        id=fic_id,
        name=fic.get("name"),
        static=False,
        attributes={
            "issuer": fic.get("issuer"),
            "subject": fic.get("subject"),
            "audiences": list(fic.get("audiences") or []),
            "defined_on": "user-assigned-identity" if arm else "application",
        },
    )


def _graph_grants(directory: DirectoryData) -> dict[str, list[Grant]]:
    out: dict[str, list[Grant]] = {}
    for assignment in directory.app_permissions:
        if (assignment.get("principalType") or "ServicePrincipal") != "ServicePrincipal":
            continue
        value = directory.graph_roles.get(assignment["appRoleId"], assignment["appRoleId"])
        level, reason = privilege.graph_permission(value)
        out.setdefault(assignment["principalId"].lower(), []).append(
            Grant(
                privilege=level,
                source=value,
                source_kind="graph-app-permission",
                resource_scope="Microsoft Graph",
                reason=f"Microsoft Graph application permission {value}: {reason}",
                permissions=[value],
            )
        )
    return out


def _directory_role_grants(directory: DirectoryData) -> dict[str, list[Grant]]:
    out: dict[str, list[Grant]] = {}
    for role in directory.directory_roles:
        name, level, reason = privilege.directory_role(role.get("roleTemplateId"), role.get("displayName", ""))
        for member in role.get("memberIds", []):
            out.setdefault(member.lower(), []).append(
                Grant(
                    privilege=level,
                    source=name,
                    source_kind="entra-directory-role",
                    resource_scope="/",
                    reason=f"Entra role {name}: {reason}",
                    permissions=[name],
                )
            )
    return out


def _scope_label(scope: str) -> str:
    if scope == "/":
        return "the tenant root"
    if scope.lower().startswith("/providers/microsoft.management/managementgroups/"):
        return f"management group {scope.rsplit('/', 1)[-1]}"
    if scope.lower().startswith("/subscriptions/") and scope.count("/") == 2:
        return f"subscription {scope.rsplit('/', 1)[-1]}"
    return scope
