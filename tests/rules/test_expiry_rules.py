"""credential-expiring and credential-expired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from nhiwarden.model import Credential

from tests.rules.rules_builders import ago, ahead, identity, key, of_rule, scan

EXPIRING = "credential-expiring"
EXPIRED = "credential-expired"


def secret(expires: datetime, **kw: Any) -> Credential:
    kw.setdefault("kind", "azure-client-secret")
    kw.setdefault("created", ago(300))
    return key("5f1e0c1a", expires=expires, **kw)


@pytest.mark.parametrize(("days_left", "flagged"), [(10, True), (30, True), (30.5, False), (31, False)])
def test_secret_expiring_at_the_30_day_boundary(days_left: float, flagged: bool) -> None:
    ident = identity("app", provider="azure", credentials=[secret(ahead(days_left))])
    assert bool(of_rule(scan(ident), EXPIRING)) is flagged


def test_expiring_message_and_evidence() -> None:
    ident = identity("app", provider="azure", credentials=[secret(ahead(10))])
    [finding] = of_rule(scan(ident), EXPIRING)
    assert finding.message == "client secret 5f1e0c1a of app expires in 10 days (warning window 30 days)"
    assert finding.evidence["days_left"] == 10
    assert finding.evidence["warning_days"] == 30
    assert finding.severity == "medium"


def test_expiry_warning_window_from_config() -> None:
    ident = identity("app", provider="azure", credentials=[secret(ahead(45))])
    assert of_rule(scan(ident), EXPIRING) == []
    findings = scan(ident, config={"thresholds": {"expiry_warning_days": 60}})
    assert len(of_rule(findings, EXPIRING)) == 1


def test_short_lived_token_is_not_warned_about() -> None:
    token = key("acc", kind="vault-token", static=False, created=ago(0.5), expires=ahead(0.5))
    assert of_rule(scan(identity(provider="vault", credentials=[token])), EXPIRING) == []


def test_long_lived_non_static_token_is_warned_about() -> None:
    token = key("acc", kind="vault-token", static=False, created=ago(300), expires=ahead(5))
    assert len(of_rule(scan(identity(provider="vault", credentials=[token])), EXPIRING)) == 1


def test_disabled_or_never_expiring_credential_is_not_expiring() -> None:
    ident = identity(credentials=[secret(ahead(5), enabled=False), key("AKIA", expires=None)])
    assert of_rule(scan(ident), EXPIRING) == []


def test_secret_expired_last_week_is_expired_not_expiring() -> None:
    ident = identity("app", provider="azure", credentials=[secret(ago(7))])
    findings = scan(ident)
    assert of_rule(findings, EXPIRING) == []
    [finding] = of_rule(findings, EXPIRED)
    assert finding.severity == "low"
    assert finding.message == "client secret 5f1e0c1a of app expired 7 days ago and is still present"
    assert finding.evidence["days_since_expiry"] == 7
    assert of_rule(findings, "static-credential") == []
    assert of_rule(findings, "rotation-overdue") == []


def test_disabled_expired_credential_is_still_reported() -> None:
    ident = identity("app", provider="azure", credentials=[secret(ago(7), enabled=False)])
    [finding] = of_rule(scan(ident), EXPIRED)
    assert finding.evidence["enabled"] is False


def test_credential_expiring_exactly_at_as_of_counts_as_expired() -> None:
    ident = identity("app", provider="azure", credentials=[secret(ahead(0))])
    findings = scan(ident)
    assert len(of_rule(findings, EXPIRED)) == 1
    assert of_rule(findings, EXPIRING) == []
