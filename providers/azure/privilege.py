"""How much an Azure grant lets an identity do: Graph application permissions, Entra roles, ARM roles.

Pure tables and functions (no I/O, no SDK): they turn a permission name, a directory role or an ARM role
definition into a ``Privilege`` with the reason an auditor can check. Unknown names fall back to a
conservative reading of the name (``ReadWrite`` = write), never to "no risk".
"""

from __future__ import annotations

from typing import Any

from nhiwarden.model import Privilege

ADMIN = Privilege.ADMIN
ESCALATION = Privilege.PRIVILEGE_ESCALATION

# Microsoft Graph application permissions that are admin-equivalent or let the holder grant itself more.
GRAPH_PERMISSIONS: dict[str, tuple[Privilege, str]] = {
    "RoleManagement.ReadWrite.Directory": (
        ADMIN,
        "can assign any Entra role, Global Administrator included, to any principal (itself too)",
    ),
    "AppRoleAssignment.ReadWrite.All": (
        ADMIN,
        "can grant any application permission to any app, e.g. RoleManagement.ReadWrite.Directory to itself",
    ),
    "RoleAssignmentSchedule.ReadWrite.Directory": (ADMIN, "can schedule active Entra role assignments"),
    "RoleEligibilitySchedule.ReadWrite.Directory": (ADMIN, "can make any principal eligible for any Entra role"),
    "Application.ReadWrite.All": (
        ESCALATION,
        "can add a secret to any application or service principal and act as it, privileged ones included",
    ),
    "Directory.ReadWrite.All": (
        ESCALATION,
        "can change users, groups, applications and service principals across the directory",
    ),
    "UserAuthenticationMethod.ReadWrite.All": (
        ESCALATION,
        "can reset the sign-in methods of any user, administrators included, and take their accounts over",
    ),
    "Policy.ReadWrite.ConditionalAccess": (ESCALATION, "can weaken or switch off Conditional Access"),
    "Policy.ReadWrite.AuthenticationMethod": (ESCALATION, "can change which sign-in methods are allowed"),
    "PrivilegedAccess.ReadWrite.AzureADGroup": (ESCALATION, "can add members to privileged access groups"),
    "ServicePrincipalEndpoint.ReadWrite.All": (ESCALATION, "can redirect service principal endpoints"),
    "Domain.ReadWrite.All": (ESCALATION, "can add a federated domain and forge sign-ins for its users"),
}

# Entra directory roles by template id (the same in every tenant), with a fallback by display name.
DIRECTORY_ROLES: dict[str, tuple[str, Privilege, str]] = {
    "62e90394-69f5-4237-9190-012177145e10": ("Global Administrator", ADMIN, "full control of the tenant"),
    "e8611ab8-c189-46e8-94e1-60213ab1f814": (
        "Privileged Role Administrator",
        ADMIN,
        "can assign every Entra role, Global Administrator included",
    ),
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": (
        "Privileged Authentication Administrator",
        ADMIN,
        "can reset sign-in methods of every user, Global Administrators included",
    ),
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": (
        "Application Administrator",
        ESCALATION,
        "can add credentials to any application and act as it, privileged ones included",
    ),
    "158c047a-c907-4556-b7ef-446551a6b5f7": (
        "Cloud Application Administrator",
        ESCALATION,
        "can add credentials to any application and act as it, privileged ones included",
    ),
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": (
        "Hybrid Identity Administrator",
        ESCALATION,
        "can change federation settings and forge sign-ins",
    ),
    "fe930be7-5e62-47db-91af-98c3a49a38b1": (
        "User Administrator",
        ESCALATION,
        "can reset passwords of users and manage groups",
    ),
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": (
        "Authentication Administrator",
        ESCALATION,
        "can reset sign-in methods of non-admin users",
    ),
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": (
        "Conditional Access Administrator",
        ESCALATION,
        "can weaken or switch off Conditional Access",
    ),
    "194ae4cb-b126-40b2-bd5b-6091b380977d": (
        "Security Administrator",
        ESCALATION,
        "can change security policies and Identity Protection settings",
    ),
}

# Built-in ARM roles by role definition GUID (the same in every tenant).
ARM_ROLES: dict[str, tuple[str, Privilege, str]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", ADMIN, "full access, including granting access to others"),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": (
        "User Access Administrator",
        ESCALATION,
        "can grant any role, Owner included, to anyone (itself too)",
    ),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": (
        "Role Based Access Control Administrator",
        ESCALATION,
        "can grant roles to anyone (itself too)",
    ),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": (
        "Contributor",
        Privilege.WRITE,
        "can create, change and delete every resource, but cannot grant access",
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", Privilege.READ, "can read every resource"),
}
KNOWN_ARM_ROLE_IDS = frozenset(ARM_ROLES)


def graph_permission(value: str) -> tuple[Privilege, str]:
    """Privilege and reason of a Microsoft Graph application permission (e.g. ``Mail.Send``)."""
    known = GRAPH_PERMISSIONS.get(value)
    if known:
        return known
    if any(word in value for word in (".ReadWrite", ".Send", ".FullControl", ".Manage", ".Create")):
        return Privilege.WRITE, "application permission that changes data"
    return Privilege.READ, "application permission that reads data"


def directory_role(template_id: str | None, display_name: str) -> tuple[str, Privilege, str]:
    """Name, privilege and reason of an Entra directory role."""
    known = DIRECTORY_ROLES.get((template_id or "").lower())
    if known:
        return known
    for name, privilege, reason in DIRECTORY_ROLES.values():
        if name == display_name:
            return name, privilege, reason
    if display_name.endswith(("Reader", "Readers")):
        return display_name, Privilege.READ, "directory role that reads settings"
    return display_name, Privilege.WRITE, "directory role that changes settings"


def arm_role_id(role_definition_id: str) -> str:
    """The GUID at the end of an ARM role definition id."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def custom_arm_role(name: str, permissions: list[dict[str, Any]]) -> tuple[Privilege, str, list[str]]:
    """Privilege, reason and extra controls of a non-built-in ARM role, from its actions."""
    actions = [a for p in permissions for a in (p.get("actions") or [])]
    not_actions = [a.lower() for p in permissions for a in (p.get("not_actions") or p.get("notActions") or [])]
    authz_blocked = any(n.startswith("microsoft.authorization/") for n in not_actions)
    lowered = [a.lower() for a in actions]
    if "*" in lowered and not authz_blocked:
        return (
            ADMIN,
            f"custom role {name!r} allows every action ('*'): a custom subscription administrator",
            ["CIS-AZURE-5.23"],
        )
    grants_access = any(
        a in ("microsoft.authorization/*", "microsoft.authorization/roleassignments/write", "*/write")
        or a.startswith("microsoft.authorization/roleassignments/*")
        for a in lowered
    )
    if grants_access and not authz_blocked:
        return ESCALATION, f"custom role {name!r} can write role assignments", []
    if any(not a.endswith("/read") for a in lowered):
        return Privilege.WRITE, f"custom role {name!r} allows changes ({', '.join(actions[:3])})", []
    return Privilege.READ, f"custom role {name!r} only reads", []
