"""The report: one object every renderer draws, and the JSON contract (schema_version 1).

The JSON shape only grows compatibly within a schema version: add optional keys, never rename or
remove one. ``reports/schema/report.schema.json`` is the published schema and tests validate real
reports against it.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from nhiwarden import __version__
from nhiwarden.findings import Finding, Severity
from nhiwarden.model import Identity, ScopeResult
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolInfo(_Model):
    name: str = "nhiwarden"
    version: str = __version__
    rule_pack: dict[str, str] = Field(default_factory=dict)


class ScanInfo(_Model):
    id: str
    started_at: datetime
    finished_at: datetime
    as_of: datetime
    parameters: dict[str, Any] = Field(default_factory=dict)


class ExceptionInForce(_Model):
    """An exception from the config as the scan applied it: who accepted what, why, until when."""

    match: dict[str, str]
    reason: str
    owner: str
    expires: date
    approver: str | None = None
    ticket: str | None = None
    expired: bool = False
    matched: int = 0


class SuppressedFinding(_Model):
    finding: Finding
    exception: ExceptionInForce


class BaselineInfo(_Model):
    """Set when ``--baseline`` limited the findings to those new since an earlier report."""

    file: str
    scan_id: str | None = None
    new: int = 0
    unchanged: int = 0
    resolved: int = 0
    unchanged_findings: list[Finding] = Field(
        default_factory=list, description="Findings also in the baseline: out of the gate, kept for the next baseline."
    )


class Summary(_Model):
    identities: int = 0
    credentials: int = 0
    findings: int = 0
    suppressed: int = 0
    api_calls: int = 0
    throttled: int = Field(default=0, description="Requests retried across all scopes.")
    scopes: dict[str, int] = Field(default_factory=dict)
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_rule: dict[str, int] = Field(default_factory=dict)
    by_provider: dict[str, int] = Field(default_factory=dict)


class Report(_Model):
    schema_version: int = SCHEMA_VERSION
    tool: ToolInfo = Field(default_factory=ToolInfo)
    scan: ScanInfo
    scopes: list[ScopeResult] = Field(default_factory=list)
    identities: list[Identity] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    suppressed: list[SuppressedFinding] = Field(default_factory=list)
    exceptions: list[ExceptionInForce] = Field(default_factory=list)
    baseline: BaselineInfo | None = None
    summary: Summary = Field(default_factory=Summary)

    def summarize(self) -> None:
        """Recompute ``summary`` from the report's contents."""
        self.summary = Summary(
            identities=len(self.identities),
            credentials=sum(len(i.credentials) for i in self.identities),
            findings=len(self.findings),
            suppressed=len(self.suppressed),
            api_calls=sum(sum(s.api_calls.values()) for s in self.scopes),
            throttled=sum(s.throttled for s in self.scopes),
            scopes=dict(Counter(s.status for s in self.scopes)),
            by_severity={s.value: n for s in Severity if (n := sum(f.severity == s for f in self.findings))},
            by_rule=dict(sorted(Counter(f.rule_id for f in self.findings).items())),
            by_provider=dict(sorted(Counter(f.identity.provider for f in self.findings).items())),
        )

    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    @property
    def failed_scopes(self) -> list[ScopeResult]:
        return [s for s in self.scopes if s.status == "error"]

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent, exclude_none=False)
