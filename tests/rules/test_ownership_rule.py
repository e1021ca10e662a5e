"""no-owner: on for Azure applications only, unless configured for more kinds."""

from __future__ import annotations

import pytest
from nhiwarden.errors import ConfigError
from nhiwarden.model import Identity

from tests.rules.rules_builders import identity, of_rule, scan

NO_OWNER = "no-owner"


def app(owner: str | None = None) -> Identity:
    return identity("payments-api", kind="azure-application", provider="azure", owner=owner, credentials=[])


def test_azure_application_without_owner_is_flagged() -> None:
    [finding] = of_rule(scan(app()), NO_OWNER)
    assert finding.severity == "low"
    assert finding.message == "azure-application payments-api has no owner"
    assert finding.remediation == ["assign-owner"]


def test_azure_application_with_owner_is_not_flagged() -> None:
    assert of_rule(scan(app("alice@example.com")), NO_OWNER) == []


def test_other_kinds_are_not_checked_by_default() -> None:
    assert of_rule(scan(identity()), NO_OWNER) == []


def test_every_kind_is_checked_with_star() -> None:
    config = {"rules": {NO_OWNER: {"params": {"kinds": ["*"]}}}}
    assert len(of_rule(scan(identity(), config=config), NO_OWNER)) == 1


def test_rule_can_be_switched_off() -> None:
    config = {"rules": {NO_OWNER: {"enabled": False}}}
    assert of_rule(scan(app(), config=config), NO_OWNER) == []


def test_kinds_must_be_a_list_of_strings() -> None:
    config = {"rules": {NO_OWNER: {"params": {"kinds": [1]}}}}
    with pytest.raises(ConfigError) as err:
        scan(app(), config=config)
    assert err.value.field == "rules.no-owner.params.kinds"
