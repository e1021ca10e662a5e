"""The generic rules under configuration: overrides, errors naming the field, ids, controls, metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nhiwarden.config import Config, parse_config
from nhiwarden.errors import ConfigError
from nhiwarden.findings import fingerprint
from nhiwarden.model import Identity, Inventory
from nhiwarden.rules import all_rules
from nhiwarden.rules.controls import frameworks
from nhiwarden.rules.engine import evaluate

from tests.rules.rules_builders import (
    AS_OF,
    ago,
    ahead,
    grant,
    identity,
    inventory,
    key,
    of_rule,
    password,
    rule_ids,
    scan,
)

GENERIC = {
    "unused-credential": ("medium", {"unused_days": 90, "skip_when_dormant": True, "dormant_days": 180}),
    "dormant-identity": ("medium", {"dormant_days": 180}),
    "rotation-overdue": ("medium", {"rotation_days": 90}),
    "multiple-active-credentials": ("low", {}),
    "static-credential": ("medium", {"max_lifetime_days": 365}),
    "over-privileged": ("high", {}),
    "credential-expiring": ("medium", {"expiry_warning_days": 30}),
    "credential-expired": ("low", {}),
    "human-use": ("high", {}),
    "no-owner": ("low", {"kinds": ["azure-application"]}),
}


def messy_estate() -> list[Identity]:
    """One identity per generic rule, so every rule fires at least once."""
    return [
        identity(
            "svc-everything",
            last_used=ago(1),
            grants=[grant("admin")],
            credentials=[
                key("AKIAOLD", created=ago(400), last_used=ago(120)),
                key("AKIANEW", created=ago(5)),
                password(),
            ],
        ),
        identity("svc-gone", last_used=ago(400), credentials=[]),
        identity(
            "app-billing",
            kind="azure-application",
            provider="azure",
            uid="azure:tenant:app/billing",
            credentials=[
                key("sec-soon", kind="azure-client-secret", expires=ahead(10)),
                key("sec-gone", kind="azure-client-secret", expires=ago(10)),
            ],
        ),
    ]


def test_generic_rules_are_registered_with_their_metadata() -> None:
    rules = all_rules()
    for rule_id, (severity, params) in GENERIC.items():
        r = rules[rule_id]
        assert r.severity == severity, rule_id
        assert r.params == params, rule_id
        assert r.title and r.rationale and r.remediation, rule_id
        assert r.enabled_by_default, rule_id


def test_messy_estate_fires_every_generic_rule() -> None:
    assert rule_ids(scan(*messy_estate())) >= set(GENERIC)


def test_every_finding_has_controls_and_structured_compliance() -> None:
    known = frameworks()
    for finding in scan(*messy_estate()):
        assert finding.controls, finding.rule_id
        assert len(finding.compliance) == len(finding.controls), (finding.rule_id, finding.controls)
        for control in finding.compliance:
            assert control.framework in known
            assert control.version == str(known[control.framework]["version"])


def test_finding_ids_are_stable_across_runs_and_independent_of_messages() -> None:
    first = scan(*messy_estate())
    second = scan(*messy_estate(), as_of=ahead(30), config={"thresholds": {"unused_days": 45}})
    ids_first = {(f.rule_id, f.identity.uid, f.credential.uid if f.credential else None): f.id for f in first}
    ids_second = {(f.rule_id, f.identity.uid, f.credential.uid if f.credential else None): f.id for f in second}
    shared = ids_first.keys() & ids_second.keys()
    assert shared
    for k in shared:
        assert ids_first[k] == ids_second[k] == fingerprint(*k)
    unused_first = {f.id: f.message for f in of_rule(first, "unused-credential")}
    unused_second = {f.id: f.message for f in of_rule(second, "unused-credential")}
    common = unused_first.keys() & unused_second.keys()
    assert common and all(unused_first[i] != unused_second[i] for i in common)


def test_same_input_gives_identical_findings() -> None:
    assert scan(*messy_estate()) == scan(*messy_estate())


def test_findings_are_sorted_worst_first() -> None:
    ranks = [f.severity.rank for f in scan(*messy_estate())]
    assert ranks == sorted(ranks, reverse=True)


def test_messages_and_evidence_never_carry_a_planted_secret() -> None:
    canary = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY"
    estate = messy_estate()
    estate[0].attributes["note"] = canary
    estate[0].tags["secret"] = canary
    for finding in scan(*estate):
        assert canary not in finding.model_dump_json()


def test_severity_override_applies() -> None:
    ident = identity(credentials=[key(created=ago(100))])
    config = {"rules": {"rotation-overdue": {"severity": "critical"}}}
    assert of_rule(scan(ident, config=config), "rotation-overdue")[0].severity == "critical"


def test_rule_disabled_in_config_produces_nothing() -> None:
    config = {"rules": {"static-credential": {"enabled": False}}}
    assert "static-credential" not in rule_ids(scan(*messy_estate(), config=config))


def test_unknown_rule_id_is_a_config_error_naming_the_field() -> None:
    config = parse_config({"rules": {"unused-credentials": {"enabled": False}}}, source="nhiwarden.yaml")
    with pytest.raises(ConfigError) as err:
        evaluate(scan_inventory(), as_of=AS_OF, config=config)
    assert err.value.field == "rules"
    assert err.value.file == "nhiwarden.yaml"
    assert "unused-credentials" in str(err.value)


def test_unknown_param_is_a_config_error_naming_the_field() -> None:
    config = parse_config({"rules": {"unused-credential": {"params": {"unused_dayz": 30}}}})
    with pytest.raises(ConfigError) as err:
        evaluate(scan_inventory(), as_of=AS_OF, config=config)
    assert err.value.field == "rules.unused-credential.params"
    assert "unused_dayz" in str(err.value)


@pytest.mark.parametrize(
    ("rule_id", "param", "value"),
    [
        ("unused-credential", "unused_days", "ninety"),
        ("unused-credential", "unused_days", 0),
        ("unused-credential", "skip_when_dormant", "yes"),
        ("dormant-identity", "dormant_days", True),
        ("rotation-overdue", "rotation_days", -1),
        ("credential-expiring", "expiry_warning_days", 1.5),
        ("static-credential", "max_lifetime_days", None),
    ],
)
def test_param_of_wrong_type_is_a_config_error_naming_the_field(rule_id: str, param: str, value: object) -> None:
    config = parse_config({"rules": {rule_id: {"params": {param: value}}}})
    with pytest.raises(ConfigError) as err:
        evaluate(scan_inventory(), as_of=AS_OF, config=config)
    assert err.value.field == f"rules.{rule_id}.params.{param}"


def test_invalid_global_threshold_is_rejected_by_the_config_parser() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"thresholds": {"unused_days": 0}})
    assert err.value.field == "thresholds.unused_days"


def test_unknown_usage_everywhere_gives_no_usage_verdicts() -> None:
    ident = identity(
        created=ago(900),
        last_used=None,
        source=None,
        credentials=[key(created=ago(900), last_used=None, source=None)],
    )
    assert rule_ids(scan(ident)) & {"unused-credential", "dormant-identity"} == set()


def test_default_config_equals_no_config() -> None:
    estate = messy_estate()
    assert scan(*estate) == scan(*estate, config=Config())


def scan_inventory() -> Inventory:
    return inventory(*messy_estate())


def test_configuration_example_in_the_rule_reference_is_valid() -> None:
    doc = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rules_section = doc.split("### Configuring the rules", 1)[1]
    block = rules_section.split("```yaml", 1)[1].split("```", 1)[0]
    config = parse_config(yaml.safe_load(block), source="README.md")
    findings = scan(*messy_estate(), config=config)
    assert "multiple-active-credentials" not in rule_ids(findings)
    assert {f.severity for f in of_rule(findings, "credential-expired")} == {"medium"}
    assert of_rule(findings, "no-owner")  # every kind is checked
