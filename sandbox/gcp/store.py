"""The fake GCP estate held in memory: organisation, folders, projects, service accounts, keys, policies.

Both fake servers (gRPC IAM admin and the REST APIs) read this one store, so a seeded estate looks the
same through every API. It also owns the request log and fault injection the tests assert on. It never
returns a key's private material through any listing, exactly like Google.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NEVER_EXPIRES = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Binding:
    role: str
    members: list[str]
    condition: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "members": list(self.members)}
        if self.condition:
            out["condition"] = dict(self.condition)
        return out


@dataclass
class Key:
    key_id: str
    created: datetime
    expires: datetime = NEVER_EXPIRES
    key_type: str = "USER_MANAGED"  # or SYSTEM_MANAGED
    origin: str = "GOOGLE_PROVIDED"  # or USER_PROVIDED (uploaded)
    algorithm: str = "KEY_ALG_RSA_2048"
    disabled: bool = False
    disable_reason: str | None = None  # SERVICE_ACCOUNT_KEY_DISABLE_REASON_*
    extended_status: list[str] = field(default_factory=list)  # SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_*
    last_authenticated: datetime | None = None
    private_key_data: str | None = None  # held by the fake only, never listed
    public_key_pem: str | None = None  # set for keys that sign JWTs the token endpoint must accept


@dataclass
class ServiceAccount:
    email: str
    unique_id: str
    display_name: str = ""
    description: str = ""
    disabled: bool = False
    keys: list[Key] = field(default_factory=list)
    policy: list[Binding] = field(default_factory=list)  # who may act as / impersonate this account
    last_authenticated: datetime | None = None
    policy_version: int = 0  # bumped by every setIamPolicy; the etag is derived from it

    @property
    def etag(self) -> str:
        """The policy's etag: opaque base64 like Google's, changing with every write."""
        return base64.b64encode(f"BwY{self.policy_version:08d}".encode()).decode()


@dataclass
class WorkloadIdentityPoolProvider:
    """``projects.locations.workloadIdentityPools.providers``: an external issuer a pool trusts."""

    provider_id: str
    display_name: str = ""
    description: str = ""
    disabled: bool = False
    state: str = "ACTIVE"  # ACTIVE | DELETED (soft-deleted for 30 days, then purged)
    expire_time: datetime | None = None
    attribute_mapping: dict[str, str] = field(default_factory=dict)
    attribute_condition: str | None = None
    oidc: dict[str, Any] | None = None  # issuerUri, allowedAudiences, jwksJson
    aws: dict[str, Any] | None = None  # accountId
    saml: dict[str, Any] | None = None  # idpMetadataXml


@dataclass
class WorkloadIdentityPool:
    """``projects.locations.workloadIdentityPools``; its providers keyed by provider id."""

    pool_id: str
    display_name: str = ""
    description: str = ""
    disabled: bool = False
    state: str = "ACTIVE"
    expire_time: datetime | None = None
    providers: dict[str, WorkloadIdentityPoolProvider] = field(default_factory=dict)

    def add(self, provider: WorkloadIdentityPoolProvider) -> WorkloadIdentityPoolProvider:
        self.providers[provider.provider_id] = provider
        return provider


@dataclass
class Project:
    project_id: str
    number: str
    parent: str  # organizations/N or folders/N
    display_name: str = ""
    state: str = "ACTIVE"
    accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    denied: bool = False  # the scanner may see the project but not its IAM
    policy_analyzer: str = "enabled"  # enabled | disabled | denied
    pools: dict[str, WorkloadIdentityPool] = field(default_factory=dict)
    pools_denied: bool = False  # the scanner may read service accounts but not workload identity pools

    def add(self, account: ServiceAccount) -> ServiceAccount:
        self.accounts[account.email] = account
        return account

    def add_pool(self, pool: WorkloadIdentityPool) -> WorkloadIdentityPool:
        self.pools[pool.pool_id] = pool
        return pool

    def pool_name(self, pool_id: str) -> str:
        """Google names pools by project number, whichever of id or number the request used."""
        return f"projects/{self.number}/locations/global/workloadIdentityPools/{pool_id}"


@dataclass
class Folder:
    number: str
    parent: str
    display_name: str
    state: str = "ACTIVE"
    bindings: list[Binding] = field(default_factory=list)


@dataclass
class Fault:
    """Answer the next ``times`` requests whose target contains ``target`` with ``status``.

    ``target`` is matched against a REST path or a gRPC method name (e.g. ``ListServiceAccounts``).
    """

    target: str
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass
class LoggedRequest:
    api: str  # rest | grpc | token
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    authenticated: bool


class Store:
    """Thread-safe in-memory estate plus request log and pending faults."""

    def __init__(self, page_size: int = 2, activity_page_size: int = 2) -> None:
        self.lock = threading.RLock()
        self.organization: str | None = None  # organizations/N
        self.org_bindings: list[Binding] = []
        self.folders: dict[str, Folder] = {}  # folders/N -> Folder
        self.projects: dict[str, Project] = {}  # project id -> Project
        self.page_size = page_size
        self.activity_page_size = activity_page_size
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self.tokens: set[str] = set()
        self.signers: dict[str, str] = {}  # private key id -> public PEM of service accounts we trust
        self.canaries: list[str] = []

    # --- seeding -----------------------------------------------------------------------------
    def add_project(self, project: Project) -> Project:
        with self.lock:
            self.projects[project.project_id] = project
        return project

    def add_folder(self, folder: Folder) -> Folder:
        with self.lock:
            self.folders[f"folders/{folder.number}"] = folder
        return folder

    def project(self, ref: str) -> Project | None:
        """A project by id or number (APIs accept both)."""
        with self.lock:
            if ref in self.projects:
                return self.projects[ref]
            return next((p for p in self.projects.values() if p.number == ref), None)

    def inject(self, target: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        with self.lock:
            self.faults.append(Fault(target, status, times, retry_after))

    def take_fault(self, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.target in target and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def record(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.log.append(entry)

    def requests(self, api: str | None = None, contains: str = "") -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.log if (api is None or r.api == api) and contains in r.path]

    def find_account(self, project_ref: str, account_ref: str) -> tuple[Project, ServiceAccount] | None:
        """An account by email or unique id; ``project_ref`` may be an id, a number or ``-`` (any project)."""
        with self.lock:
            projects = (
                list(self.projects.values()) if project_ref == "-" else [p for p in [self.project(project_ref)] if p]
            )
            for project in projects:
                account = project.accounts.get(account_ref) or next(
                    (a for a in project.accounts.values() if a.unique_id == account_ref), None
                )
                if account is not None:
                    return project, account
        return None

    def signer_certs(self) -> dict[str, str]:
        """Public keys whose JWTs are accepted: the scanner's, and every enabled key of an enabled account."""
        with self.lock:
            certs = dict(self.signers)
            for project in self.projects.values():
                for account in project.accounts.values():
                    if account.disabled:
                        continue
                    for key in account.keys:
                        if key.public_key_pem and not key.disabled:
                            certs[key.key_id] = key.public_key_pem
        return certs

    def key_owner(self, key_id: str) -> tuple[ServiceAccount, Key] | None:
        with self.lock:
            for project in self.projects.values():
                for account in project.accounts.values():
                    for key in account.keys:
                        if key.key_id == key_id:
                            return account, key
        return None

    def token_valid(self, token: str) -> bool:
        """An access token we issued, or a self-signed JWT of a known key (GAPIC clients send those)."""
        with self.lock:
            if token in self.tokens:
                return True
        signers = self.signer_certs()
        if token.count(".") != 2 or not signers:
            return False
        from google.auth import exceptions, jwt

        try:
            jwt.decode(token, certs=signers, verify=True)  # type: ignore[no-untyped-call]
        except (ValueError, exceptions.GoogleAuthError):
            return False
        return True

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def page_offset(token: str | None) -> int | None:
    """Offset encoded in a page token; 0 for none; None for a token this server never issued."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return int(json.loads(raw)["o"])
    except (ValueError, KeyError, TypeError):
        return None


def paginate(items: list[Any], token: str | None, requested: int, cap: int) -> tuple[list[Any], str] | None:
    """One page and the next token ('' at the end); None when the token is invalid."""
    offset = page_offset(token)
    if offset is None:
        return None
    size = min(requested, cap) if requested > 0 else cap
    chunk = items[offset : offset + size]
    nxt = page_token(offset + size) if offset + size < len(items) else ""
    return chunk, nxt
