"""The GCP provider: settings, declared permissions, scope listing (one scope per project) and discovery.

Projects come from ``projects`` or from a Resource Manager search under ``organization`` / ``folder``
(ACTIVE projects only). Credentials: ``credentials`` (a key/credentials JSON file) or Application
Default Credentials. Never imports a Google SDK at import time; never writes anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from nhiwarden.errors import ScopeError, UsageError
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.base import DoctorCheck, Permission, Provider, ProviderSettings
from pydantic import Field, field_validator


class GcpSettings(ProviderSettings):
    projects: list[str] = Field(default_factory=list, description="Project ids to scan.")
    organization: str | None = Field(
        default=None,
        description="Scan every ACTIVE project under this organisation (id or organizations/ID), "
        "including inherited folder/organisation IAM bindings.",
    )
    folder: str | None = Field(
        default=None, description="Scan every ACTIVE project under this folder (id or folders/ID)."
    )
    credentials: str | None = Field(
        default=None,
        description="Service-account key or credentials JSON file; default: Application Default Credentials.",
    )
    sa_quota: int = Field(
        default=100, ge=1, description="Service-account quota per project (gcp-service-account-quota)."
    )
    concurrency: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Parallel per-account calls within one project.",
        json_schema_extra={"flag": None},
    )
    iam_grpc_endpoint: str | None = Field(
        default=None,
        description="host:port of a plaintext IAM gRPC endpoint (local fakes only).",
        json_schema_extra={"flag": None},
    )
    rest_endpoint: str | None = Field(
        default=None,
        description="Base URL serving the IAM, Policy Analyzer and Resource Manager REST APIs (local fakes).",
        json_schema_extra={"flag": None},
    )

    @field_validator("organization")
    @classmethod
    def _org(cls, v: str | None) -> str | None:
        return _normalize(v, "organizations")

    @field_validator("folder")
    @classmethod
    def _folder(cls, v: str | None) -> str | None:
        return _normalize(v, "folders")

    @field_validator("projects", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v


def _normalize(value: str | None, kind: str) -> str | None:
    if not value:
        return None
    value = value.strip()
    ident = value.split("/", 1)[1] if value.startswith(f"{kind}/") else value
    if not ident.isdigit():
        raise ValueError(f"expected a numeric id or {kind}/ID, got {value!r}")
    return f"{kind}/{ident}"


PERMISSIONS = (
    Permission("iam.serviceAccounts.list", "list the service accounts of each project"),
    Permission("iam.serviceAccountKeys.list", "list user-managed keys with age, expiry and exposure status"),
    Permission("iam.serviceAccounts.getIamPolicy", "see who may impersonate each service account"),
    Permission("resourcemanager.projects.getIamPolicy", "find roles granted to service accounts on the project"),
    Permission(
        "iam.workloadIdentityPools.list",
        "list workload identity pools (federation trusts of service accounts)",
        optional=True,
    ),
    Permission(
        "iam.workloadIdentityPoolProviders.list",
        "read each pool provider's issuer, audiences and attributeCondition (federation-trust-too-broad)",
        optional=True,
    ),
    Permission(
        "policyanalyzer.serviceAccountLastAuthenticationActivities.query",
        "last authentication per service account (unused/dormant verdicts)",
        optional=True,
    ),
    Permission(
        "policyanalyzer.serviceAccountKeyLastAuthenticationActivities.query",
        "last authentication per key (unused-key verdicts)",
        optional=True,
    ),
    Permission(
        "resourcemanager.projects.get", "find the projects under --gcp-organization/--gcp-folder", optional=True
    ),
    Permission("resourcemanager.folders.get", "resolve the folder tree under the organisation", optional=True),
    Permission("resourcemanager.folders.getIamPolicy", "roles inherited from folders", optional=True),
    Permission("resourcemanager.organizations.getIamPolicy", "roles inherited from the organisation", optional=True),
)


class GcpProvider(Provider):
    name: ClassVar[str] = "gcp"
    title: ClassVar[str] = "Google Cloud (service accounts and keys)"
    Settings: ClassVar[type[ProviderSettings]] = GcpSettings
    permissions: ClassVar[tuple[Permission, ...]] = PERMISSIONS

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        as_of: datetime,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, as_of=as_of)
        self.sleep = sleep
        self._api: Any = None
        self._ancestors: Any = None
        self._foreign_pools: Any = None
        self._lock = threading.Lock()
        self.listing_calls: dict[str, int] = {}

    @property
    def config(self) -> GcpSettings:
        assert isinstance(self.settings, GcpSettings)
        return self.settings

    def api(self) -> Any:
        from nhiwarden.providers.gcp.api import GcpApi
        from nhiwarden.providers.gcp.discovery import AncestorPolicies
        from nhiwarden.providers.gcp.federation import ForeignPools

        with self._lock:
            if self._api is None:
                s = self.config
                self._api = GcpApi(
                    credentials_file=s.credentials,
                    grpc_endpoint=s.iam_grpc_endpoint,
                    rest_endpoint=s.rest_endpoint,
                    sleep=self.sleep,
                )
                self._ancestors = AncestorPolicies()
                self._foreign_pools = ForeignPools()
            return self._api

    def scopes(self) -> list[Scope]:
        s = self.config
        if s.organization or s.folder:
            found = self._search(s.organization or s.folder or "")
            if s.projects:
                wanted = set(s.projects)
                found = [p for p in found if p.id in wanted]
            return found
        if s.projects:
            return [Scope(provider="gcp", id=p, name=p) for p in s.projects]
        api = self.api()
        api.credentials()
        if api.default_project:
            return [Scope(provider="gcp", id=api.default_project, name=api.default_project)]
        raise UsageError(
            "gcp: no project to scan: set --gcp-projects, --gcp-organization or --gcp-folder "
            "(or a default project in Application Default Credentials)"
        )

    def _search(self, root: str) -> list[Scope]:
        """ACTIVE projects anywhere under ``root``, with their folder/organisation ancestry."""
        from nhiwarden.providers.gcp.api import ApiFailure

        api = self.api()
        base = api.endpoints.resource_manager
        tally = ScopeResult(provider="gcp", scope=root)
        from nhiwarden.providers.base import CallLog

        calls = CallLog(tally)
        try:
            folders = {
                f["name"]: str(f.get("parent", ""))
                for f in api.rest_pages(
                    calls, "SearchFolders", f"{base}/v3/folders:search", {"query": "state:ACTIVE"}, "folders"
                )
            }
            projects = list(
                api.rest_pages(
                    calls, "SearchProjects", f"{base}/v3/projects:search", {"query": "state:ACTIVE"}, "projects"
                )
            )
        except ApiFailure as exc:
            raise exc.scope_error(f"cannot search projects under {root}") from None
        finally:
            self.listing_calls = dict(tally.api_calls)
        scopes = []
        for project in projects:
            if project.get("state", "ACTIVE") != "ACTIVE":
                continue
            chain = _ancestry(str(project.get("parent", "")), folders)
            if root not in chain:
                continue
            number = str(project.get("name", "")).split("/", 1)[-1]
            pid = str(project.get("projectId") or number)
            scopes.append(
                Scope(
                    provider="gcp",
                    id=pid,
                    name=str(project.get("displayName") or pid),
                    params={
                        "number": number,
                        "ancestors": chain if self.config.organization or self.config.folder else [],
                    },
                )
            )
        return sorted(scopes, key=lambda sc: sc.id)

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        from nhiwarden.providers.gcp import discovery

        api = self.api()
        discovery.run(
            api,
            scope,
            result,
            ancestors=self._ancestors,
            sa_quota=self.config.sa_quota,
            workers=self.config.concurrency,
            foreign_pools=self._foreign_pools,
        )

    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        from nhiwarden.providers.gcp.api import ApiFailure

        api = self.api()
        checks: list[DoctorCheck] = []
        project = scope.id

        def probe(name: str, fn: Callable[[], Any]) -> None:
            try:
                fn()
                checks.append(DoctorCheck(scope=project, check=name, ok=True))
            except (ApiFailure, ScopeError) as exc:
                checks.append(DoctorCheck(scope=project, check=name, ok=False, detail=str(exc)))

        probe("credentials", api.credentials)
        probe(
            "iam.serviceAccounts.list",
            lambda: api.grpc(
                None,
                "ListServiceAccounts",
                lambda c: c.list_service_accounts(
                    request={"name": f"projects/{project}", "page_size": 1}, retry=None, timeout=api.timeout
                ),
            ),
        )
        probe(
            "resourcemanager.projects.getIamPolicy",
            lambda: api.rest(
                None,
                "GetProjectIamPolicy",
                "POST",
                f"{api.endpoints.resource_manager}/v3/projects/{project}:getIamPolicy",
                body={"options": {"requestedPolicyVersion": 3}},
            ),
        )
        probe(
            "iam.workloadIdentityPools.list",
            lambda: api.rest(
                None,
                "ListWorkloadIdentityPools",
                "GET",
                f"{api.endpoints.iam}/v1/projects/{project}/locations/global/workloadIdentityPools",
                params={"pageSize": 1},
            ),
        )
        probe(
            "policyanalyzer.serviceAccountLastAuthenticationActivities.query",
            lambda: api.rest(
                None,
                "QueryActivity",
                "GET",
                f"{api.endpoints.policy_analyzer}/v1/projects/{project}/locations/global/activityTypes/"
                "serviceAccountLastAuthentication/activities:query",
                params={"pageSize": 1},
            ),
        )
        return checks

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None


def _ancestry(parent: str, folders: dict[str, str]) -> list[str]:
    """``[folders/child, folders/parent, ..., organizations/N]`` from a project's parent up."""
    chain: list[str] = []
    current = parent
    while current and current not in chain:
        chain.append(current)
        if not current.startswith("folders/"):
            break
        current = folders.get(current, "")
    return chain
