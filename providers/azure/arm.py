"""ARM reads through the azure-mgmt clients: subscriptions, role assignments, user-assigned identities.

Owns the azure-mgmt client construction (base URL, credential scope, CA bundle, bounded retries) and the
translation of their models into plain dicts the builder reads. Read-only: only list/get operations are
ever called. Imported by the provider's ``discover`` path only, so ``nhiwarden --help`` never loads the
Azure SDK. Error texts are redacted before they leave this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nhiwarden import ratelimit
from nhiwarden.errors import ScopeError
from nhiwarden.model import Privilege
from nhiwarden.providers.azure import privilege
from nhiwarden.redact import redact

_SUBSCRIPTIONS_API = "2022-12-01"
_PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@dataclass
class RoleGrant:
    assignment_id: str
    principal_id: str
    principal_type: str
    scope: str
    role_name: str
    privilege: Privilege
    reason: str
    controls: list[str]


@dataclass
class UserAssignedIdentity:
    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    principal_id: str
    client_id: str
    tags: dict[str, str]
    created_at: datetime | None
    federated: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SubscriptionData:
    subscription_id: str
    grants: list[RoleGrant] = field(default_factory=list)
    identities: list[UserAssignedIdentity] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    error: ScopeError | None = None


def scope_error(exc: BaseException, what: str) -> ScopeError:
    """A redacted ScopeError with the right kind for an azure-core / azure-identity exception."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ScopeError):
        return exc
    text = redact(getattr(exc, "message", None) or exc).splitlines()[0][:400]
    if isinstance(exc, ClientAuthenticationError):
        return ScopeError(f"{what}: authentication failed: {text}", kind="auth")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = getattr(getattr(exc, "error", None), "code", None) or ""
        if not code and text.startswith("("):
            code = text[1:].split(")", 1)[0]
        if code and text.startswith(f"({code})"):
            text = text[len(code) + 2 :].strip()
        text = text.replace(" If access was recently granted, please refresh your credentials.", "")
        kind = {401: "auth", 403: "permission", 404: "not-found", 429: "throttled"}.get(status, "error")
        return ScopeError(f"{what}: HTTP {status} {code}: {text}".replace(" : ", ": "), kind=kind)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return ScopeError(f"{what}: network error: {text}", kind="network")
    return ScopeError(f"{what}: {type(exc).__name__}: {text}", kind="error")


def _action(url: str) -> str:
    low = url.lower().split("?", 1)[0]
    if "federatedidentitycredentials" in low:
        return "arm:federatedIdentityCredentials.list"
    if "userassignedidentities" in low:
        return "arm:userAssignedIdentities.list"
    if "roleassignments" in low:
        return "arm:roleAssignments.list"
    if "roledefinitions" in low:
        return "arm:roleDefinitions.get"
    return "arm:subscriptions.list"


