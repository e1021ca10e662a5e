"""OCSF findings for SIEMs: one IAM Analysis Finding (class_uid 2008, OCSF 1.6.0+) per finding.

Mapping (field list vendored in ``schema/vendor/ocsf-1.6.0-iam_analysis_finding.json``):
- ``user``: the identity (uid, name, type = our kind, ``credential_uid`` = the credential's public id,
  ``account`` = the scope);
- ``identity_activity_metrics``: last use of the identity and of the credential (``credential_uid``,
  ``credential_last_used_time``, ``last_seen_time``);
- ``permission_analysis_results``: one per grant (policy name/kind and the permissions named);
- ``finding_info``: finding id (stable fingerprint), rule as the analytic, message, ``types`` = rule id;
- ``status_id`` 1 New or 3 Suppressed (accepted by an exception); ``severity_id`` from our severity;
- ``unmapped.nhiwarden``: evidence, controls and the scan's audit facts (scan id, as_of, versions).

Output is a JSON array of events (the shape Prowler's json-ocsf uses). Times are epoch milliseconds.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from nhiwarden.findings import Finding, Severity
from nhiwarden.model import Identity
from nhiwarden.report import ExceptionInForce, Report
from nhiwarden.reports import audit
from nhiwarden.reports.baseline import unchanged_findings

OCSF_VERSION = "1.6.0"
CLASS_UID = 2008
CATEGORY_UID = 2
SEVERITY_ID = {Severity.INFO: 1, Severity.LOW: 2, Severity.MEDIUM: 3, Severity.HIGH: 4, Severity.CRITICAL: 5}
SEVERITY_CAPTION = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
CLOUD_PROVIDER = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _event(
    report: Report, f: Finding, identity: Identity | None, exception: ExceptionInForce | None, state: str
) -> dict[str, Any]:
    severity_id = SEVERITY_ID[f.severity]
    cred = f.credential
    credential = None
    if identity is not None and cred is not None:
        credential = next((c for c in identity.credentials if c.uid == cred.uid), None)
    metrics = _drop_none(
        {
            "last_seen_time": _ms(identity.last_used_at) if identity else None,
            "credential_uid": cred.id if cred else None,
            "credential_last_used_time": _ms(credential.last_used_at) if credential else None,
        }
    )
    event: dict[str, Any] = {
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "IAM Analysis Finding",
        "type_uid": CLASS_UID * 100 + 1,
        "type_name": "IAM Analysis Finding: Create",
        "severity_id": severity_id,
        "severity": SEVERITY_CAPTION[severity_id],
        "status_id": 3 if exception else 1,
        "status": "Suppressed" if exception else "New",
        "confidence_id": 3,
        "time": _ms(report.scan.finished_at),
        "timezone_offset": 0,
        "message": f.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": report.tool.name, "vendor_name": "nhiwarden", "version": report.tool.version},
            "uid": f"{report.scan.id}:{f.id}",
            "correlation_uid": report.scan.id,
            "log_name": "nhiwarden-findings",
        },
        "finding_info": _drop_none(
            {
                "uid": f.id,
                "title": f.title,
                "desc": f.message,
                "types": [f.rule_id],
                "created_time": _ms(report.scan.finished_at),
                "analytic": {"uid": f.rule_id, "name": f.rule_id, "type_id": 1, "type": "Rule"},
            }
        ),
        "user": _drop_none(
            {
                "uid": f.identity.uid,
                "name": f.identity.name,
                "type_id": 99,
                "type": f.identity.kind,
                "credential_uid": cred.id if cred else None,
                "account": {"uid": f.identity.scope, "name": f.identity.scope},
            }
        ),
        "identity_activity_metrics": metrics,
        "resources": [
            {
                "uid": f.identity.uid,
                "name": f.identity.name,
                "type": f.identity.kind,
                "owner": _drop_none({"name": identity.owner}) if identity and identity.owner else None,
            }
        ],
        "remediation": {
            "desc": "Playbooks: " + (", ".join(f.remediation) or "none") + f". See `nhiwarden rules show {f.rule_id}`."
        },
        "unmapped": {
            "nhiwarden": {
                "finding_id": f.id,
                "rule_id": f.rule_id,
                "state": state,
                "severity": f.severity.value,
                "evidence": f.evidence,
                "controls": list(f.controls),
                "compliance": [c.model_dump(mode="json") for c in f.compliance],
                "credential": cred.model_dump(mode="json") if cred else None,
                "provider": f.identity.provider,
                "scan": {
                    "id": report.scan.id,
                    "as_of": audit.iso(report.scan.as_of),
                    "started_at": audit.iso(report.scan.started_at),
                    "finished_at": audit.iso(report.scan.finished_at),
                    "tool_version": report.tool.version,
                    "rule_pack": dict(report.tool.rule_pack),
                    "thresholds": audit.thresholds(report),
                },
                "exception": exception.model_dump(mode="json") if exception else None,
            }
        },
    }
    event["resources"] = [_drop_none(r) for r in event["resources"]]
    if cred is not None:
        event["resources"].append({"uid": cred.uid, "name": cred.id, "type": cred.kind})
    if identity is not None and identity.grants:
        event["permission_analysis_results"] = [
            _drop_none(
                {
                    "policy": _drop_none(
                        {
                            "name": g.source,
                            "desc": f"{g.source_kind}: {g.reason}",
                            "group": _drop_none({"name": g.via}) if g.via else None,
                        }
                    ),
                    "granted_privileges": list(g.permissions) or None,
                }
            )
            for g in identity.grants
        ]
    provider = CLOUD_PROVIDER.get(f.identity.provider)
    if provider is not None:
        event["cloud"] = {"provider": provider, "account": {"uid": f.identity.scope}}
        event["metadata"]["profiles"] = ["cloud"]
    if not metrics and "permission_analysis_results" not in event:
        # The class needs one of its analysis objects; an empty metrics object says "no usage data".
        event["identity_activity_metrics"] = {}
    return event


def events(report: Report) -> list[dict[str, Any]]:
    identities = {i.uid: i for i in report.identities}
    state = "new" if report.baseline is not None else "active"
    out = [_event(report, f, identities.get(f.identity.uid), None, state) for f in report.findings]
    out += [_event(report, f, identities.get(f.identity.uid), None, "unchanged") for f in unchanged_findings(report)]
    out += [
        _event(report, s.finding, identities.get(s.finding.identity.uid), s.exception, "suppressed")
        for s in report.suppressed
    ]
    return out


def render(report: Report) -> str:
    """A JSON array with one event per line (compact: the C encoder is used only without indent)."""
    lines = [json.dumps(event, ensure_ascii=False, default=str) for event in events(report)]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
