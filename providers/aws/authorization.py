"""``GetAccountAuthorizationDetails`` (paginated) and the cross-account cache of AWS-managed policies.

Owns the bulk read of users, groups, roles and customer-managed policies, and resolving AWS-managed
policy documents once per process (they are identical in every account). Never writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from nhiwarden.providers.aws.session import AccountSession

GAAD_FILTER = ["User", "Role", "Group", "LocalManagedPolicy"]
PAGE_SIZE = 1000  # the API maximum: fewest pages
MAX_PAGES = 10_000  # a guard against a server that keeps answering with the same marker


@dataclass
class PolicyDoc:
    name: str
    arn: str
    document: dict[str, Any]
    aws_managed: bool


@dataclass
class AuthorizationDetails:
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, PolicyDoc] = field(default_factory=dict)
    pages: int = 0

    def attached_arns(self) -> set[str]:
        arns: set[str] = set()
        for entity in [*self.users, *self.roles, *self.groups.values()]:
            for attached in entity.get("AttachedManagedPolicies") or []:
                arns.add(attached["PolicyArn"])
        return arns


def default_document(policy: dict[str, Any]) -> dict[str, Any]:
    for version in policy.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion"):
            return _as_dict(version.get("Document"))
    return {}


def _as_dict(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    if isinstance(document, str):  # botocore decodes documents; be tolerant of a raw string anyway
        import json
        from urllib.parse import unquote

        try:
            parsed = json.loads(unquote(document))
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def fetch(aws: AccountSession, page_size: int = PAGE_SIZE) -> AuthorizationDetails:
    """Every user, group, role and customer-managed policy of the account, following ``Marker``."""
    details = AuthorizationDetails()
    params: dict[str, Any] = {"Filter": GAAD_FILTER, "MaxItems": page_size}
    while True:
        page = aws.call("iam", "get_account_authorization_details", **params)
        details.pages += 1
        details.users.extend(page.get("UserDetailList") or [])
        details.roles.extend(page.get("RoleDetailList") or [])
        for group in page.get("GroupDetailList") or []:
            details.groups[group["GroupName"]] = group
        for policy in page.get("Policies") or []:
            details.policies[policy["Arn"]] = PolicyDoc(
                # moto omits PolicyName here; AWS sends it. The ARN ends with the name either way.
                name=policy.get("PolicyName") or policy["Arn"].rsplit("/", 1)[-1],
                arn=policy["Arn"],
                document=default_document(policy),
                aws_managed=False,
            )
        marker = page.get("Marker")
        if not page.get("IsTruncated") or not marker:
            return details
        if marker == params.get("Marker") or details.pages >= MAX_PAGES:
            raise RuntimeError("GetAccountAuthorizationDetails returned the same Marker twice; stopping")
        params["Marker"] = marker


def is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


class ManagedPolicyCache:
    """AWS-managed policy documents, fetched once per process and shared by every account (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, PolicyDoc] = {}
        self._arn_locks: dict[str, threading.Lock] = {}

    def get(self, aws: AccountSession, arn: str) -> PolicyDoc:
        """The policy's default version; the first caller for an ARN fetches it, others wait for it."""
        with self._lock:
            if arn in self._docs:
                return self._docs[arn]
            arn_lock = self._arn_locks.setdefault(arn, threading.Lock())
        with arn_lock:
            with self._lock:
                if arn in self._docs:
                    return self._docs[arn]
            policy = aws.call("iam", "get_policy", PolicyArn=arn)["Policy"]
            version = aws.call("iam", "get_policy_version", PolicyArn=arn, VersionId=policy["DefaultVersionId"])
            doc = PolicyDoc(
                name=policy["PolicyName"],
                arn=arn,
                document=_as_dict(version["PolicyVersion"].get("Document")),
                aws_managed=True,
            )
            with self._lock:
                self._docs[arn] = doc
            return doc
