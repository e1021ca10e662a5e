"""Discover one GCP project: service accounts, user-managed keys, last authentication, IAM bindings.

Call budget per project (n accounts): ceil(n/100) ListServiceAccounts pages, n key listings (REST, for
the exposure fields the gRPC proto lacks), n service-account getIamPolicy calls, one project
getIamPolicy, ceil(activities/1000) Policy Analyzer pages per activity type — never one query per
account or key — and one workload identity pool listing plus one provider listing per active pool
(``federation``). Ancestor (folder/organisation) policies and other projects' pools are fetched once
per scan and shared.

Does I/O through ``GcpApi`` only and makes no verdicts; missing signals are reported on the scope.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from nhiwarden.model import Credential, Grant, Identity, Scope, ScopeResult
from nhiwarden.providers.base import CallLog
from nhiwarden.providers.gcp import federation as wif
from nhiwarden.providers.gcp.api import ApiFailure, GcpApi
from nhiwarden.providers.gcp.roles import IMPERSONATION_ROLES, classify, default_service_account, is_service_agent
from nhiwarden.redact import redact

USAGE_SOURCE = "gcp-policy-analyzer"
ACCOUNT_PAGE = 100
ACTIVITY_PAGE = 1000
NEVER = 9999
SA_ACTIVITY = "serviceAccountLastAuthentication"
KEY_ACTIVITY = "serviceAccountKeyLastAuthentication"
EXPOSURE = {
    "SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_EXPOSED": "exposed",
    "SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_COMPROMISE_DETECTED": "compromise-detected",
    "SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED": "exposed",
    "SERVICE_ACCOUNT_KEY_DISABLE_REASON_COMPROMISE_DETECTED": "compromise-detected",
}
KEY_ORIGIN = {"USER_PROVIDED": "uploaded", "GOOGLE_PROVIDED": "google-generated"}
IMPERSONATION_ON_ACCOUNT = {*IMPERSONATION_ROLES, "roles/owner", "roles/editor", "roles/iam.serviceAccountAdmin"}


@dataclass
class PolicySource:
    """A resource's IAM bindings: the project itself or an ancestor folder/organisation."""

    resource: str  # projects/P, folders/N, organizations/N
    bindings: list[dict[str, Any]]
    inherited: bool = False


