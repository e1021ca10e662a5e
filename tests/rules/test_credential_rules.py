"""static-credential, rotation-overdue and multiple-active-credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nhiwarden.model import Credential

from tests.rules.rules_builders import ago, ahead, identity, key, of_rule, password, scan

STATIC = "static-credential"
ROTATION = "rotation-overdue"
MULTIPLE = "multiple-active-credentials"


@pytest.mark.parametrize(("age", "flagged"), [(89, False), (90, True), (91, True)])
def test_key_rotation_at_the_90_day_boundary(age: int, flagged: bool) -> None:
    ident = identity(credentials=[key(created=ago(age))])
    assert bool(of_rule(scan(ident), ROTATION)) is flagged


def test_rotation_overdue_names_key_age_and_threshold() -> None:
    ident = identity(credentials=[key("AKIAOLD0000000000001", created=ago(120))])
    [finding] = of_rule(scan(ident), ROTATION)
    assert finding.message == "access key AKIAOLD0000000000001 of svc-ci is 120 days old (rotate every 90 days)"
    assert finding.evidence["age_days"] == 120
    assert finding.evidence["threshold_days"] == 90
    assert "CIS-AWS-1.14" in finding.controls
    assert finding.remediation == ["rotate"]


def test_rotation_threshold_from_config() -> None:
    ident = identity(credentials=[key(created=ago(40))])
    assert len(of_rule(scan(ident, config={"thresholds": {"rotation_days": 30}}), ROTATION)) == 1


@pytest.mark.parametrize(
    "cred",
    [
        key(created=ago(400), enabled=False),
        key(created=ago(400), static=False, expires=ahead(1)),
        key(created=None),
        password(created=ago(400)),
        key(created=ago(400), expires=ago(1)),
    ],
    ids=["disabled", "short-lived", "unknown-age", "console-password", "expired"],
)
def test_rotation_not_judged_for(cred: Credential) -> None:
    ident = identity(credentials=[cred])
    assert of_rule(scan(ident), ROTATION) == []


def test_fresh_key_is_static_but_not_overdue() -> None:
    findings = scan(identity(credentials=[key(created=ago(1))]))
    assert of_rule(findings, ROTATION) == []
    assert len(of_rule(findings, STATIC)) == 1


def test_static_key_that_never_expires_is_flagged() -> None:
    [finding] = of_rule(scan(identity(credentials=[key("AKIASTATIC")])), STATIC)
    assert finding.message == "access key AKIASTATIC of svc-ci is a long-lived secret that never expires"
    assert finding.evidence["static"] is True
    assert finding.evidence["lifetime_exceeded"] is False
    assert finding.remediation == ["migrate", "rotate"]


def test_short_lived_credential_never_fires_static() -> None:
    token = key("hvs-accessor", kind="vault-token", static=False, created=ago(1), expires=ahead(1))
    assert of_rule(scan(identity(credentials=[token])), STATIC) == []


def test_disabled_and_interactive_credentials_are_not_static_findings() -> None:
    ident = identity(credentials=[key(enabled=False), password()])
    assert of_rule(scan(ident), STATIC) == []


def test_secret_valid_for_99_years_reports_its_lifetime() -> None:
    secret = key("b1c2", kind="azure-client-secret", created=ago(10), expires=ahead(99 * 365))
    ident = identity("app-payments", kind="azure-application", provider="azure", credentials=[secret])
    [finding] = of_rule(scan(ident), STATIC)
    assert finding.evidence["lifetime_exceeded"] is True
    assert finding.evidence["lifetime_days"] > 365
    assert "client secret b1c2 of app-payments is valid for" in finding.message
    assert "(maximum 365)" in finding.message


@pytest.mark.parametrize(("lifetime", "exceeded"), [(365, False), (366, True)])
def test_lifetime_limit_boundary(lifetime: int, exceeded: bool) -> None:
    secret = key("s1", kind="azure-client-secret", created=ago(10), expires=ago(10) + timedelta(days=lifetime))
    [finding] = of_rule(scan(identity(provider="azure", credentials=[secret])), STATIC)
    assert finding.evidence["lifetime_exceeded"] is exceeded


def test_long_lived_non_static_credential_fires_for_its_lifetime() -> None:
    token = key("tok", kind="vault-token", static=False, created=ago(10), expires=ahead(720))
    [finding] = of_rule(scan(identity(provider="vault", credentials=[token])), STATIC)
    assert finding.evidence["static"] is False
    assert finding.evidence["lifetime_exceeded"] is True


def test_max_lifetime_param_is_configurable() -> None:
    token = key("tok", kind="vault-token", static=False, created=ago(10), expires=ahead(720))
    config = {"rules": {STATIC: {"params": {"max_lifetime_days": 1000}}}}
    assert of_rule(scan(identity(provider="vault", credentials=[token]), config=config), STATIC) == []


def test_gcp_sa_key_static_finding_carries_the_gcp_key_control() -> None:
    sa_key = key("0123abcd", kind="gcp-sa-key")
    ident = identity(
        "ci@proj.iam.gserviceaccount.com", kind="gcp-service-account", provider="gcp", credentials=[sa_key]
    )
    [finding] = of_rule(scan(ident), STATIC)
    assert "CIS-GCP-1.4" in finding.controls
    assert "CIS-AWS-1.18" not in finding.controls


def test_two_active_keys_give_one_finding_listing_both() -> None:
    ident = identity(credentials=[key("AKIA2"), key("AKIA1")])
    [finding] = of_rule(scan(ident), MULTIPLE)
    assert finding.credential is None
    assert finding.evidence["credential_ids"] == ["AKIA1", "AKIA2"]
    assert finding.message == "svc-ci has 2 active access keys (AKIA1, AKIA2)"
    assert finding.severity == "low"
    assert "CIS-AWS-1.13" in finding.controls


@pytest.mark.parametrize(
    "second",
    [
        key("AKIA2", enabled=False),
        key("AKIA2", kind="gcp-sa-key"),
        key("AKIA2", static=False, expires=ahead(1)),
        password(),
        key("AKIA2", expires=ago(3)),
    ],
    ids=["disabled", "other-kind", "short-lived", "password", "expired"],
)
def test_one_active_static_key_is_not_multiple(second: Credential) -> None:
    ident = identity(credentials=[key("AKIA1"), second])
    assert of_rule(scan(ident), MULTIPLE) == []
