"""The normalized inventory: one shape for every provider.

Providers translate their APIs into these types and nothing else; rules read only these types. A field
that one provider cannot fill stays ``None`` and means "unknown", never "no" — rules must not turn
missing data into a verdict. Provider-specific facts that only provider-specific rules read go in
``attributes``; they are plain JSON values so the report can carry them as evidence.

Nothing here may ever hold a secret value: a Credential carries its public identifier (key ID,
accessor, secret-id accessor, key name), never the secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _as_utc(value: datetime) -> datetime:
    """Naive datetimes from an API are UTC; aware ones are converted, so every age compares."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Privilege(StrEnum):
    """How much an identity may do, worst first."""

    ADMIN = "admin"
    PRIVILEGE_ESCALATION = "privilege-escalation"
    WRITE = "write"
    READ = "read"

    @property
    def rank(self) -> int:
        return _PRIVILEGE_RANK[self]


_PRIVILEGE_RANK = {
    Privilege.ADMIN: 0,
    Privilege.PRIVILEGE_ESCALATION: 1,
    Privilege.WRITE: 2,
    Privilege.READ: 3,
}


class Grant(_Model):
    """One reason an identity holds a privilege, with the evidence an auditor can check."""

    privilege: Privilege
    source: str = Field(description="Policy, role or binding that grants it, e.g. 'AdministratorAccess'.")
    source_kind: str = Field(description="e.g. managed-policy, inline-policy, role-binding, vault-policy.")
    via: str | None = Field(default=None, description="Indirection, e.g. 'group/admins'.")
    resource_scope: str | None = Field(default=None, description="Where the grant applies.")
    reason: str = Field(description="Why this is the privilege level, e.g. 'Action * on Resource *'.")
    permissions: list[str] = Field(default_factory=list, description="The risky actions named.")
    controls: list[str] = Field(
        default_factory=list, description="Extra control ids this grant maps to (e.g. CIS-K8S-5.1.2)."
    )


class FederationTrust(_Model):
    """Who outside may obtain this identity's access through federation (OIDC/SAML/workload identity).

    ``subjects`` and ``audiences`` are the allowed values or glob patterns the trust pins; ``None``
    means the trust does not constrain that claim at all. Other claim constraints go in ``conditions``;
    a condition that cannot be decomposed (e.g. a CEL expression) stays in ``expression``.
    """

    issuer: str
    source: str = Field(description="Where the trust is defined, e.g. a role's trust policy statement.")
    subjects: list[str] | None = None
    audiences: list[str] | None = None
    conditions: dict[str, list[str]] = Field(default_factory=dict)
    expression: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Credential(_Model):
    """A secret-bearing or federated credential of an identity, named by its public id."""

    uid: str = Field(description="Stable, provider-qualified id, e.g. 'aws:123:user/ci:key/AKIA...'.")
    kind: str = Field(description="aws-access-key, gcp-sa-key, azure-client-secret, vault-token, ...")
    id: str = Field(description="Public identifier (key id, accessor). Never the secret.")
    name: str | None = None
    created_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = Field(default=None, description="None: never expires or unknown.")
    last_used_at: UtcDatetime | None = None
    last_used_source: str | None = Field(
        default=None,
        description="Which API or log said so; None means the provider cannot know (no verdict).",
    )
    last_used_tracking_since: UtcDatetime | None = Field(
        default=None, description="Start of the usage signal's window; 'never used' means since then."
    )
    enabled: bool = True
    static: bool = Field(description="Long-lived secret (True) or short-lived/federated (False).")
    interactive: bool = Field(default=False, description="Lets a person sign in (console password).")
    locations: list[str] = Field(default_factory=list, description="Where copies are stored, if known.")
    provisional: bool = Field(
        default=False,
        description="uid/id are placeholders from a bulk API (e.g. an AWS credential-report slot); the "
        "scanner asks the provider to resolve them, for credentials with findings only, before reporting.",
    )
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def usage_known(self) -> bool:
        return self.last_used_source is not None


class Identity(_Model):
    """A non-human identity and everything the rules need to judge it."""

    uid: str
    provider: str
    kind: str
    scope: str
    name: str
    created_at: UtcDatetime | None = None
    last_used_at: UtcDatetime | None = None
    last_used_source: str | None = None
    last_used_tracking_since: UtcDatetime | None = None
    enabled: bool = True
    system: bool = Field(
        default=False,
        description="Managed by the platform (AWS service-linked role, Google-managed SA): excluded by "
        "default because the customer cannot change it.",
    )
    owner: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    grants: list[Grant] = Field(default_factory=list)
    credentials: list[Credential] = Field(default_factory=list)
    trusts: list[FederationTrust] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def usage_known(self) -> bool:
        return self.last_used_source is not None

    @property
    def privilege(self) -> Privilege | None:
        """The worst privilege any grant gives, or None without grants."""
        if not self.grants:
            return None
        return min((g.privilege for g in self.grants), key=lambda p: p.rank)


ScopeStatus = Literal["ok", "partial", "error"]


class Scope(_Model):
    """One unit a provider scans: an account, project, tenant, cluster context, Vault namespace."""

    provider: str
    id: str = Field(description="e.g. '123456789012', 'my-proj', 'prod-context', 'https://vault:8200/ns1'.")
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Provider-private connection data.")


class ScopeResult(_Model):
    """What scanning one scope produced, including how complete it is.

    ``partial`` means the scope was scanned but some signal is missing (named in ``missing``);
    ``error`` means the scope could not be scanned at all. The reason is in ``error`` and never carries
    a secret.
    """

    provider: str
    scope: str
    name: str | None = None
    status: ScopeStatus = "ok"
    error: str | None = None
    missing: list[str] = Field(default_factory=list, description="Signals not available, and why.")
    skipped: list[str] = Field(default_factory=list, description="What was left out on purpose.")
    identity_count: int = 0
    credential_count: int = 0
    api_calls: dict[str, int] = Field(default_factory=dict)
    throttled: int = Field(default=0, description="Requests retried (throttling or transient errors).")
    rate_limited_seconds: float = Field(default=0.0, description="Time spent waiting for the request-rate cap.")
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Scope-level facts for scope rules (audit devices, quotas)."
    )
    identities: list[Identity] = Field(default_factory=list, exclude=True)

    def mark_partial(self, signal: str) -> None:
        """Record a missing signal; an error status stays an error."""
        if signal not in self.missing:
            self.missing.append(signal)
        if self.status == "ok":
            self.status = "partial"


class Inventory(_Model):
    """Everything the providers found: the rules' only input besides parameters and ``as_of``."""

    scopes: list[ScopeResult] = Field(default_factory=list)

    @property
    def identities(self) -> list[Identity]:
        return [i for s in self.scopes for i in s.identities]