class AncestorPolicies:
    """Folder/organisation policies, fetched once per scan however many projects share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, PolicySource | ApiFailure] = {}
        self._locks: dict[str, threading.Lock] = {}

    def get(self, api: GcpApi, calls: CallLog, resource: str) -> PolicySource | ApiFailure:
        with self._lock:
            lock = self._locks.setdefault(resource, threading.Lock())
        with lock:
            if resource not in self._cache:
                kind = "Folder" if resource.startswith("folders/") else "Organization"
                try:
                    policy = api.rest(
                        calls,
                        f"Get{kind}IamPolicy",
                        "POST",
                        f"{api.endpoints.resource_manager}/v3/{resource}:getIamPolicy",
                        body={"options": {"requestedPolicyVersion": 3}},
                    )
                    self._cache[resource] = PolicySource(resource, policy.get("bindings") or [], inherited=True)
                except ApiFailure as exc:
                    self._cache[resource] = exc
            return self._cache[resource]


@dataclass
class AccountDetails:
    keys: list[dict[str, Any]] | None = None
    keys_error: ApiFailure | None = None
    policy: list[dict[str, Any]] | None = None
    policy_error: ApiFailure | None = None
    gone: bool = False


@dataclass
class Usage:
    """Last authentication per account (by email and unique id) and per key id; None: unknown."""

    accounts: dict[str, datetime] | None = None
    keys: dict[str, datetime] | None = None


class ProjectDiscovery:
    def __init__(
        self,
        api: GcpApi,
        scope: Scope,
        result: ScopeResult,
        *,
        ancestors: AncestorPolicies,
        sa_quota: int,
        workers: int,
        foreign_pools: wif.ForeignPools | None = None,
    ) -> None:
        self.foreign_pools = foreign_pools or wif.ForeignPools()
        self.api = api
        self.project = scope.id
        self.scope = scope
        self.result = result
        self.calls = CallLog(result)
        self.ancestors = ancestors
        self.sa_quota = sa_quota
        self.workers = workers

    # --- the steps -------------------------------------------------------------------------------
    def run(self) -> None:
        accounts = self.list_accounts()
        self.result.attributes.update(
            {
                "project_id": self.project,
                "service_account_count": len(accounts),
                "service_account_quota": self.sa_quota,
            }
        )
        if self.scope.params.get("number"):
            self.result.attributes["project_number"] = self.scope.params["number"]
        if self.scope.params.get("ancestors"):
            self.result.attributes["ancestors"] = list(self.scope.params["ancestors"])
        policies = self.policies()
        usage = self.usage()
        details = self.account_details(accounts)
        pools = self.pools(details)
        self.result.identities = self.build(accounts, details, policies, usage, pools)

    def pools(self, details: dict[str, AccountDetails]) -> dict[str, wif.Pool]:
        """Every pool a service account's policy names, with its providers (see ``federation``)."""
        found = wif.list_project(self.api, self.calls, self.project)
        if found.error is not None:
            self.result.mark_partial(
                f"federation: workload identity pools unavailable ({_why(found.error)}); federation trusts unknown"
            )
            return {}
        self.result.attributes["workload_identity_pools"] = len(found.pools)
        pools = dict(found.pools)
        numbers = {name.split("/")[1] for name in pools}
        if self.scope.params.get("number"):
            numbers.add(str(self.scope.params["number"]))
        wanted = {
            name
            for d in details.values()
            for m in wif.federated_members(d.policy or [])
            if (name := wif.pool_of_member(m)) is not None
        }
        for name in sorted(wanted - set(pools)):
            if name.split("/")[1] in numbers or name.split("/")[1] == self.project:
                continue  # this project's pool that no longer exists: it grants nothing
            pools[name] = self.foreign_pools.get(self.api, self.calls, name)
        failed = [(n, p.error) for n, p in pools.items() if p.error is not None and p.error.code != 404]
        if failed:
            name, error = failed[0]
            self.result.mark_partial(
                f"federation: providers of {len(failed)} workload identity pool(s) unavailable ({name}: {_why(error)})"
            )
        return pools

    def list_accounts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = ""

        def page_of(client: Any) -> Any:
            return client.list_service_accounts(
                request={"name": f"projects/{self.project}", "page_size": ACCOUNT_PAGE, "page_token": token},
                retry=None,
                timeout=self.api.timeout,
            )

        while True:
            try:
                page = self.api.grpc(self.calls, "ListServiceAccounts", page_of)
            except ApiFailure as exc:
                raise exc.scope_error(f"cannot list service accounts of project {self.project}") from None
            for account in page.accounts:
                out.append(
                    {
                        "email": account.email,
                        "unique_id": account.unique_id,
                        "display_name": account.display_name,
                        "description": account.description,
                        "disabled": bool(account.disabled),
                        "name": account.name,
                    }
                )
            token = page.next_page_token
            if not token:
                return out

    def policies(self) -> list[PolicySource]:
        out: list[PolicySource] = []
        try:
            policy = self.api.rest(
                self.calls,
                "GetProjectIamPolicy",
                "POST",
                f"{self.api.endpoints.resource_manager}/v3/projects/{self.project}:getIamPolicy",
                body={"options": {"requestedPolicyVersion": 3}},
            )
            out.append(PolicySource(f"projects/{self.project}", policy.get("bindings") or []))
        except ApiFailure as exc:
            self.result.mark_partial(f"grants: project IAM policy unavailable ({_why(exc)})")
        for ancestor in self.scope.params.get("ancestors") or []:
            got = self.ancestors.get(self.api, self.calls, ancestor)
            if isinstance(got, ApiFailure):
                self.result.mark_partial(f"grants: inherited IAM policy of {ancestor} unavailable ({_why(got)})")
            else:
                out.append(got)
        return out

    def usage(self) -> Usage:
        usage = Usage()
        try:
            usage.accounts = self._activities(SA_ACTIVITY)
        except ApiFailure as exc:
            self.result.mark_partial(
                f"last-authentication: Policy Analyzer unavailable ({_why(exc)}); no usage verdicts"
            )
            return usage
        try:
            usage.keys = self._activities(KEY_ACTIVITY)
        except ApiFailure as exc:
            self.result.mark_partial(f"key last-authentication: Policy Analyzer unavailable ({_why(exc)})")
        return usage

    def _activities(self, activity_type: str) -> dict[str, datetime]:
        url = (
            f"{self.api.endpoints.policy_analyzer}/v1/projects/{self.project}/locations/global/"
            f"activityTypes/{activity_type}/activities:query"
        )
        found: dict[str, datetime] = {}
        for item in self.api.rest_pages(
            self.calls, f"QueryActivity:{activity_type}", url, {"pageSize": ACTIVITY_PAGE}, "activities"
        ):
            activity = item.get("activity") or {}
            when = parse_time(activity.get("lastAuthenticatedTime"))
            if when is None:
                continue
            name = str(item.get("fullResourceName") or "")
            detail = activity.get("serviceAccountKey") or activity.get("serviceAccount") or {}
            if activity_type == KEY_ACTIVITY:
                keys = [name.rsplit("/keys/", 1)[-1]] if "/keys/" in name else []
            else:
                tail = name.rsplit("/serviceAccounts/", 1)[-1]
                keys = [tail.lower()] + ([str(detail["serviceAccountId"])] if detail.get("serviceAccountId") else [])
            for k in keys:
                if k not in found or found[k] < when:
                    found[k] = when
        return found

    def account_details(self, accounts: list[dict[str, Any]]) -> dict[str, AccountDetails]:
        def one(account: dict[str, Any]) -> tuple[str, AccountDetails]:
            return account["email"], self._details(account)

        if not accounts:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(accounts)))) as pool:
            return dict(pool.map(one, accounts))

    def _details(self, account: dict[str, Any]) -> AccountDetails:
        details = AccountDetails()
        email = account["email"]
        try:
            listing = self.api.rest(
                self.calls,
                "ListServiceAccountKeys",
                "GET",
                f"{self.api.endpoints.iam}/v1/projects/{self.project}/serviceAccounts/{quote(email, safe='@')}/keys",
                params={"keyTypes": "USER_MANAGED"},
            )
            details.keys = list(listing.get("keys") or [])
        except ApiFailure as exc:
            if exc.code == 404:
                details.gone = True
                return details
            details.keys_error = exc
        try:
            policy = self.api.grpc(
                self.calls,
                "GetServiceAccountIamPolicy",
                lambda c: c.get_iam_policy(request={"resource": account["name"]}, retry=None, timeout=self.api.timeout),
            )
            details.policy = [{"role": b.role, "members": list(b.members)} for b in policy.bindings]
        except ApiFailure as exc:
            if exc.code == 404:
                details.gone = True
            else:
                details.policy_error = exc
        return details

    # --- the model ---------------------------------------------------------------------------------
    def build(
        self,
        accounts: list[dict[str, Any]],
        details: dict[str, AccountDetails],
        policies: list[PolicySource],
        usage: Usage,
        pools: dict[str, wif.Pool] | None = None,
    ) -> list[Identity]:
        identities: dict[str, Identity] = {}
        key_errors: list[str] = []
        policy_errors: list[str] = []
        gone: list[str] = []
        for account in accounts:
            email = account["email"]
            d = details.get(email, AccountDetails())
            if d.gone:
                gone.append(email)
                continue
            identity = self._identity(account, d, usage)
            identity.trusts = wif.trusts_for(pools or {}, wif.federated_members(d.policy or []))
            if d.keys_error is not None:
                key_errors.append(f"{email}: {_why(d.keys_error)}")
            if d.policy_error is not None:
                policy_errors.append(f"{email}: {_why(d.policy_error)}")
            identities[email.lower()] = identity
        if key_errors:
            self.result.mark_partial(f"keys: not listed for {len(key_errors)} account(s) ({key_errors[0]})")
        if policy_errors:
            self.result.mark_partial(
                f"impersonators: account IAM policy unavailable for {len(policy_errors)} account(s) "
                f"({policy_errors[0]})"
            )
        if gone:
            self.result.skipped.append(f"{len(gone)} service account(s) deleted during the scan")
        self._grants(identities, policies, {g.lower() for g in gone})
        return sorted(identities.values(), key=lambda i: i.uid)

    def _identity(self, account: dict[str, Any], d: AccountDetails, usage: Usage) -> Identity:
        email = account["email"]
        uid = f"gcp:{self.project}:sa/{email}"
        known = usage.accounts is not None
        last_used = None
        if usage.accounts is not None:
            last_used = usage.accounts.get(email.lower()) or usage.accounts.get(str(account["unique_id"]))
        impersonators = None
        if d.policy is not None:
            impersonators = [
                {"member": m, "role": b["role"]}
                for b in d.policy
                if b["role"] in IMPERSONATION_ON_ACCOUNT
                for m in b["members"]
            ]
        identity = Identity(
            uid=uid,
            provider="gcp",
            kind="gcp-service-account",
            scope=self.project,
            name=email,
            enabled=not account["disabled"],
            last_used_at=last_used,
            last_used_source=USAGE_SOURCE if known else None,
            system=False,
            attributes={
                "email": email,
                "unique_id": str(account["unique_id"]),
                "display_name": redact(account["display_name"]),
                "description": redact(account["description"]),
                "default_service_account": default_service_account(email, self.project),
                "impersonators": impersonators,
                "keys_listed": d.keys is not None,
            },
        )
        for key in d.keys or []:
            identity.credentials.append(self._credential(uid, key, identity.enabled, usage))
        return identity

    def _credential(self, owner_uid: str, key: dict[str, Any], account_enabled: bool, usage: Usage) -> Credential:
        key_id = str(key.get("name", "")).rsplit("/", 1)[-1]
        expires = parse_time(key.get("validBeforeTime"))
        if expires is not None and expires.year >= NEVER:
            expires = None
        statuses = [str(s.get("key", "")) for s in key.get("extendedStatus") or [] if isinstance(s, dict)]
        reason = key.get("disableReason")
        exposure = next((EXPOSURE[s] for s in [*statuses, str(reason or "")] if s in EXPOSURE), None)
        locations = [
            redact(s["value"])
            for s in key.get("extendedStatus") or []
            if isinstance(s, dict) and s.get("value") and str(s.get("key", "")) in EXPOSURE
        ]
        key_disabled = bool(key.get("disabled"))
        return Credential(
            uid=f"{owner_uid}:key/{key_id}",
            kind="gcp-sa-key",
            id=key_id,
            created_at=parse_time(key.get("validAfterTime")),
            expires_at=expires,
            last_used_at=usage.keys.get(key_id) if usage.keys is not None else None,
            last_used_source=USAGE_SOURCE if usage.keys is not None else None,
            enabled=not key_disabled and account_enabled,
            static=key.get("keyType", "USER_MANAGED") == "USER_MANAGED",
            locations=locations,
            attributes={
                "key_type": key.get("keyType"),
                "key_origin": KEY_ORIGIN.get(str(key.get("keyOrigin")), key.get("keyOrigin")),
                "key_algorithm": key.get("keyAlgorithm"),
                "key_disabled": key_disabled,
                "disable_reason": reason,
                "extended_status": statuses,
                "exposure": exposure,
            },
        )

    def _grants(self, identities: dict[str, Identity], policies: list[PolicySource], gone: set[str]) -> None:
        foreign: set[str] = set()
        for source in policies:
            for binding in source.bindings:
                role = str(binding.get("role", ""))
                condition = binding.get("condition") or None
                for member in binding.get("members") or []:
                    if not str(member).startswith("serviceAccount:"):
                        continue
                    email = str(member).split(":", 1)[1].lower()
                    identity = identities.get(email)
                    if identity is None:
                        if source.inherited or email in gone:
                            continue  # another project's account: judged with its own project
                        if is_service_agent(email):
                            identity = identities[email] = self._service_agent(email)
                        else:
                            foreign.add(email)
                            continue
                    identity.grants.append(_grant(role, source, condition))
        if foreign:
            self.result.skipped.append(
                f"{len(foreign)} service account(s) of other projects hold roles here (judged with their own project)"
            )

    def _service_agent(self, email: str) -> Identity:
        return Identity(
            uid=f"gcp:{self.project}:sa/{email}",
            provider="gcp",
            kind="gcp-service-account",
            scope=self.project,
            name=email,
            system=True,
            attributes={"email": email, "google_managed": True, "default_service_account": None},
        )


