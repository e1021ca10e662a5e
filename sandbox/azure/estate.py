"""The seeded tenant: apps, service principals, managed identities and grants dated relative to ``as_of``.

Owns the demo/test estate only; the servers in ``server.py`` serve it. Every date is ``as_of`` minus or
plus whole days, so findings are exact and reproducible whatever today's date is. Secret values are
random canaries kept in ``Seeded.canaries``: the fake never serves them and no nhiwarden output may
contain them. ``add_application`` and ``grant_graph_permission`` change a running tenant (playbook tests).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.sandbox.azure.graph_writes import new_secret_value
from nhiwarden.sandbox.azure.state import (
    JSON,
    MICROSOFT_GRAPH_APP_ID,
    MICROSOFT_TENANT_ID,
    Client,
    FakeTenant,
    Subscription,
    guid,
    ts,
)

# Microsoft Graph application permissions (app role ids are the same in every tenant).
GRAPH_APP_ROLES = {
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "RoleManagement.ReadWrite.Directory": "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "AuditLog.Read.All": "b0afded3-3588-46d8-8b3d-9842eff778da",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
}
DIRECTORY_ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
}
ARM_ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}
CUSTOM_ROLE = ("Custom Deployment Operator", guid("role/custom-deployment-operator"))


@dataclass
class Seeded:
    """What a test needs to know about the seeded tenant."""

    tenant: FakeTenant
    as_of: datetime
    scanner_client_id: str
    scanner_secret: str
    prod_subscription: str
    denied_subscription: str
    canaries: list[str] = field(default_factory=list)
    app_ids: dict[str, str] = field(default_factory=dict)  # display name -> appId
    sp_ids: dict[str, str] = field(default_factory=dict)  # display name -> service principal object id
    key_ids: dict[str, str] = field(default_factory=dict)  # "<app>/<credential name>" -> keyId


class _Builder:
    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of
        self.tenant = FakeTenant(tenant_id=guid("tenant/contoso"))
        self.seeded = Seeded(
            tenant=self.tenant,
            as_of=as_of,
            scanner_client_id="",
            scanner_secret="",
            prod_subscription=guid("subscription/prod"),
            denied_subscription=guid("subscription/sandbox"),
        )
        self.users: dict[str, JSON] = {}

    def day(self, offset: float) -> str:
        return ts(self.as_of + timedelta(days=offset))

    def user(self, name: str) -> JSON:
        if name not in self.users:
            self.users[name] = {
                "@odata.type": "#microsoft.graph.user",
                "id": guid(f"user/{name}"),
                "displayName": name.capitalize(),
                "userPrincipalName": f"{name}@contoso.example",
            }
        return self.users[name]

    def secret(self, app: str, name: str, start: float, end: float, used: float | None) -> JSON:
        value = f"{name[:3]}8Q~{secrets.token_urlsafe(30)}"  # the shape of a real client secret
        self.seeded.canaries.append(value)
        key_id = guid(f"key/{app}/{name}")
        self.seeded.key_ids[f"{app}/{name}"] = key_id
        cred: JSON = {
            "customKeyIdentifier": None,
            "displayName": name,
            "endDateTime": self.day(end),
            "hint": value[:3],
            "keyId": key_id,
            "secretText": None,
            "startDateTime": self.day(start),
        }
        cred["_used"] = used
        cred["_type"] = "clientSecret"
        return cred

    def certificate(self, app: str, name: str, start: float, end: float, used: float | None) -> JSON:
        key_id = guid(f"key/{app}/{name}")
        self.seeded.key_ids[f"{app}/{name}"] = key_id
        return {
            "customKeyIdentifier": "QjNGMDc4RTg5M0ZBN0M0RDk5RjhBRjAy",
            "displayName": f"CN={name}",
            "endDateTime": self.day(end),
            "key": None,
            "keyId": key_id,
            "startDateTime": self.day(start),
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "_used": used,
            "_type": "certificate",
        }

    def app(
        self,
        name: str,
        *,
        created: float,
        owners: list[str],
        creds: list[JSON],
        sp_creds: list[JSON] | None = None,
        used: float | None,
        federated: list[JSON] | None = None,
    ) -> JSON:
        app_id = guid(f"app/{name}")
        obj_id = guid(f"application/{name}")
        sp_id = guid(f"sp/{name}")
        self.seeded.app_ids[name] = app_id
        self.seeded.sp_ids[name] = sp_id
        passwords = [self._public(c) for c in creds if c["_type"] == "clientSecret"]
        keys = [self._public(c) for c in creds if c["_type"] == "certificate"]
        app = {
            "id": obj_id,
            "appId": app_id,
            "displayName": name,
            "createdDateTime": self.day(created),
            "signInAudience": "AzureADMyOrg",
            "publisherDomain": "contoso.example",
            "tags": [],
            "notes": None,
            "description": None,
            "deletedDateTime": None,
            "passwordCredentials": passwords,
            "keyCredentials": keys,
            "owners": [self.user(o) for o in owners],
            "federatedIdentityCredentials": federated or [],
        }
        self.tenant.applications.append(app)
        sp_passwords = [self._public(c) for c in (sp_creds or [])]
        self.tenant.service_principals.append(
            self._sp(sp_id, app_id, name, "Application", self.tenant.tenant_id, passwords=sp_passwords)
        )
        self._sign_ins(name, app_id, obj_id, sp_id, used, creds, "application")
        self._sign_ins(name, app_id, obj_id, sp_id, None, sp_creds or [], "servicePrincipal", sp_row=False)
        return app

    def _public(self, cred: JSON) -> JSON:
        return {k: v for k, v in cred.items() if not k.startswith("_")}

    def _sp(
        self,
        sp_id: str,
        app_id: str,
        name: str,
        kind: str,
        owner_org: str,
        *,
        passwords: list[JSON] | None = None,
        alternative: list[str] | None = None,
        app_roles: list[JSON] | None = None,
    ) -> JSON:
        return {
            "id": sp_id,
            "appId": app_id,
            "displayName": name,
            "appDisplayName": name,
            "servicePrincipalType": kind,
            "accountEnabled": True,
            "appOwnerOrganizationId": owner_org,
            "alternativeNames": alternative or [],
            "servicePrincipalNames": [app_id],
            "passwordCredentials": passwords or [],
            "keyCredentials": [],
            "appRoles": app_roles or [],
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"] if kind == "Application" else [],
            "deletedDateTime": None,
            "description": None,
            "notes": None,
        }

    def _sign_ins(
        self,
        name: str,
        app_id: str,
        obj_id: str | None,
        sp_id: str,
        used: float | None,
        creds: list[JSON],
        origin: str,
        *,
        sp_row: bool = True,
    ) -> None:
        if sp_row and used is not None:
            activity = {"lastSignInDateTime": self.day(used), "lastSignInRequestId": guid(f"req/{name}")}
            self.tenant.sp_sign_ins.append(
                {
                    "id": guid(f"spsignin/{name}"),
                    "appId": app_id,
                    "lastSignInActivity": activity,
                    "applicationAuthenticationClientSignInActivity": activity,
                    "applicationAuthenticationResourceSignInActivity": {
                        "lastSignInDateTime": None,
                        "lastSignInRequestId": None,
                    },
                    "delegatedClientSignInActivity": {"lastSignInDateTime": None, "lastSignInRequestId": None},
                    "delegatedResourceSignInActivity": {"lastSignInDateTime": None, "lastSignInRequestId": None},
                }
            )
        for cred in creds:
            if cred["_used"] is None:
                continue
            self.tenant.credential_sign_ins.append(
                {
                    "id": guid(f"credsignin/{cred['keyId']}"),
                    "keyId": cred["keyId"],
                    "keyType": cred["_type"],
                    "keyUsage": "verify" if cred["_type"] == "certificate" else "sign",
                    "appId": app_id,
                    "appObjectId": obj_id,
                    "servicePrincipalObjectId": sp_id,
                    "resourceId": guid("sp/Microsoft Graph"),
                    "credentialOrigin": origin,
                    "createdDateTime": cred["startDateTime"],
                    "expirationDateTime": cred["endDateTime"],
                    "signInActivity": {
                        "lastSignInDateTime": self.day(cred["_used"]),
                        "lastSignInRequestId": guid(f"req/{cred['keyId']}"),
                    },
                }
            )

    def graph_permission(self, principal: str, permission: str, created: float = -300) -> None:
        self.tenant.app_role_assignments.append(
            {
                "id": guid(f"ara/{principal}/{permission}").replace("-", "")[:27] + "AAAA",
                "appRoleId": GRAPH_APP_ROLES[permission],
                "createdDateTime": self.day(created),
                "principalDisplayName": principal,
                "principalId": self.seeded.sp_ids[principal],
                "principalType": "ServicePrincipal",
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": guid("sp/Microsoft Graph"),
                "deletedDateTime": None,
            }
        )

    def directory_role(self, role: str, *members: str) -> None:
        entry = next((r for r in self.tenant.directory_roles if r["displayName"] == role), None)
        if entry is None:
            entry = {
                "id": guid(f"directoryRole/{role}"),
                "displayName": role,
                "roleTemplateId": DIRECTORY_ROLE_TEMPLATES[role],
                "description": f"{role} built-in role.",
                "deletedDateTime": None,
                "members": [self.user("admin")],
            }
            self.tenant.directory_roles.append(entry)
        for member in members:
            entry["members"].append(
                {
                    "@odata.type": "#microsoft.graph.servicePrincipal",
                    "id": self.seeded.sp_ids[member],
                    "appId": self.seeded.app_ids[member],
                    "displayName": member,
                }
            )

    def arm_role(self, sub: Subscription, principal_id: str, role: str, scope: str, ptype: str) -> None:
        role_id = ARM_ROLES.get(role) or CUSTOM_ROLE[1]
        name = guid(f"ra/{sub.subscription_id}/{principal_id}/{role}/{scope}")
        sub.role_assignments.append(
            {
                "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
                "name": name,
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {
                    "roleDefinitionId": f"/subscriptions/{sub.subscription_id}/providers/"
                    f"Microsoft.Authorization/roleDefinitions/{role_id}",
                    "principalId": principal_id,
                    "principalType": ptype,
                    "scope": scope,
                    "condition": None,
                    "conditionVersion": None,
                    "createdOn": self.day(-200),
                    "updatedOn": self.day(-200),
                    "createdBy": self.user("admin")["id"],
                    "updatedBy": self.user("admin")["id"],
                    "delegatedManagedIdentityResourceId": None,
                    "description": None,
                },
            }
        )


def _role_definition(name: str, role_id: str, actions: list[str], custom: bool = False) -> JSON:
    return {
        "id": f"/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
        "name": role_id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "CustomRole" if custom else "BuiltInRole",
            "description": name,
            "assignableScopes": ["/"],
            "permissions": [{"actions": actions, "notActions": [], "dataActions": [], "notDataActions": []}],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def seed_tenant(as_of: datetime, *, premium: bool = True, page_size: int = 2) -> Seeded:
    """Build the seeded tenant: one trait per app, so each expected finding has one cause."""
    b = _Builder(as_of)
    t = b.tenant
    t.premium = premium
    t.page_size = page_size
    s = b.seeded

    graph_roles = [
        {
            "id": role_id,
            "value": name,
            "displayName": name,
            "allowedMemberTypes": ["Application"],
            "isEnabled": True,
            "origin": "Application",
            "description": f"Allows the app to {name}.",
        }
        for name, role_id in GRAPH_APP_ROLES.items()
    ]
    t.service_principals.append(
        b._sp(
            guid("sp/Microsoft Graph"),
            MICROSOFT_GRAPH_APP_ID,
            "Microsoft Graph",
            "Application",
            MICROSOFT_TENANT_ID,
            app_roles=graph_roles,
        )
    )

    scanner_creds = [b.secret("nhiwarden-scanner", "scan", -30, 150, -1)]
    b.app("nhiwarden-scanner", created=-40, owners=["alice"], creds=scanner_creds, used=-1)
    s.scanner_client_id = s.app_ids["nhiwarden-scanner"]
    s.scanner_secret = s.canaries[0]
    t.clients[s.scanner_client_id] = Client(
        client_id=s.scanner_client_id,
        secret=s.scanner_secret,
        object_id=s.sp_ids["nhiwarden-scanner"],
        arm_readable={s.prod_subscription},
    )
    for permission in ("Application.Read.All", "AuditLog.Read.All", "RoleManagement.Read.Directory"):
        b.graph_permission("nhiwarden-scanner", permission, created=-40)

    b.app(
        "billing-export",
        created=-500,
        owners=["bob"],
        used=-8,
        creds=[b.secret("billing-export", "prod-2025", -372, -7, -8)],
    )
    b.app(
        "payroll-sync",
        created=-600,
        owners=["alice"],
        used=-1,
        creds=[b.secret("payroll-sync", "current", -80, 10, -1)],
    )
    b.app(
        "legacy-reporting",
        created=-900,
        owners=["bob"],
        used=-2,
        creds=[b.secret("legacy-reporting", "initial", -730, 1095, -2)],
    )
    b.app(
        "forever-bot",
        created=-31,
        owners=["alice"],
        used=-3,
        creds=[b.secret("forever-bot", "never-expires", -30, 99 * 365 - 30, -3)],
    )
    b.app(
        "cert-only-api",
        created=-70,
        owners=["carol"],
        used=-1,
        creds=[b.certificate("cert-only-api", "cert-only-api.contoso.example", -60, 305, -1)],
    )
    b.app("orphan-app", created=-15, owners=[], used=-1, creds=[b.secret("orphan-app", "ci", -10, 170, -1)])
    b.app(
        "directory-sync",
        created=-120,
        owners=["carol"],
        used=-1,
        creds=[b.certificate("directory-sync", "directory-sync.contoso.example", -45, 320, -1)],
    )
    b.graph_permission("directory-sync", "Directory.ReadWrite.All")
    github = {
        "id": guid("fic/infra-deployer/github"),
        "name": "github-prod",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/infra:environment:prod",
        "audiences": ["api://AzureADTokenExchange"],
        "description": "GitHub Actions deploys from the prod environment",
    }
    b.app("infra-deployer", created=-150, owners=["dave"], used=-1, creds=[], federated=[github])
    # A migration to federation left unfinished: the old secret still works beside the trust.
    web_github = {
        **github,
        "id": guid("fic/web-frontend/github"),
        "name": "github-main",
        "subject": "repo:contoso/web:ref:refs/heads/main",
    }
    b.app(
        "web-frontend",
        created=-200,
        owners=["erin"],
        used=-1,
        creds=[b.secret("web-frontend", "pre-federation", -30, 150, -40)],
        federated=[web_github],
    )
    b.app(
        "stale-integration",
        created=-420,
        owners=["bob"],
        used=-200,
        creds=[b.secret("stale-integration", "partner-feed", -400, 330, -200)],
    )
    b.app(
        "tenant-automation",
        created=-25,
        owners=["dave"],
        used=-1,
        creds=[b.secret("tenant-automation", "runbook", -20, 160, -1)],
    )
    b.directory_role("Global Administrator", "tenant-automation")
    # A rotation left half done: the new secret is in use, the old one has not been used for 120 days.
    b.app(
        "report-mailer",
        created=-300,
        owners=["carol"],
        used=-1,
        creds=[
            b.secret("report-mailer", "old", -60, 300, -120),
            b.secret("report-mailer", "new", -20, 340, -1),
        ],
    )
    b.graph_permission("report-mailer", "Mail.Send")
    b.directory_role("Directory Readers", "nhiwarden-scanner")
    b.graph_permission("payroll-sync", "User.Read.All")  # a read permission: no finding

    # A third-party multi-tenant app: its service principal has a secret of its own (not on any app
    # registration here), the persistence trick that hides a credential from "App registrations".
    crm = "Contoso CRM Connector"
    crm_app_id, crm_sp_id = guid(f"app/{crm}"), guid(f"sp/{crm}")
    s.app_ids[crm], s.sp_ids[crm] = crm_app_id, crm_sp_id
    crm_secret = b.secret(crm, "sp-secret", -100, 265, -5)
    t.service_principals.append(
        b._sp(crm_sp_id, crm_app_id, crm, "Application", guid("tenant/fabrikam"), passwords=[b._public(crm_secret)])
    )
    b._sign_ins(crm, crm_app_id, None, crm_sp_id, -5, [crm_secret], "servicePrincipal")

    prod = Subscription(s.prod_subscription, "Contoso Production")
    denied = Subscription(s.denied_subscription, "Contoso Sandbox")
    t.subscriptions = [prod, denied]

    # Managed identities: one user-assigned with a federated credential (AKS workload identity), one
    # system-assigned on a VM.
    uai_name, rg = "id-aks-payments", "rg-aks"
    uai_id = (
        f"/subscriptions/{prod.subscription_id}/resourceGroups/{rg}/providers/"
        f"Microsoft.ManagedIdentity/userAssignedIdentities/{uai_name}"
    )
    uai_client, uai_principal = guid(f"app/{uai_name}"), guid(f"sp/{uai_name}")
    s.app_ids[uai_name], s.sp_ids[uai_name] = uai_client, uai_principal
    prod.identities.append(
        {
            "id": uai_id,
            "name": uai_name,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "location": "westeurope",
            "tags": {"owner": "payments-team"},
            "properties": {
                "tenantId": t.tenant_id,
                "principalId": uai_principal,
                "clientId": uai_client,
                "isolationScope": "None",
            },
            "systemData": {"createdAt": b.day(-90), "createdBy": "admin@contoso.example"},
        }
    )
    prod.federated[uai_id.lower()] = [
        {
            "id": f"{uai_id}/federatedIdentityCredentials/aks-payments-worker",
            "name": "aks-payments-worker",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {
                "issuer": "https://westeurope.oic.prod-aks.azure.com/contoso/aks-prod/",
                "subject": "system:serviceaccount:payments:worker",
                "audiences": ["api://AzureADTokenExchange"],
            },
        }
    ]
    t.service_principals.append(
        b._sp(
            uai_principal, uai_client, uai_name, "ManagedIdentity", t.tenant_id, alternative=["isExplicit=True", uai_id]
        )
    )
    b._sign_ins(uai_name, uai_client, None, uai_principal, -1, [], "servicePrincipal")
    vm = "vm-web-01"
    vm_client, vm_principal = guid(f"app/{vm}"), guid(f"sp/{vm}")
    s.app_ids[vm], s.sp_ids[vm] = vm_client, vm_principal
    vm_id = (
        f"/subscriptions/{prod.subscription_id}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/{vm}"
    )
    t.service_principals.append(
        b._sp(vm_principal, vm_client, vm, "ManagedIdentity", t.tenant_id, alternative=["isExplicit=False", vm_id])
    )

    sub_scope = f"/subscriptions/{prod.subscription_id}"
    mg_scope = "/providers/Microsoft.Management/managementGroups/contoso-root"
    b.arm_role(prod, s.sp_ids["infra-deployer"], "Owner", sub_scope, "ServicePrincipal")
    b.arm_role(prod, uai_principal, "Contributor", sub_scope, "ServicePrincipal")
    b.arm_role(prod, s.sp_ids["nhiwarden-scanner"], "Reader", mg_scope, "ServicePrincipal")
    b.arm_role(prod, s.sp_ids["tenant-automation"], "User Access Administrator", mg_scope, "ServicePrincipal")
    b.arm_role(prod, s.sp_ids["payroll-sync"], CUSTOM_ROLE[0], sub_scope, "ServicePrincipal")
    b.arm_role(prod, b.user("admin")["id"], "Owner", sub_scope, "User")
    # Below the subscription: not returned by atScope(), so not judged as subscription-wide.
    b.arm_role(prod, s.sp_ids["orphan-app"], "Owner", f"{sub_scope}/resourceGroups/rg-ci", "ServicePrincipal")
    b.arm_role(
        denied, s.sp_ids["payroll-sync"], "Owner", f"/subscriptions/{denied.subscription_id}", "ServicePrincipal"
    )

    for role_name, role_id in ARM_ROLES.items():
        actions = {
            "Owner": ["*"],
            "Contributor": ["*"],
            "User Access Administrator": ["*/read", "Microsoft.Authorization/*"],
            "Reader": ["*/read"],
        }[role_name]
        definition = _role_definition(role_name, role_id, actions)
        if role_name == "Contributor":
            definition["properties"]["permissions"][0]["notActions"] = [
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ]
        t.role_definitions[role_id] = definition
    t.role_definitions[CUSTOM_ROLE[1]] = _role_definition(
        CUSTOM_ROLE[0], CUSTOM_ROLE[1], ["Microsoft.Resources/deployments/*", "*/read"], custom=True
    )
    return s


def describe(seeded: Seeded) -> dict[str, Any]:
    """A short summary for the demo banner."""
    return {
        "tenant": seeded.tenant.tenant_id,
        "applications": len(seeded.tenant.applications),
        "service_principals": len(seeded.tenant.service_principals),
        "subscriptions": [s.subscription_id for s in seeded.tenant.subscriptions],
    }


@dataclass
class NewApp:
    """An app registration added to a running tenant, with its one client secret (value included)."""

    app_id: str
    object_id: str
    sp_id: str
    key_id: str
    secret: str


def add_application(
    tenant: FakeTenant,
    name: str,
    *,
    secret_start: datetime,
    secret_end: datetime | None = None,
    owners: list[str] | None = None,
) -> NewApp:
    """Add an app registration, its service principal and one client secret the token authority accepts.

    For tests that change the tenant (playbooks): ids are random, so each call is a new app; the
    secret is valid from ``secret_start`` to ``secret_end`` (default: two years later); ``owners`` are
    service principal object ids (for ``Application.ReadWrite.OwnedBy``).
    """
    app_id, object_id, sp_id, key_id = (str(uuid.uuid4()) for _ in range(4))
    value = new_secret_value()
    end = secret_end or secret_start + timedelta(days=730)
    cred: JSON = {
        "customKeyIdentifier": None,
        "displayName": "ci",
        "endDateTime": ts(end),
        "hint": value[:3],
        "keyId": key_id,
        "secretText": None,
        "startDateTime": ts(secret_start),
    }
    owner_objects = [
        {"@odata.type": "#microsoft.graph.servicePrincipal", "id": o, "displayName": o} for o in owners or []
    ]
    app: JSON = {
        "id": object_id,
        "appId": app_id,
        "displayName": name,
        "createdDateTime": ts(secret_start),
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": [cred],
        "keyCredentials": [],
        "owners": owner_objects,
        "federatedIdentityCredentials": [],
    }
    sp: JSON = {
        "id": sp_id,
        "appId": app_id,
        "displayName": name,
        "appDisplayName": name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": tenant.tenant_id,
        "alternativeNames": [],
        "servicePrincipalNames": [app_id],
        "passwordCredentials": [],
        "keyCredentials": [],
    }
    with tenant.lock:
        tenant.applications.append(app)
        tenant.service_principals.append(sp)
        tenant.clients[app_id] = Client(client_id=app_id, secret="", object_id=sp_id, secrets={key_id: value})
    return NewApp(app_id, object_id, sp_id, key_id, value)


def grant_graph_permission(tenant: FakeTenant, principal_id: str, permission: str) -> None:
    """Grant a Microsoft Graph application permission (an app role assignment) to a service principal."""
    with tenant.lock:
        tenant.app_role_assignments.append(
            {
                "id": uuid.uuid4().hex[:27] + "AAAA",
                "appRoleId": GRAPH_APP_ROLES[permission],
                "createdDateTime": ts(datetime.now(UTC)),
                "principalDisplayName": principal_id,
                "principalId": principal_id,
                "principalType": "ServicePrincipal",
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": guid("sp/Microsoft Graph"),
                "deletedDateTime": None,
            }
        )
