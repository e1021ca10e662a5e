"""Reports with one finding, for driving the migrate planner through its public Python API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.report import Report, ScanInfo


def report_for(identity: Identity, credential: Credential, rule: str, settings: dict[str, Any]) -> tuple[Report, str]:
    now = datetime.now(UTC)
    finding = Finding(
        id=fingerprint(rule, identity.uid, credential.uid),
        rule_id=rule,
        severity=Severity.MEDIUM,
        title=rule,
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(credential),
        message=f"{rule} on {credential.id}",
    )
    report = Report(
        scan=ScanInfo(
            id="scan-migrate",
            started_at=now,
            finished_at=now,
            as_of=now,
            parameters={"provider_settings": settings},
        ),
        identities=[identity],
        findings=[finding],
    )
    report.summarize()
    return report, finding.id
