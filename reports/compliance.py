"""The compliance view: per framework, which controls passed, failed or were not evaluated.

A control is evaluated by the enabled rules that map to it (``rules/data/controls``) on the providers
those mappings name. It *fails* when an active finding carries it; it *passes* when at least one
provider it applies to was scanned (scope status ok or partial) and no active finding carries it; it is
*not evaluated* when its rules are disabled or none of its providers was scanned. Findings accepted by
an exception do not fail a control, but the control says how many were accepted.

Pure: reads the report and the crosswalk data, never the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from nhiwarden.report import Report
from nhiwarden.reports.audit import enabled_rule_ids
from nhiwarden.reports.baseline import known_findings
from nhiwarden.rules import all_rules
from nhiwarden.rules.controls import controls_for, frameworks, parse_controls

Status = Literal["pass", "fail", "not-evaluated"]
KNOWN_PROVIDERS = ("aws", "azure", "gcp", "kubernetes", "vault")
_KIND_PREFIX = {
    "aws": "aws",
    "gcp": "gcp",
    "azure": "azure",
    "k8s": "kubernetes",
    "kubernetes": "kubernetes",
    "vault": "vault",
}


@dataclass
class ControlStatus:
    framework: str
    control: str
    label: str
    status: Status = "not-evaluated"
    findings: int = 0
    accepted: int = 0
    rules: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "control": self.control,
            "label": self.label,
            "status": self.status,
            "findings": self.findings,
            "accepted": self.accepted,
            "rules": sorted(self.rules),
            "providers": sorted(self.providers),
            "note": self.note,
        }


@dataclass
class FrameworkView:
    prefix: str
    name: str
    version: str
    controls: list[ControlStatus]

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "not-evaluated": 0}
        for c in self.controls:
            out[c.status] += 1
        return out


def _crosswalk_keys(rule_id: str) -> dict[str, list[str]]:
    try:
        from nhiwarden.rules.controls import _crosswalk

        return dict(_crosswalk().get(rule_id, {}))
    except ImportError:  # pragma: no cover - crosswalk internals moved
        return {p: controls_for(rule_id, p) for p in KNOWN_PROVIDERS}


def _provider_of_key(key: str) -> str | None:
    """'all' -> None (every provider); a provider name; or a credential kind's provider."""
    if key == "all":
        return None
    if key in KNOWN_PROVIDERS:
        return key
    return _KIND_PREFIX.get(key.split("-", 1)[0], key)


def _natural(text: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def evaluate(report: Report) -> list[FrameworkView]:
    known = frameworks()
    rules = all_rules()
    enabled = (
        set(enabled_rule_ids(report))
        if report.scan.parameters.get("rules")
        else {r.id for r in rules.values() if r.enabled_by_default}
    )
    scanned = {s.provider for s in report.scopes if s.status != "error"}
    partial = {s.provider for s in report.scopes if s.status == "partial"}
    attempted = {s.provider for s in report.scopes}
    all_providers = set(KNOWN_PROVIDERS) | {s.provider for s in report.scopes}
    table: dict[str, ControlStatus] = {}

    def entry(label: str) -> ControlStatus | None:
        if label in table:
            return table[label]
        parsed = parse_controls([label])
        if not parsed:
            return None
        c = parsed[0]
        table[label] = ControlStatus(framework=c.framework, control=c.control, label=label)
        return table[label]

    disabled_only: set[str] = set()
    for rule_id in sorted(set(rules) | enabled):
        rule = rules.get(rule_id)
        restrict = set(rule.providers) if rule and rule.providers else None
        for key, labels in _crosswalk_keys(rule_id).items():
            owner = _provider_of_key(key)
            targets = set(all_providers) if owner is None else {owner}
            if restrict is not None:
                targets &= restrict
            for label in labels:
                item = entry(label)
                if item is None:
                    continue
                if rule_id not in enabled:
                    disabled_only.add(label)
                    continue
                item.rules.add(rule_id)
                item.providers |= targets
    for finding in known_findings(report):
        for label in finding.controls:
            item = entry(label)
            if item is not None:
                item.findings += 1
                item.rules.add(finding.rule_id)
                item.providers.add(finding.identity.provider)
    for suppressed in report.suppressed:
        for label in suppressed.finding.controls:
            item = entry(label)
            if item is not None:
                item.accepted += 1

    for item in table.values():
        if item.findings:
            item.status = "fail"
            item.note = f"{item.findings} finding(s)"
        elif not item.rules:
            item.status = "not-evaluated"
            item.note = "rule disabled" if item.label in disabled_only else "no enabled rule maps to it"
        elif item.providers & scanned:
            item.status = "pass"
            covered = sorted(item.providers & scanned)
            item.note = "checked on " + ", ".join(covered)
            if item.providers & partial:
                item.note += " (some scopes partial: see Scopes)"
        else:
            item.status = "not-evaluated"
            failed = sorted(item.providers & attempted)
            others = sorted(item.providers - attempted)
            reasons = []
            if failed:
                reasons.append("scan failed: " + ", ".join(failed))
            if others:
                reasons.append("provider not scanned: " + ", ".join(others))
            item.note = "; ".join(reasons)
        if item.accepted:
            item.note += f"; {item.accepted} accepted by exception"

    views = []
    for prefix, meta in known.items():
        controls = sorted((c for c in table.values() if c.framework == prefix), key=lambda c: _natural(c.control))
        if controls:
            views.append(
                FrameworkView(
                    prefix=prefix,
                    name=str(meta.get("name", prefix)),
                    version=str(meta.get("version", "")),
                    controls=controls,
                )
            )
    return views


def as_json(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "framework": v.prefix,
            "name": v.name,
            "version": v.version,
            "counts": v.counts(),
            "controls": [c.as_dict() for c in v.controls],
        }
        for v in evaluate(report)
    ]