def _grant(role: str, source: PolicySource, condition: dict[str, Any] | None) -> Grant:
    cls = classify(role, source.resource)
    reason = cls.reason
    if condition:
        reason += f" (conditional: {redact(condition.get('title') or condition.get('expression') or '')})"
    kind = source.resource.split("/", 1)[0].rstrip("s")
    kind = {"organization": "organization", "folder": "folder", "project": "project"}.get(kind, kind)
    controls = list(cls.controls)
    return Grant(
        privilege=cls.privilege,
        source=role,
        source_kind=f"{kind}-iam-binding",
        via=f"inherited from {source.resource}" if source.inherited else None,
        resource_scope=source.resource,
        reason=reason,
        permissions=list(cls.permissions),
        controls=controls,
    )


def _why(exc: ApiFailure) -> str:
    if exc.service_disabled:
        return "API not enabled in the project"
    if exc.code == 403:
        return f"permission denied: {redact(exc.message)[:160]}"
    return redact(str(exc))[:200]


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 from Google (``Z``, up to nanoseconds) to an aware datetime; None when absent/invalid."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def run(
    api: GcpApi,
    scope: Scope,
    result: ScopeResult,
    *,
    ancestors: AncestorPolicies,
    sa_quota: int,
    workers: int,
    foreign_pools: wif.ForeignPools | None = None,
) -> None:
    ProjectDiscovery(
        api, scope, result, ancestors=ancestors, sa_quota=sa_quota, workers=workers, foreign_pools=foreign_pools
    ).run()
