"""Evaluate every enabled rule over an inventory and turn hits into findings.

Pure: the same inventory, configuration and ``as_of`` always give the same findings in the same order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nhiwarden.config import Config
from nhiwarden.errors import ConfigError
from nhiwarden.findings import Control, CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Inventory
from nhiwarden.rules import all_rules
from nhiwarden.rules.base import Hit, Rule, RuleContext
from nhiwarden.rules.controls import controls_for, parse_controls


def effective_params(rule: Rule, config: Config) -> dict[str, Any]:
    """Rule defaults, then the global thresholds the rule uses, then the rule's own overrides."""
    params = dict(rule.params)
    for key, value in config.thresholds.model_dump(exclude_unset=True).items():
        if key in params:
            params[key] = value
    override = config.rules.get(rule.id)
    if override:
        unknown = set(override.params) - set(rule.params)
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(rule.params) or 'none'}",
                file=config.source,
                field=f"rules.{rule.id}.params",
            )
        params.update(override.params)
    return params


def enabled_rules(config: Config) -> list[Rule]:
    rules = all_rules()
    unknown = set(config.rules) - set(rules)
    if unknown:
        raise ConfigError(f"unknown rule id {sorted(unknown)[0]!r}", file=config.source, field="rules")
    out = []
    for rule in rules.values():
        override = config.rules.get(rule.id)
        enabled = override.enabled if override and override.enabled is not None else rule.enabled_by_default
        if enabled:
            out.append(rule)
    return out


def evaluate(inventory: Inventory, *, as_of: datetime, config: Config | None = None) -> list[Finding]:
    """All findings of all enabled rules, worst first, then by rule and identity."""
    config = config or Config()
    findings: dict[str, Finding] = {}
    rules = enabled_rules(config)
    params_of = {rule.id: effective_params(rule, config) for rule in rules}
    enabled = frozenset(params_of)
    shared = _Shared()
    for rule in rules:
        ctx = RuleContext(
            inventory=inventory,
            as_of=as_of,
            params=params_of[rule.id],
            include_system=config.include_system,
            enabled=enabled,
            params_of=params_of,
        )
        override = config.rules.get(rule.id)
        try:
            for hit in rule.check(ctx):
                if rule.providers and hit.identity.provider not in rule.providers:
                    continue
                finding = _to_finding(rule, hit, override.severity if override else None, shared)
                findings.setdefault(finding.id, finding)
        except ConfigError as exc:
            raise ConfigError(exc.problem, file=config.source, field=exc.field) from None
    return sorted(
        findings.values(),
        key=lambda f: (-f.severity.rank, f.rule_id, f.identity.uid, f.credential.uid if f.credential else ""),
    )


_FINDING_FIELDS = set(Finding.model_fields)


class _Shared:
    """Objects many findings of one evaluation have in common, built once and shared.

    At organisation scale findings number in the tens of thousands; sharing identity references and
    control lists (and constructing trusted data without re-validation) halves their memory.
    """

    def __init__(self) -> None:
        self.identities: dict[str, IdentityRef] = {}
        self.credentials: dict[str, CredentialRef] = {}
        self.controls: dict[tuple[str, ...], tuple[list[str], list[Control]]] = {}
        self.remediation: dict[str, list[str]] = {}

    def identity(self, hit: Hit) -> IdentityRef:
        ref = self.identities.get(hit.identity.uid)
        if ref is None:
            ref = self.identities[hit.identity.uid] = IdentityRef.of(hit.identity)
        return ref

    def credential(self, hit: Hit) -> CredentialRef | None:
        if hit.credential is None:
            return None
        ref = self.credentials.get(hit.credential.uid)
        if ref is None:
            ref = self.credentials[hit.credential.uid] = CredentialRef.of(hit.credential)
        return ref

    def control_lists(self, rule: Rule, hit: Hit) -> tuple[list[str], list[Control]]:
        labels = controls_for(rule.id, hit.identity.provider)
        labels += [c for c in dict.fromkeys(hit.controls) if c not in labels]
        key = tuple(labels)
        found = self.controls.get(key)
        if found is None:
            found = self.controls[key] = (labels, parse_controls(labels))
        return found


def _to_finding(rule: Rule, hit: Hit, severity_override: Severity | None, shared: _Shared) -> Finding:
    credential = hit.credential
    controls, compliance = shared.control_lists(rule, hit)
    remediation = shared.remediation.setdefault(rule.id, list(rule.remediation))
    # Every value is built here from validated models, so construct without validating again; every
    # field is given, so all findings can share one fields-set (adding a name already in it is a no-op).
    return Finding.model_construct(
        _fields_set=_FINDING_FIELDS,
        id=fingerprint(rule.id, hit.identity.uid, credential.uid if credential else None),
        rule_id=rule.id,
        severity=Severity(severity_override or hit.severity or rule.severity),
        title=rule.title,
        identity=shared.identity(hit),
        credential=shared.credential(hit),
        message=str(hit.message),
        evidence=dict(hit.evidence),
        controls=controls,
        compliance=compliance,
        remediation=remediation,
    )
