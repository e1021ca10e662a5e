"""Combine the reports of a sharded scan into the report one unsharded scan would have written.

Shards must agree on ``as_of`` and on the rules' parameters, or their findings are not comparable;
merging refuses them instead of producing a misleading report.
"""

from __future__ import annotations

from nhiwarden.errors import UsageError
from nhiwarden.report import ExceptionInForce, Report, ScanInfo
from nhiwarden.scanner import scope_order

_COMPARABLE = ("thresholds", "rules", "include_system", "fail_on", "scope_filter", "config_sha256")


def merge_reports(reports: list[Report]) -> Report:
    if not reports:
        raise UsageError("merge: no reports given")
    first = reports[0]
    for other in reports[1:]:
        if other.scan.as_of != first.scan.as_of:
            raise UsageError("merge: the reports were evaluated at different --as-of dates")
        for key in _COMPARABLE:
            if other.scan.parameters.get(key) != first.scan.parameters.get(key):
                raise UsageError(f"merge: the reports differ in scan parameter {key!r}")
    providers = list(dict.fromkeys(p for r in reports for p in r.scan.parameters.get("providers", [])))
    scopes = {(s.provider, s.scope): s for r in reports for s in r.scopes}
    ordered = sorted(scopes.values(), key=scope_order(providers))
    rank = {(s.provider, s.scope): i for i, s in enumerate(ordered)}
    identities = {i.uid: i for r in reports for i in r.identities}
    findings = {f.id: f for r in reports for f in r.findings}
    suppressed = {s.finding.id: s for r in reports for s in r.suppressed}
    exceptions = _merge_exceptions([r.exceptions for r in reports])
    parameters = dict(first.scan.parameters)
    parameters["providers"] = providers
    parameters["shard"] = None
    parameters["merged_shards"] = [r.scan.parameters.get("shard") for r in reports]
    merged = Report(
        tool=first.tool,
        scan=ScanInfo(
            id=first.scan.id,
            started_at=min(r.scan.started_at for r in reports),
            finished_at=max(r.scan.finished_at for r in reports),
            as_of=first.scan.as_of,
            parameters=parameters,
        ),
        scopes=ordered,
        identities=sorted(identities.values(), key=lambda i: rank.get((i.provider, i.scope), len(rank))),
        findings=sorted(
            findings.values(),
            key=lambda f: (-f.severity.rank, f.rule_id, f.identity.uid, f.credential.uid if f.credential else ""),
        ),
        suppressed=sorted(suppressed.values(), key=lambda s: (s.finding.rule_id, s.finding.identity.uid)),
        exceptions=exceptions,
    )
    merged.summarize()
    return merged


def _merge_exceptions(groups: list[list[ExceptionInForce]]) -> list[ExceptionInForce]:
    merged: list[ExceptionInForce] = []
    for group in groups:
        for i, exc in enumerate(group):
            if i < len(merged):
                merged[i] = merged[i].model_copy(update={"matched": merged[i].matched + exc.matched})
            else:
                merged.append(exc.model_copy())
    return merged
