"""The Azure provider: one tenant scope (Microsoft Graph) plus one scope per subscription (ARM).

Every identity lives in the tenant scope, keyed ``azure:<tenant>:sp/<appId>``. ARM data (role
assignments at or above each subscription, user-assigned managed identities and their federated
credentials) is read once per subscription through a shared, memoized fetch: whichever scope asks first
reads it, the other waits for the same result. A subscription scope reports that read's status (``error``
when it was denied) and its API calls; the tenant scope joins the grants onto its identities and marks
itself ``partial`` for each subscription it could not read. Never writes, never judges.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from nhiwarden import ratelimit
from nhiwarden.errors import ScopeError
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.base import CallLog, DoctorCheck, Permission, Provider, ProviderSettings
from nhiwarden.redact import redact
from pydantic import Field

if TYPE_CHECKING:
    from nhiwarden.providers.azure.arm import ArmReader, SubscriptionData
    from nhiwarden.providers.azure.graph import GraphClient

CredentialKind = Literal["default", "client-secret", "environment", "cli", "managed-identity", "workload-identity"]


class AzureSettings(ProviderSettings):
    tenant: str | None = Field(
        default=None,
        description="Entra tenant id to scan (default: the tenant of the credential's token).",
    )
    subscriptions: list[str] = Field(
        default_factory=list,
        description="Subscription ids to read ARM role assignments and managed identities from "
        "(default: every subscription the credential can see).",
    )
    credential: CredentialKind = Field(
        default="default",
        description="azure-identity credential: default (DefaultAzureCredential), client-secret "
        "(AZURE_CLIENT_ID/AZURE_CLIENT_SECRET), environment, cli, managed-identity, workload-identity.",
    )
    client_id: str | None = Field(
        default=None,
        description="Client id for client-secret, workload-identity or a user-assigned managed identity "
        "(default: AZURE_CLIENT_ID).",
    )
    sign_in_activity: bool = Field(
        default=True,
        description="Read last use from the beta sign-in activity reports (needs Entra ID P1/P2).",
    )
    authority_host: str | None = Field(
        default=None,
        description="Token authority, e.g. https://login.microsoftonline.us (sovereign clouds, sandbox).",
        json_schema_extra={"flag": None},
    )
    graph_endpoint: str = Field(
        default="https://graph.microsoft.com",
        description="Microsoft Graph base URL.",
        json_schema_extra={"flag": None},
    )
    arm_endpoint: str = Field(
        default="https://management.azure.com",
        description="Azure Resource Manager base URL.",
        json_schema_extra={"flag": None},
    )
    ca_bundle: str | None = Field(
        default=None,
        description="PEM bundle of CAs to trust for every Azure endpoint (TLS-inspecting proxies, sandbox).",
        json_schema_extra={"flag": None},
    )
    max_retries: int = Field(
        default=4, ge=0, le=10, description="Retries per request on 429/503.", json_schema_extra={"flag": None}
    )
    page_size: int = Field(
        default=999, ge=1, le=999, description="Graph $top per page.", json_schema_extra={"flag": None}
    )
    max_concurrency: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Subscriptions read at once by the tenant scope.",
        json_schema_extra={"flag": None},
    )


_GRAPH = "Microsoft Graph application permission"
_ARM = "Azure RBAC (at each subscription, or a management group above them)"


class AzureProvider(Provider):
    name: ClassVar[str] = "azure"
    title: ClassVar[str] = "Microsoft Azure / Entra ID"
    Settings: ClassVar[type[ProviderSettings]] = AzureSettings
    permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(
            f"{_GRAPH}: Application.Read.All",
            "list app registrations with their secrets' and certificates' public metadata, owners and "
            "federated credentials; service principals; and the Graph permissions granted to each "
            "(appRoleAssignedTo on the Microsoft Graph service principal)",
        ),
        Permission(
            f"{_GRAPH}: RoleManagement.Read.Directory",
            "list Entra directory roles and their members (Global Administrator, Application Administrator, ...)",
        ),
        Permission(
            f"{_GRAPH}: AuditLog.Read.All",
            "read the beta servicePrincipalSignInActivities and appCredentialSignInActivities reports "
            "for last use (also needs an Entra ID P1/P2 licence; without it the scan is partial and makes "
            "no unused/dormant verdict)",
            optional=True,
        ),
        Permission(
            f"{_ARM}: Reader",
            "list subscriptions (Microsoft.Resources/subscriptions/read), role assignments and role "
            "definitions (Microsoft.Authorization/roleAssignments/read, roleDefinitions/read), "
            "user-assigned identities and their federated credentials "
            "(Microsoft.ManagedIdentity/userAssignedIdentities/read, .../federatedIdentityCredentials/read)",
        ),
    )

    def __init__(self, settings: Any = None, *, as_of: Any) -> None:
        super().__init__(settings, as_of=as_of)
        self.sleep: Callable[[float], None] = time.sleep  # injectable: tests never really wait
        self._lock = threading.Lock()
        self._credential: Any = None
        self._arm: ArmReader | None = None
        self._subs: dict[str, tuple[threading.Event, list[SubscriptionData]]] = {}
        self._tenant: str | None = None

    @property
    def cfg(self) -> AzureSettings:
        assert isinstance(self.settings, AzureSettings)
        return self.settings

    # -- clients ---------------------------------------------------------------------------------------
    def credential(self) -> Any:
        with self._lock:
            if self._credential is None:
                from nhiwarden.providers.azure.auth import build_credential

                self._credential = build_credential(
                    self.cfg.credential,
                    tenant=self.cfg.tenant,
                    client_id=self.cfg.client_id,
                    authority_host=self.cfg.authority_host,
                    ca_bundle=self.cfg.ca_bundle,
                )
            return self._credential

    def arm(self) -> ArmReader:
        from nhiwarden.providers.azure.arm import ArmReader

        credential = self.credential()
        with self._lock:
            if self._arm is None:
                self._arm = ArmReader(
                    credential,
                    endpoint=self.cfg.arm_endpoint,
                    ca_bundle=self.cfg.ca_bundle,
                    max_retries=self.cfg.max_retries,
                )
            return self._arm

    def graph(self, count: Callable[[str], None]) -> GraphClient:
        from nhiwarden.providers.azure.graph import GraphClient
        from nhiwarden.retry import RetryPolicy

        verify: ssl.SSLContext | bool = True
        if self.cfg.ca_bundle:
            verify = ssl.create_default_context(cafile=self.cfg.ca_bundle)
        return GraphClient(
            self.cfg.graph_endpoint,
            self.credential(),
            retry=RetryPolicy(attempts=self.cfg.max_retries + 1, sleep=self.sleep),
            count=count,
            verify=verify,
        )

    # -- scopes ----------------------------------------------------------------------------------------
    def tenant_id(self) -> str:
        if self.cfg.tenant:
            return self.cfg.tenant
        if self._tenant is None:
            from nhiwarden.providers.azure.arm import scope_error
            from nhiwarden.providers.azure.auth import token_tenant

            try:
                token = self.credential().get_token(f"{self.cfg.graph_endpoint.rstrip('/')}/.default").token
            except Exception as exc:
                raise scope_error(exc, "getting a Microsoft Graph token") from None
            self._tenant = token_tenant(token)
            if not self._tenant:
                raise ScopeError("the token names no tenant: set --azure-tenant", kind="auth")
        return self._tenant

    def scopes(self) -> list[Scope]:
        tenant = self.tenant_id()
        listing_error: str | None = None
        if self.cfg.subscriptions:
            subs = [{"subscriptionId": s, "displayName": s} for s in self.cfg.subscriptions]
        else:
            try:
                subs = self.arm().list_subscriptions(self._throttle)
            except ScopeError as exc:
                subs, listing_error = [], exc.reason
        subs = [s for s in subs if (s.get("state") or "Enabled") != "Disabled"]
        ids = [s["subscriptionId"] for s in subs]
        out = [
            Scope(
                provider=self.name,
                id=tenant,
                name=f"tenant {tenant}",
                params={"kind": "tenant", "subscriptions": ids, "listing_error": listing_error},
            )
        ]
        for sub in subs:
            out.append(
                Scope(
                    provider=self.name,
                    id=sub["subscriptionId"],
                    name=f"subscription {sub.get('displayName') or sub['subscriptionId']}",
                    params={"kind": "subscription", "tenant": tenant},
                )
            )
        return out

    def _throttle(self, _action: str) -> None:
        ratelimit.bucket(self.name).acquire()

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        if scope.params.get("kind") == "subscription":
            self._discover_subscription(scope, result)
        else:
            self._discover_tenant(scope, result)

    # -- subscriptions (shared, memoized) --------------------------------------------------------------
    def subscription_data(self, subscription_id: str) -> SubscriptionData:
        with self._lock:
            entry = self._subs.get(subscription_id)
            owner = entry is None
            if entry is None:
                entry = (threading.Event(), [])
                self._subs[subscription_id] = entry
        event, box = entry
        if owner:
            from nhiwarden.providers.azure.arm import SubscriptionData, scope_error

            try:
                box.append(self.arm().read_subscription(subscription_id))
            except Exception as exc:  # every waiter must get an answer, never a hang
                box.append(SubscriptionData(subscription_id, error=scope_error(exc, f"subscription {subscription_id}")))
            finally:
                event.set()
        event.wait()
        return box[0]

    def _discover_subscription(self, scope: Scope, result: ScopeResult) -> None:
        data = self.subscription_data(scope.id)
        for action, n in data.calls.items():  # already rate-limited when sent (arm.py)
            result.api_calls[action] = result.api_calls.get(action, 0) + n
        result.attributes["identities_reported_in"] = f"azure:{scope.params.get('tenant')}"
        result.attributes["role_assignments_to_service_principals"] = len(data.grants)
        result.attributes["user_assigned_identities"] = len(data.identities)
        if data.error is not None:
            raise data.error
        for signal in data.missing:
            result.mark_partial(signal)

    # -- tenant ----------------------------------------------------------------------------------------
    def _discover_tenant(self, scope: Scope, result: ScopeResult) -> None:
        from nhiwarden.providers.azure.arm import scope_error
        from nhiwarden.providers.azure.build import build_identities
        from nhiwarden.providers.azure.directory import read_directory
        from nhiwarden.providers.azure.graph import GraphError

        log = CallLog(result)
        graph = self.graph(log)
        try:
            directory = read_directory(graph, top=self.cfg.page_size, sign_in_activity=self.cfg.sign_in_activity)
        except GraphError as exc:
            kind = {401: "auth", 403: "permission", 404: "not-found", 429: "throttled", 503: "throttled"}
            kind_name = "network" if exc.status == 0 else kind.get(exc.status, "error")
            raise ScopeError(f"Microsoft Graph: {exc}", kind=kind_name) from None
        except ScopeError:
            raise
        except Exception as exc:
            raise scope_error(exc, "Microsoft Graph") from None
        finally:
            graph.close()
        for signal in directory.missing:
            result.mark_partial(signal)
        if scope.params.get("listing_error"):
            result.mark_partial(f"arm: {scope.params['listing_error']}")
        subs: list[str] = list(scope.params.get("subscriptions") or [])
        with ThreadPoolExecutor(max_workers=max(1, min(self.cfg.max_concurrency, len(subs) or 1))) as pool:
            datas = list(pool.map(self.subscription_data, subs))
        for data in datas:
            if data.error is not None:
                result.mark_partial(
                    f"arm-grants: subscription {data.subscription_id} not read ({data.error.kind}; the "
                    "subscription's scope has the reason): its role assignments and managed identities are missing"
                )
        result.identities = build_identities(scope.id, directory, [d for d in datas if d.error is None])
        result.identity_count = len(result.identities)
        result.credential_count = sum(len(i.credentials) for i in result.identities)
        result.attributes["subscriptions"] = subs

    # -- doctor ----------------------------------------------------------------------------------------
    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        result = ScopeResult(provider=self.name, scope=scope.id)
        try:
            self.discover(scope, result)
        except ScopeError as exc:
            return [DoctorCheck(scope=scope.id, check="scan", ok=False, detail=redact(exc.reason))]
        checks = [DoctorCheck(scope=scope.id, check="scan", ok=True, detail=f"{result.identity_count} identities")]
        for signal in result.missing:
            checks.append(DoctorCheck(scope=scope.id, check=signal.split(":", 1)[0], ok=False, detail=signal))
        return checks

    def close(self) -> None:
        with self._lock:
            credential, self._credential = self._credential, None
        if credential is not None and hasattr(credential, "close"):
            credential.close()
