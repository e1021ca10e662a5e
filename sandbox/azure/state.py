"""The fake tenant's data: Graph objects and ARM resources as the real APIs shape them, plus faults.

Owns the in-memory state the fake servers read; holds no server code and does no I/O. Objects are kept
as the JSON Graph/ARM return (camelCase keys, ISO 8601 ``Z`` timestamps, GUID ids) so the servers only
page, project and wrap them. Secret values (client secrets) live in ``clients`` and are never served.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

JSON = dict[str, Any]


def guid(name: str) -> str:
    """A stable GUID for a seed name, so tests and the demo see the same ids every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"nhiwarden-azure-sandbox/{name}"))


def ts(when: datetime) -> str:
    """Graph's timestamp format: ISO 8601 UTC with a ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """An injected failure: the next ``times`` requests whose path matches ``path`` get ``status``."""

    path: str
    status: int
    times: int = 1
    retry_after: str | None = None
    code: str = "TooManyRequests"
    message: str = "Too many requests. Please retry after the time given in Retry-After."
    method: str = "GET"

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, path) is not None


@dataclass
class Client:
    """An app that may get tokens (client credentials flow) and what it may read in ARM.

    ``secret`` is a seeded secret the token authority always accepts; ``secrets`` (keyId -> value)
    are those of the app's ``passwordCredentials`` (seeded or added with ``addPassword``): each is
    accepted only while that credential exists on the app and is within its start and end dates.
    ``object_id`` is the client's service principal object id (the token's ``oid``).
    """

    client_id: str
    secret: str
    object_id: str
    arm_readable: set[str] = field(default_factory=set)
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class Subscription:
    subscription_id: str
    display_name: str
    state: str = "Enabled"
    role_assignments: list[JSON] = field(default_factory=list)  # ARM JSON, incl. inherited (MG/root)
    identities: list[JSON] = field(default_factory=list)  # userAssignedIdentities ARM JSON
    federated: dict[str, list[JSON]] = field(default_factory=dict)  # identity ARM id (lower) -> FICs


@dataclass
class FakeTenant:
    """Everything the fake servers serve for one tenant."""

    tenant_id: str
    applications: list[JSON] = field(default_factory=list)  # with "owners" and "federatedIdentityCredentials"
    service_principals: list[JSON] = field(default_factory=list)
    directory_roles: list[JSON] = field(default_factory=list)  # with "members": [directory objects]
    app_role_assignments: list[JSON] = field(default_factory=list)
    sp_sign_ins: list[JSON] = field(default_factory=list)
    credential_sign_ins: list[JSON] = field(default_factory=list)
    role_definitions: dict[str, JSON] = field(default_factory=dict)  # role definition GUID -> ARM JSON
    subscriptions: list[Subscription] = field(default_factory=list)
    clients: dict[str, Client] = field(default_factory=dict)
    premium: bool = True
    page_size: int = 2
    faults: list[Fault] = field(default_factory=list)
    request_log: list[JSON] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def log(self, entry: JSON) -> None:
        with self.lock:
            self.request_log.append(entry)

    def requests(self, server: str | None = None, path: str | None = None) -> list[JSON]:
        """Logged requests, optionally only one server's (login/graph/arm) and paths matching a regex."""
        with self.lock:
            entries = list(self.request_log)
        return [
            e
            for e in entries
            if (server is None or e["server"] == server) and (path is None or re.search(path, e["path"]))
        ]

    def application_by_app_id(self, app_id: str) -> JSON | None:
        return next((a for a in self.applications if a["appId"].lower() == app_id.lower()), None)

    def service_principal_by_app_id(self, app_id: str) -> JSON | None:
        return next((s for s in self.service_principals if s["appId"].lower() == app_id.lower()), None)

    def subscription(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.subscription_id.lower() == subscription_id.lower()), None)