class ArmReader:
    """Reads ARM for one tenant; thread-safe (one client per call site, a locked role-definition cache)."""

    def __init__(
        self,
        credential: Any,
        *,
        endpoint: str,
        ca_bundle: str | None,
        max_retries: int,
    ) -> None:
        self._credential = credential
        self._endpoint = endpoint.rstrip("/")
        self._ca_bundle = ca_bundle
        self._max_retries = max_retries
        self._roles: dict[str, tuple[str, Privilege, str, list[str]]] = {}
        self._lock = threading.Lock()

    def _kwargs(self, count: Callable[[str], None]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "base_url": self._endpoint,
            "credential_scopes": [f"{self._endpoint}/.default"],
            "retry_total": self._max_retries,
            "raw_request_hook": lambda request: count(_action(request.http_request.url)),
        }
        if self._ca_bundle:
            kwargs["connection_verify"] = self._ca_bundle
        return kwargs

    def list_subscriptions(self, count: Callable[[str], None]) -> list[dict[str, str]]:
        """Every subscription the credential can see: ``subscriptionId``, ``displayName``, ``state``."""
        from azure.core.rest import HttpRequest
        from azure.mgmt.authorization import AuthorizationManagementClient

        client: Any = AuthorizationManagementClient(self._credential, _PLACEHOLDER_SUBSCRIPTION, **self._kwargs(count))
        out: list[dict[str, str]] = []
        url: str | None = f"/subscriptions?api-version={_SUBSCRIPTIONS_API}"
        try:
            while url:
                response = client._client.send_request(HttpRequest("GET", client._client.format_url(url)))
                response.raise_for_status()
                body = response.json()
                out.extend(body.get("value", []))
                url = body.get("nextLink")
        except Exception as exc:
            from azure.core.exceptions import HttpResponseError

            if isinstance(exc, HttpResponseError) and exc.response is not None:
                exc = _with_arm_message(exc)
            raise scope_error(exc, "listing subscriptions") from None
        finally:
            client.close()
        return out

    def read_subscription(self, subscription_id: str) -> SubscriptionData:
        """Role assignments at or above the subscription, and its user-assigned identities."""
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.msi import ManagedServiceIdentityClient

        data = SubscriptionData(subscription_id)
        lock = threading.Lock()

        def count(action: str) -> None:
            ratelimit.bucket("azure").acquire()
            with lock:
                data.calls[action] = data.calls.get(action, 0) + 1

        authz: Any = AuthorizationManagementClient(self._credential, subscription_id, **self._kwargs(count))
        msi: Any = ManagedServiceIdentityClient(self._credential, subscription_id, **self._kwargs(count))
        where = f"subscription {subscription_id}"
        try:
            try:
                assignments = list(authz.role_assignments.list_for_subscription(filter="atScope()"))
            except Exception as exc:
                raise scope_error(exc, f"{where}: reading role assignments") from None
            for assignment in assignments:
                if (assignment.principal_type or "").lower() != "serviceprincipal":
                    continue
                name, level, reason, controls = self._role(authz, assignment.role_definition_id)
                data.grants.append(
                    RoleGrant(
                        assignment_id=assignment.id,
                        principal_id=assignment.principal_id,
                        principal_type=assignment.principal_type,
                        scope=assignment.scope,
                        role_name=name,
                        privilege=level,
                        reason=reason,
                        controls=controls,
                    )
                )
            try:
                for ident in msi.user_assigned_identities.list_by_subscription():
                    data.identities.append(self._identity(msi, ident, subscription_id, data))
            except Exception as exc:
                err = scope_error(exc, f"{where}: listing user-assigned identities")
                if err.kind != "permission":
                    raise err from None
                data.missing.append(f"managed-identities: {err.reason}")
        except ScopeError as err:
            data.error = err
        finally:
            authz.close()
            msi.close()
        return data

    def _identity(self, msi: Any, ident: Any, subscription_id: str, data: SubscriptionData) -> UserAssignedIdentity:
        parts = ident.id.split("/")
        group = parts[4] if len(parts) > 4 else ""
        system_data = getattr(ident, "system_data", None)
        out = UserAssignedIdentity(
            resource_id=ident.id,
            name=ident.name,
            subscription_id=subscription_id,
            resource_group=group,
            principal_id=ident.principal_id,
            client_id=ident.client_id,
            tags=dict(ident.tags or {}),
            created_at=getattr(system_data, "created_at", None),
        )
        try:
            for fic in msi.federated_identity_credentials.list(group, ident.name):
                out.federated.append(
                    {
                        "id": fic.id,
                        "name": fic.name,
                        "issuer": fic.issuer,
                        "subject": fic.subject,
                        "audiences": list(fic.audiences or []),
                    }
                )
        except Exception as exc:
            err = scope_error(exc, f"federated credentials of {ident.name}")
            if err.kind not in ("permission", "not-found"):
                raise err from None
            data.missing.append(f"federated-credentials: {err.reason}")
        return out

    def _role(self, authz: Any, role_definition_id: str) -> tuple[str, Privilege, str, list[str]]:
        role_id = privilege.arm_role_id(role_definition_id)
        known = privilege.ARM_ROLES.get(role_id)
        if known:
            return known[0], known[1], known[2], []
        with self._lock:
            cached = self._roles.get(role_id)
        if cached:
            return cached
        try:
            definition = authz.role_definitions.get_by_id(role_definition_id)
            name = definition.role_name or role_id
            perms = [
                {"actions": list(p.actions or []), "not_actions": list(p.not_actions or [])}
                for p in (definition.permissions or [])
            ]
            level, reason, controls = privilege.custom_arm_role(name, perms)
            found = (name, level, reason, controls)
        except Exception as exc:
            err = scope_error(exc, f"role definition {role_id}")
            found = (role_id, Privilege.WRITE, f"role definition could not be read ({err.reason}); assumed write", [])
        with self._lock:
            self._roles[role_id] = found
        return found


def _with_arm_message(exc: Any) -> Any:
    """Put ARM's error code and message on an exception raised by ``raise_for_status``."""
    try:
        body = exc.response.json()
        err = body.get("error", {})
        exc.message = f"({err.get('code')}) {err.get('message')}"
    except Exception:  # noqa: S110 - best effort: keep the original message
        pass
    return exc
