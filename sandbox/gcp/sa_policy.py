"""A service account's own IAM policy (who may act as it), read and written like Google's IAM v1 does.

``getIamPolicy`` / ``setIamPolicy`` on ``projects/{p}/serviceAccounts/{email}`` for the REST server (and
the same read-modify-write rules for gRPC): the ``etag`` changes with every write, a ``setIamPolicy``
carrying a stale etag fails with 409 ABORTED, members must be well-formed principals, conditional
bindings need version 3. Never accepts an unknown member type silently.
"""

from __future__ import annotations

import re
from typing import Any

from nhiwarden.sandbox.gcp.errors import ApiError, not_found, permission_denied
from nhiwarden.sandbox.gcp.store import Binding, ServiceAccount, Store

SA_POLICY = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<account>[^/:]+):(?P<verb>getIamPolicy|setIamPolicy)$"
)
_MEMBER = re.compile(
    r"^(?:allUsers|allAuthenticatedUsers"
    r"|(?:user|group|serviceAccount|domain|deleted:user|deleted:group|deleted:serviceAccount):[^\s]+"
    r"|principal://iam\.googleapis\.com/\S+"
    r"|principalSet://iam\.googleapis\.com/\S+)$"
)
_ROLE = re.compile(r"^(?:roles/[A-Za-z0-9_.]+|(?:projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+)$")
CONCURRENT = "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."


def matches(path: str) -> bool:
    return SA_POLICY.match(path) is not None


def route(store: Store, path: str, body: Any) -> dict[str, Any]:
    m = SA_POLICY.match(path)
    assert m is not None
    body = body if isinstance(body, dict) else {}
    if m["verb"] == "getIamPolicy":
        account = _account(store, m["project"], m["account"], "iam.serviceAccounts.getIamPolicy")
        with store.lock:
            return policy_json(account)
    account = _account(store, m["project"], m["account"], "iam.serviceAccounts.setIamPolicy")
    return set_policy(store, account, body.get("policy"))


def _account(store: Store, project_ref: str, account_ref: str, permission: str) -> ServiceAccount:
    project = store.project(project_ref) if project_ref != "-" else None
    if project_ref != "-" and (project is None or project.denied):
        raise permission_denied(permission, f"projects/{project_ref}/serviceAccounts/{account_ref}")
    found = store.find_account(project_ref, account_ref)
    if found is None:
        raise not_found(f"Service account projects/{project_ref}/serviceAccounts/{account_ref} does not exist.")
    return found[1]


def policy_json(account: ServiceAccount) -> dict[str, Any]:
    conditional = any(b.condition for b in account.policy)
    out: dict[str, Any] = {"version": 3 if conditional else 1, "etag": account.etag}
    if account.policy:
        out["bindings"] = [b.to_json() for b in account.policy]
    return out


def set_policy(store: Store, account: ServiceAccount, policy: Any) -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise ApiError(400, "Invalid JSON payload: 'policy' is required.")
    bindings: list[Binding] = []
    for raw in policy.get("bindings") or []:
        role = str(raw.get("role") or "")
        if not _ROLE.match(role):
            raise ApiError(400, f"Role {role} is not supported for this resource.")
        members = [str(m) for m in raw.get("members") or []]
        for member in members:
            if not _MEMBER.match(member):
                raise ApiError(400, f"Invalid principal: {member}")
        condition = raw.get("condition")
        if condition and int(policy.get("version") or 1) < 3:
            raise ApiError(400, "Conditional role bindings require policy version 3.")
        if members:
            bindings.append(Binding(role, members, dict(condition) if condition else None))
    with store.lock:
        etag = policy.get("etag")
        if etag is not None and etag != account.etag:
            raise ApiError(409, CONCURRENT, status_name="ABORTED")
        account.policy = bindings
        account.policy_version += 1
        return policy_json(account)
