"""Workload Identity Federation discovery: pools and providers, and the trusts they give service accounts.

Per project: one paged ``workloadIdentityPools`` listing, then one paged ``providers`` listing per
ACTIVE pool. A service account's own IAM policy names the pools that may impersonate it
(``roles/iam.workloadIdentityUser`` / ``roles/iam.serviceAccountTokenCreator`` granted to
``principal://`` / ``principalSet://`` members); each such member becomes one ``FederationTrust`` per
provider of its pool (``trust.trust_for_member``). A pool of another project is fetched once per scan
(``ForeignPools``). An unreadable pool API makes the scope partial (``federation: ...``), never an
error. Does I/O through ``GcpApi`` only and makes no verdicts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from nhiwarden.model import FederationTrust
from nhiwarden.providers.base import CallLog
from nhiwarden.providers.gcp.api import ApiFailure, GcpApi
from nhiwarden.providers.gcp.trust import trust_for_member

POOL_PAGE = 1000  # Google's maximum for workloadIdentityPools.list
PROVIDER_PAGE = 100  # and for providers.list
FEDERATED_ROLES = frozenset({"roles/iam.workloadIdentityUser", "roles/iam.serviceAccountTokenCreator"})
_SCHEMES = ("principal://iam.googleapis.com/", "principalSet://iam.googleapis.com/")


@dataclass
class Pool:
    name: str  # projects/N/locations/global/workloadIdentityPools/P
    disabled: bool = False
    state: str = "ACTIVE"
    providers: list[dict[str, Any]] | None = None  # None: could not be listed
    error: ApiFailure | None = None


@dataclass
class Federation:
    """The pools one project's service accounts may be impersonated from, by pool name."""

    pools: dict[str, Pool] = field(default_factory=dict)
    listed: bool = False  # the project's pool listing succeeded
    error: ApiFailure | None = None


def pool_of_member(member: str) -> str | None:
    """``projects/N/locations/global/workloadIdentityPools/P`` named by a principal(Set) member, else None."""
    for scheme in _SCHEMES:
        if member.startswith(scheme):
            parts = member[len(scheme) :].split("/")
            if len(parts) >= 6 and parts[0] == "projects" and parts[4] == "workloadIdentityPools":
                return "/".join(parts[:6])
    return None


def _providers(api: GcpApi, calls: CallLog, pool: str) -> list[dict[str, Any]]:
    return list(
        api.rest_pages(
            calls,
            "ListWorkloadIdentityPoolProviders",
            f"{api.endpoints.iam}/v1/{pool}/providers",
            {"pageSize": PROVIDER_PAGE},
            "workloadIdentityPoolProviders",
        )
    )


def list_project(api: GcpApi, calls: CallLog, project: str) -> Federation:
    """The project's ACTIVE pools, each with its ACTIVE providers (deleted ones are not listed)."""
    federation = Federation()
    try:
        raw = list(
            api.rest_pages(
                calls,
                "ListWorkloadIdentityPools",
                f"{api.endpoints.iam}/v1/projects/{project}/locations/global/workloadIdentityPools",
                {"pageSize": POOL_PAGE},
                "workloadIdentityPools",
            )
        )
    except ApiFailure as exc:
        federation.error = exc
        return federation
    federation.listed = True
    for item in raw:
        name = str(item.get("name") or "")
        pool = Pool(name, disabled=bool(item.get("disabled")), state=str(item.get("state") or "ACTIVE"))
        federation.pools[name] = pool
        if pool.state != "ACTIVE":
            pool.providers = []
            continue
        try:
            pool.providers = _providers(api, calls, name)
        except ApiFailure as exc:
            pool.error = exc
    return federation


class ForeignPools:
    """Pools of other projects named in service-account policies: providers listed once per scan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, Pool] = {}

    def get(self, api: GcpApi, calls: CallLog, name: str) -> Pool:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._cache:
                pool = Pool(name)
                try:
                    pool.providers = _providers(api, calls, name)
                except ApiFailure as exc:
                    pool.error = exc
                self._cache[name] = pool
            return self._cache[name]


def trusts_for(pools: dict[str, Pool], members: list[str]) -> list[FederationTrust]:
    """One trust per (member, provider of the member's pool); a disabled pool disables its trusts."""
    out: list[FederationTrust] = []
    for member in members:
        name = pool_of_member(member)
        pool = pools.get(name or "")
        if pool is None or not pool.providers:
            continue
        for provider in pool.providers:
            trust = trust_for_member(provider, member)
            if trust is None:
                continue
            if pool.disabled or pool.state != "ACTIVE":
                trust.attributes["disabled"] = True
                trust.attributes["pool_disabled"] = True
            out.append(trust)
    return out


def federated_members(policy: list[dict[str, Any]]) -> list[str]:
    """Pool principals granted a role that lets them obtain the account's tokens, in policy order."""
    seen: list[str] = []
    for binding in policy:
        if binding.get("role") not in FEDERATED_ROLES:
            continue
        for member in binding.get("members") or []:
            if pool_of_member(str(member)) is not None and member not in seen:
                seen.append(str(member))
    return seen
