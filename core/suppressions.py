"""Apply the config's exceptions (accepted risks) to findings.

An exception suppresses matching findings until it expires; from its expiry date on it suppresses
nothing and the report flags it as expired, so a lapsed acceptance turns back into findings.
Suppressed findings stay in the report, next to the exception that matched them.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime

from nhiwarden.config import ExceptionRule
from nhiwarden.findings import Finding
from nhiwarden.report import ExceptionInForce, SuppressedFinding


def _glob(pattern: str | None, *values: str | None) -> bool:
    if pattern is None:
        return True
    return any(v is not None and fnmatch.fnmatchcase(v, pattern) for v in values)


def matches(rule: ExceptionRule, finding: Finding) -> bool:
    cred = finding.credential
    return (
        (rule.id is None or rule.id == finding.id)
        and _glob(rule.rule, finding.rule_id)
        and _glob(rule.identity, finding.identity.uid, finding.identity.name)
        and (rule.credential is None or (cred is not None and _glob(rule.credential, cred.uid, cred.id)))
    )


def apply_exceptions(
    findings: list[Finding], rules: list[ExceptionRule], as_of: datetime
) -> tuple[list[Finding], list[SuppressedFinding], list[ExceptionInForce]]:
    """Split findings into (kept, suppressed) and describe every exception as applied."""
    applied = [
        ExceptionInForce(
            match={k: v for k in ("id", "rule", "identity", "credential") if (v := getattr(r, k))},
            reason=r.reason,
            owner=r.owner,
            expires=r.expires,
            approver=r.approver,
            ticket=r.ticket,
            expired=r.expires <= as_of.date(),
        )
        for r in rules
    ]
    kept: list[Finding] = []
    suppressed: list[SuppressedFinding] = []
    for finding in findings:
        hit = next(
            (i for i, r in enumerate(rules) if not applied[i].expired and matches(r, finding)),
            None,
        )
        if hit is None:
            kept.append(finding)
        else:
            applied[hit].matched += 1
            suppressed.append(SuppressedFinding(finding=finding, exception=applied[hit]))
    return kept, suppressed, applied
