"""Findings: what a rule says about one identity or credential, with the evidence behind it.

A finding's ``id`` is a fingerprint of rule, identity and credential only, so baselines, diffs and
exceptions keep matching across re-scans even when messages, evidence or unrelated fields change.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from nhiwarden.model import Credential, Identity
from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse, so ``max()`` picks the worst."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class IdentityRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: str
    name: str
    kind: str
    provider: str
    scope: str

    @classmethod
    def of(cls, identity: Identity) -> IdentityRef:
        return cls(
            uid=identity.uid,
            name=identity.name,
            kind=identity.kind,
            provider=identity.provider,
            scope=identity.scope,
        )


class CredentialRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: str
    id: str
    kind: str

    @classmethod
    def of(cls, credential: Credential) -> CredentialRef:
        return cls(uid=credential.uid, id=credential.id, kind=credential.kind)


class Control(BaseModel):
    """A compliance control with its framework version: CIS ids move between versions."""

    model_config = ConfigDict(extra="forbid")

    framework: str
    version: str
    control: str

    @property
    def label(self) -> str:
        return f"{self.framework}-{self.control}"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    rule_id: str
    severity: Severity
    title: str
    identity: IdentityRef
    credential: CredentialRef | None = None
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    controls: list[str] = Field(default_factory=list)
    compliance: list[Control] = Field(default_factory=list)
    remediation: list[str] = Field(default_factory=list)


def fingerprint(rule_id: str, identity_uid: str, credential_uid: str | None = None) -> str:
    """Stable finding id: the same rule on the same identity/credential always gives the same id."""
    raw = "\x1f".join((rule_id, identity_uid, credential_uid or ""))
    return "nhw-" + hashlib.sha256(raw.encode()).hexdigest()[:20]
