"""Baselines: limit a report to the findings that are new since an earlier report.

``apply_baseline`` keeps only new findings in ``report.findings`` (so the exit code, SARIF levels,
JUnit failures and the Markdown summary consider only those) and records the counts in
``report.baseline``. The unchanged findings are not lost: ``unchanged_findings(report)`` returns them,
so renderers can still show them and ``nhiwarden diff`` can still classify them. Findings are matched by
their id, a fingerprint of rule, identity and credential, so messages and evidence may change freely.

A finding the baseline had suppressed by an exception counts as new when it is active again (its
exception expired or was removed): an acceptance that lapsed must reach the pipeline.

This module never rescans and never judges: it compares finding ids.
"""

from __future__ import annotations

import logging

from nhiwarden.findings import Finding
from nhiwarden.report import BaselineInfo, Report
from pydantic import PrivateAttr

log = logging.getLogger("nhiwarden.baseline")

__all__ = ["BaselinedReport", "apply_baseline", "known_findings", "resolved_findings", "unchanged_findings"]


class BaselinedReport(Report):
    """A report limited to new findings that still carries the unchanged and resolved ones in memory."""

    _unchanged: list[Finding] = PrivateAttr(default_factory=list)
    _resolved: list[Finding] = PrivateAttr(default_factory=list)


def unchanged_findings(report: Report) -> list[Finding]:
    """Findings left out of ``report.findings`` because the baseline already had them."""
    if isinstance(report, BaselinedReport):
        return list(report._unchanged)
    persisted = getattr(report.baseline, "unchanged_findings", None) if report.baseline else None
    return list(persisted or [])


def resolved_findings(report: Report) -> list[Finding]:
    """Baseline findings this scan no longer found (known in memory only)."""
    if isinstance(report, BaselinedReport):
        return list(report._resolved)
    return []


def known_findings(report: Report) -> list[Finding]:
    """Every active finding a report stands for: its findings plus those a baseline held back."""
    return [*report.findings, *unchanged_findings(report)]


def apply_baseline(report: Report, baseline: Report, *, file: str) -> Report:
    """A copy of ``report`` whose findings are only those absent from ``baseline``."""
    if baseline.baseline is not None and baseline.baseline.unchanged and not unchanged_findings(baseline):
        log.warning(
            "baseline %s was itself written with --baseline and does not list its %d unchanged finding(s); "
            "they count as new now. Use a report written without --baseline as the baseline.",
            file,
            baseline.baseline.unchanged,
        )
    before = {f.id: f for f in known_findings(baseline)}
    current = known_findings(report)
    current_ids = {f.id for f in current}
    new = [f for f in current if f.id not in before]
    unchanged = [f for f in current if f.id in before]
    resolved = [f for fid, f in before.items() if fid not in current_ids]

    fields = {name: getattr(report, name) for name in Report.model_fields}
    out = BaselinedReport.model_construct(**fields)
    out.findings = new
    out._unchanged = unchanged
    out._resolved = resolved
    out.baseline = BaselineInfo(
        file=file,
        scan_id=baseline.scan.id,
        new=len(new),
        unchanged=len(unchanged),
        resolved=len(resolved),
        unchanged_findings=unchanged,
    )
    out.summarize()
    return out
