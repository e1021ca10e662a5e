"""Classify a GCP IAM role granted to a service account into a nhiwarden privilege level, with evidence.

Pure: no I/O, no SDK. The levels follow CIS GCP 1.5 (service accounts must not hold Owner, Editor or
any ``*Admin`` role) and 1.6 (no Service Account User / Token Creator at project level: that lets the
holder act as every service account in the project).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nhiwarden.model import Privilege

CIS_ADMIN = "CIS-GCP-1.5"
CIS_PROJECT_IMPERSONATION = "CIS-GCP-1.6"

# Roles that let the holder act as / mint credentials for other service accounts where granted.
IMPERSONATION_ROLES: dict[str, tuple[str, list[str]]] = {
    "roles/iam.serviceAccountUser": (
        "may attach and act as every service account in {scope}",
        ["iam.serviceAccounts.actAs"],
    ),
    "roles/iam.serviceAccountTokenCreator": (
        "may mint access and ID tokens for every service account in {scope}",
        ["iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.signJwt", "iam.serviceAccounts.signBlob"],
    ),
    "roles/iam.workloadIdentityUser": (
        "may impersonate every service account in {scope} from a federated identity",
        ["iam.serviceAccounts.getAccessToken"],
    ),
    "roles/iam.serviceAccountOpenIdTokenCreator": (
        "may mint OpenID Connect tokens for every service account in {scope}",
        ["iam.serviceAccounts.getOpenIdToken"],
    ),
}
_READ = re.compile(r"(viewer|reader|browser|reviewer|lister|getter|observer)$", re.IGNORECASE)


@dataclass(frozen=True)
class RoleClass:
    privilege: Privilege
    reason: str
    permissions: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)


def is_custom(role: str) -> bool:
    return role.startswith(("projects/", "organizations/"))


def classify(role: str, scope: str) -> RoleClass:
    """The privilege ``role`` gives when bound on ``scope`` (e.g. ``projects/acme``)."""
    short = role.rsplit("/", 1)[-1]
    custom = " (custom role; permissions not expanded)" if is_custom(role) else ""
    if role == "roles/owner":
        return RoleClass(
            Privilege.ADMIN, f"basic role Owner on {scope}: full control, including IAM policy", ["*"], [CIS_ADMIN]
        )
    if role == "roles/editor":
        return RoleClass(
            Privilege.ADMIN,
            f"basic role Editor on {scope}: may change nearly every resource and act as service accounts",
            ["*.create", "*.update", "*.delete", "iam.serviceAccounts.actAs"],
            [CIS_ADMIN],
        )
    if role in IMPERSONATION_ROLES:
        text, perms = IMPERSONATION_ROLES[role]
        return RoleClass(
            Privilege.PRIVILEGE_ESCALATION, text.format(scope=scope), list(perms), [CIS_PROJECT_IMPERSONATION]
        )
    if short.lower().endswith("admin"):
        return RoleClass(Privilege.ADMIN, f"administrator role on {scope}{custom}", [role], [CIS_ADMIN])
    if _READ.search(short) or role in ("roles/viewer", "roles/browser"):
        return RoleClass(Privilege.READ, f"read-only role on {scope}{custom}", [])
    return RoleClass(Privilege.WRITE, f"role on {scope}{custom}", [])


def default_service_account(email: str, project_id: str) -> str | None:
    """``compute`` / ``app-engine`` for the accounts Google creates with broad Editor access, else None."""
    if re.fullmatch(r"\d+-compute@developer\.gserviceaccount\.com", email):
        return "compute"
    if email == f"{project_id}@appspot.gserviceaccount.com":
        return "app-engine"
    return None


_AGENT_DOMAINS = (
    "cloudservices.gserviceaccount.com",
    "cloudbuild.gserviceaccount.com",
    "container-engine-robot.iam.gserviceaccount.com",
    "compute-system.iam.gserviceaccount.com",
    "dataflow-service-producer-prod.iam.gserviceaccount.com",
    "gae-api-prod.google.com.iam.gserviceaccount.com",
    "serverless-robot-prod.iam.gserviceaccount.com",
    "containerregistry.iam.gserviceaccount.com",
)


def is_service_agent(email: str) -> bool:
    """Google-managed service agents: they live in Google's projects and the customer cannot manage them."""
    local, _, domain = email.partition("@")
    return (
        local.startswith("service-")
        or domain.startswith("gcp-sa-")
        or domain in _AGENT_DOMAINS
        or (local.isdigit() and domain.endswith("gserviceaccount.com"))
    )
