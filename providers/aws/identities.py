"""Build normalized Identities from the credential report and the authorization details. Pure.

Owns the AWS uid formats and what each AWS fact means in the model. Access keys come from the
credential report, which names them only by slot: they are PROVISIONAL credentials until ``keys``
resolves their AccessKeyId (for flagged keys only). Never puts a secret in the model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.model import Credential, Identity
from nhiwarden.providers.aws.authorization import AuthorizationDetails, PolicyDoc
from nhiwarden.providers.aws.credential_report import (
    KEY_TRACKING_SINCE,
    PASSWORD_TRACKING_SINCE,
    CredentialReport,
    ReportRow,
)
from nhiwarden.providers.aws.privilege import AttachedPolicy, analyse
from nhiwarden.providers.aws.trust import trusts_from_policy

PROVIDER = "aws"
SERVICE_LINKED_PATH = "/aws-service-role/"
ROLE_LAST_USED_DAYS = 400
ROLE_LAST_USED_SOURCE = "aws iam RoleLastUsed (GetAccountAuthorizationDetails; covers the trailing 400 days)"


def user_uid(account: str, name: str) -> str:
    return f"aws:{account}:user/{name}"


def role_uid(account: str, name: str) -> str:
    return f"aws:{account}:role/{name}"


def slot_uid(account: str, user: str, slot: int) -> str:
    return f"{user_uid(account, user)}:access-key-slot/{slot}"


def key_uid(account: str, user: str, key_id: str) -> str:
    return f"{user_uid(account, user)}:access-key/{key_id}"


def aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in entity.get("Tags") or []}


def owner_of(tags: dict[str, str], owner_tags: list[str]) -> str | None:
    for key in owner_tags:
        if tags.get(key):
            return tags[key]
    return None


def policies_of(
    entity: dict[str, Any],
    inline_key: str,
    details: AuthorizationDetails,
    managed: dict[str, PolicyDoc],
    via: str | None = None,
) -> list[AttachedPolicy]:
    """Inline and attached managed policies of a user, role or group (documents already resolved)."""
    out = [
        AttachedPolicy(name=p["PolicyName"], kind="inline-policy", document=p.get("PolicyDocument") or {}, via=via)
        for p in entity.get(inline_key) or []
    ]
    for attached in entity.get("AttachedManagedPolicies") or []:
        arn = attached["PolicyArn"]
        doc = managed.get(arn) or details.policies.get(arn)
        kind = "aws-managed-policy" if ":iam::aws:policy/" in arn else "managed-policy"
        out.append(
            AttachedPolicy(
                name=attached.get("PolicyName") or (doc.name if doc else arn),
                kind=kind,
                document=doc.document if doc else {},
                via=via,
                arn=arn,
            )
        )
    return out


def key_credentials(account: str, row: ReportRow, report: CredentialReport) -> list[Credential]:
    """Provisional access-key credentials, one per occupied report slot."""
    out = []
    for slot in row.keys:
        out.append(
            Credential(
                uid=slot_uid(account, row.user, slot.slot),
                kind="aws-access-key",
                id=f"access_key_{slot.slot}",
                name=f"{row.user} access key slot {slot.slot}",
                created_at=slot.last_rotated,
                last_used_at=slot.last_used,
                last_used_source=report.source,
                last_used_tracking_since=KEY_TRACKING_SINCE,
                enabled=slot.active,
                static=True,
                provisional=True,
                attributes={
                    "slot": slot.slot,
                    "last_rotated": slot.last_rotated.isoformat() if slot.last_rotated else None,
                    "last_used_service": slot.last_used_service,
                    "last_used_region": slot.last_used_region,
                    "report_generated_at": report.generated_at.isoformat() if report.generated_at else None,
                },
            )
        )
    return out


def password_credential(account: str, row: ReportRow, report: CredentialReport) -> Credential:
    return Credential(
        uid=f"{user_uid(account, row.user)}:console-password",
        kind="password",
        id="console-password",
        name=f"{row.user} console password",
        created_at=row.password_last_changed,
        last_used_at=row.password_last_used,
        last_used_source=report.source,
        last_used_tracking_since=PASSWORD_TRACKING_SINCE,
        enabled=True,
        # A console password is a person's way in: human-use judges it, not the static-key rules.
        static=False,
        interactive=True,
        attributes={"mfa_active": row.mfa_active},
    )


def summarize_usage(identity: Identity) -> None:
    """Identity usage = the latest use over its credentials, with the sources that said so."""
    known = [c for c in identity.credentials if c.usage_known]
    if not known:
        return
    used = [c.last_used_at for c in known if c.last_used_at is not None]
    identity.last_used_at = max(used) if used else None
    identity.last_used_source = known[0].last_used_source
    if known[0].last_used_source and any(c.last_used_source != known[0].last_used_source for c in known):
        identity.last_used_source = "; ".join(sorted({c.last_used_source or "" for c in known}))
    since = [c.last_used_tracking_since for c in known if c.last_used_tracking_since is not None]
    identity.last_used_tracking_since = min(since) if since else None


def build_user(
    account: str,
    user: dict[str, Any],
    details: AuthorizationDetails,
    managed: dict[str, PolicyDoc],
    report: CredentialReport | None,
    owner_tags: list[str],
) -> Identity:
    name = user["UserName"]
    tags = tags_of(user)
    policies = policies_of(user, "UserPolicyList", details, managed)
    for group_name in user.get("GroupList") or []:
        group = details.groups.get(group_name)
        if group is not None:
            policies += policies_of(group, "GroupPolicyList", details, managed, via=f"group/{group_name}")
    identity = Identity(
        uid=user_uid(account, name),
        provider=PROVIDER,
        kind="aws-iam-user",
        scope=account,
        name=name,
        created_at=aware(user.get("CreateDate")),
        owner=owner_of(tags, owner_tags),
        tags=tags,
        grants=analyse(policies),
        attributes={
            "arn": user.get("Arn"),
            "path": user.get("Path"),
            "user_id": user.get("UserId"),
            "groups": list(user.get("GroupList") or []),
            "permissions_boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        },
    )
    row = report.rows.get(name) if report is not None else None
    if report is not None and row is not None:
        identity.attributes["mfa_active"] = row.mfa_active
        identity.attributes["credential_report_generated_at"] = (
            report.generated_at.isoformat() if report.generated_at else None
        )
        if row.password_enabled:
            identity.credentials.append(password_credential(account, row, report))
        identity.credentials.extend(key_credentials(account, row, report))
        if identity.credentials:
            summarize_usage(identity)
        else:
            # No key and no password: nothing can sign in as this user, so it is unused by construction.
            identity.last_used_source = report.source
            identity.attributes["no_credentials"] = True
    return identity


def build_role(
    account: str,
    role: dict[str, Any],
    details: AuthorizationDetails,
    managed: dict[str, PolicyDoc],
    as_of: datetime,
    owner_tags: list[str],
) -> Identity:
    name = role["RoleName"]
    tags = tags_of(role)
    path = role.get("Path") or "/"
    last_used = role.get("RoleLastUsed") or {}
    return Identity(
        uid=role_uid(account, name),
        provider=PROVIDER,
        kind="aws-iam-role",
        scope=account,
        name=name,
        created_at=aware(role.get("CreateDate")),
        last_used_at=aware(last_used.get("LastUsedDate")),
        last_used_source=ROLE_LAST_USED_SOURCE,
        last_used_tracking_since=as_of - timedelta(days=ROLE_LAST_USED_DAYS),
        system=path.startswith(SERVICE_LINKED_PATH),
        owner=owner_of(tags, owner_tags),
        tags=tags,
        grants=analyse(policies_of(role, "RolePolicyList", details, managed)),
        trusts=trusts_from_policy(role.get("AssumeRolePolicyDocument") or {}, role_arn=role.get("Arn") or ""),
        attributes={
            "arn": role.get("Arn"),
            "path": path,
            "role_id": role.get("RoleId"),
            "last_used_region": last_used.get("Region"),
            "trusted_principals": trusted_principals(role.get("AssumeRolePolicyDocument") or {}),
            "instance_profiles": [p.get("InstanceProfileName") for p in role.get("InstanceProfileList") or []],
            "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        },
    )


def trusted_principals(document: dict[str, Any]) -> list[str]:
    """Principals an Allow in the trust policy names (AWS, Service, Federated), for evidence."""
    out: list[str] = []
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for stmt in statements or []:
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        if isinstance(principal, str):
            out.append(principal)
        elif isinstance(principal, dict):
            for kind, value in principal.items():
                for v in [value] if isinstance(value, str) else value or []:
                    out.append(f"{kind}:{v}")
    return out
