"""unused-credential and dormant-identity: thresholds, never-used items, unknown usage, one root cause."""

from __future__ import annotations

import pytest

from tests.rules.rules_builders import ago, ahead, identity, key, of_rule, password, scan

UNUSED = "unused-credential"
DORMANT = "dormant-identity"


@pytest.mark.parametrize(("idle_days", "flagged"), [(89, False), (90, True), (91, True)])
def test_key_unused_at_the_90_day_boundary(idle_days: int, flagged: bool) -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(idle_days))])
    assert bool(of_rule(scan(ident), UNUSED)) is flagged


def test_key_unused_for_91_days_names_key_idle_days_and_threshold() -> None:
    ident = identity(credentials=[key("AKIAUNUSED00000001", created=ago(400), last_used=ago(91))])
    [finding] = of_rule(scan(ident), UNUSED)
    assert finding.credential is not None and finding.credential.id == "AKIAUNUSED00000001"
    assert finding.message == "access key AKIAUNUSED00000001 of svc-ci unused for 91 days (threshold 90)"
    assert finding.evidence == {
        "last_used_at": ago(91).isoformat(),
        "last_used_source": "credential-report",
        "created_at": ago(400).isoformat(),
        "tracking_since": None,
        "idle_days": 91,
        "threshold_days": 90,
    }
    assert finding.severity == "medium"
    assert finding.remediation


def test_never_used_key_created_10_days_ago_is_not_flagged() -> None:
    ident = identity(credentials=[key(created=ago(10), last_used=None)])
    assert of_rule(scan(ident), UNUSED) == []


@pytest.mark.parametrize(("age", "flagged"), [(89, False), (90, True), (91, True)])
def test_never_used_key_counts_from_creation(age: int, flagged: bool) -> None:
    ident = identity(credentials=[key(created=ago(age), last_used=None)])
    findings = of_rule(scan(ident), UNUSED)
    assert bool(findings) is flagged
    if flagged:
        assert "never used" in findings[0].message
        assert findings[0].evidence["last_used_at"] is None


def test_never_used_counts_from_tracking_start_when_later_than_creation() -> None:
    ident = identity(credentials=[key(created=ago(500), last_used=None, tracking_since=ago(60))])
    assert of_rule(scan(ident), UNUSED) == []
    ident = identity(credentials=[key(created=ago(500), last_used=None, tracking_since=ago(95))])
    [finding] = of_rule(scan(ident), UNUSED)
    assert finding.evidence["idle_days"] == 95
    assert "since usage tracking began" in finding.message


def test_disabled_key_is_never_unused() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(300), enabled=False)])
    assert of_rule(scan(ident), UNUSED) == []


def test_key_with_unknown_usage_gets_no_verdict() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=None, source=None)])
    assert of_rule(scan(ident), UNUSED) == []


def test_never_used_key_without_any_date_gets_no_verdict() -> None:
    ident = identity(credentials=[key(created=None, last_used=None)])
    assert of_rule(scan(ident), UNUSED) == []


def test_fresh_key_used_yesterday_is_not_flagged() -> None:
    assert of_rule(scan(identity()), UNUSED) == []


def test_recently_rotated_key_on_old_user_is_not_flagged() -> None:
    ident = identity(
        created=ago(2000),
        last_used=ago(700),
        credentials=[key("AKIANEW", created=ago(5), last_used=None)],
    )
    findings = scan(ident)
    assert of_rule(findings, UNUSED) == []
    assert of_rule(findings, DORMANT) == []
    assert of_rule(findings, "rotation-overdue") == []


def test_unused_console_password_is_flagged() -> None:
    ident = identity(credentials=[password(created=ago(400), last_used=ago(120))])
    [finding] = of_rule(scan(ident), UNUSED)
    assert finding.message.startswith("console password console of svc-ci unused for 120 days")


def test_expired_key_is_left_to_credential_expired() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(300), expires=ago(2))])
    findings = scan(ident)
    assert of_rule(findings, UNUSED) == []
    assert len(of_rule(findings, "credential-expired")) == 1


def test_key_last_used_in_the_future_is_not_flagged() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ahead(3))])
    assert of_rule(scan(ident), UNUSED) == []


def test_only_the_idle_key_of_two_is_flagged() -> None:
    ident = identity(
        credentials=[key("AKIAOLD", created=ago(400), last_used=ago(200)), key("AKIANEW", last_used=ago(1))]
    )
    assert [f.credential.id for f in of_rule(scan(ident), UNUSED) if f.credential] == ["AKIAOLD"]


@pytest.mark.parametrize(("idle_days", "flagged"), [(179, False), (180, True), (181, True)])
def test_identity_dormant_at_the_180_day_boundary(idle_days: int, flagged: bool) -> None:
    ident = identity(last_used=ago(idle_days), credentials=[])
    assert bool(of_rule(scan(ident), DORMANT)) is flagged


def test_dormant_role_is_flagged_with_evidence() -> None:
    role = identity("deploy", kind="aws-iam-role", last_used=ago(200), source="RoleLastUsed", credentials=[])
    [finding] = of_rule(scan(role), DORMANT)
    assert finding.identity.uid == "aws:123456789012:role/deploy"
    assert finding.credential is None
    assert finding.message == "aws-iam-role deploy has not authenticated for 200 days (threshold 180)"
    assert finding.evidence["idle_days"] == 200
    assert finding.evidence["threshold_days"] == 180
    assert finding.evidence["last_used_source"] == "RoleLastUsed"


@pytest.mark.parametrize(("age", "flagged"), [(179, False), (180, True)])
def test_never_used_identity_counts_from_creation(age: int, flagged: bool) -> None:
    ident = identity(created=ago(age), last_used=None, credentials=[])
    findings = of_rule(scan(ident), DORMANT)
    assert bool(findings) is flagged
    if flagged:
        assert "never used in the 180 days since creation" in findings[0].message


def test_identity_with_unknown_usage_is_never_dormant() -> None:
    ident = identity(created=ago(900), last_used=None, source=None, credentials=[])
    assert of_rule(scan(ident), DORMANT) == []


def test_disabled_identity_is_never_dormant_nor_unused() -> None:
    ident = identity(last_used=ago(900), enabled=False, credentials=[key(created=ago(900), last_used=ago(900))])
    findings = scan(ident)
    assert of_rule(findings, DORMANT) == []
    assert of_rule(findings, UNUSED) == []


def test_recent_key_use_keeps_identity_from_being_dormant() -> None:
    ident = identity(last_used=ago(300), credentials=[key(created=ago(400), last_used=ago(3))])
    assert of_rule(scan(ident), DORMANT) == []


def test_dormant_identity_suppresses_unused_credential_findings() -> None:
    ident = identity(
        last_used=ago(250),
        credentials=[key("AKIA1", created=ago(400), last_used=ago(250)), key("AKIA2", created=ago(300))],
    )
    for cred in ident.credentials:
        cred.last_used_at = ago(250)
    findings = scan(ident)
    assert len(of_rule(findings, DORMANT)) == 1
    assert of_rule(findings, UNUSED) == []


def test_unused_findings_return_when_skip_when_dormant_is_off() -> None:
    ident = identity(last_used=ago(250), credentials=[key(created=ago(400), last_used=ago(250))])
    config = {"rules": {UNUSED: {"params": {"skip_when_dormant": False}}}}
    findings = scan(ident, config=config)
    assert len(of_rule(findings, DORMANT)) == 1
    assert len(of_rule(findings, UNUSED)) == 1


def test_identity_idle_but_below_dormant_threshold_keeps_unused_finding() -> None:
    ident = identity(last_used=ago(120), credentials=[key(created=ago(400), last_used=ago(120))])
    findings = scan(ident)
    assert of_rule(findings, DORMANT) == []
    assert len(of_rule(findings, UNUSED)) == 1


def test_global_dormant_threshold_applies_to_the_dormant_skip() -> None:
    ident = identity(last_used=ago(120), credentials=[key(created=ago(400), last_used=ago(120))])
    findings = scan(ident, config={"thresholds": {"dormant_days": 100}})
    assert len(of_rule(findings, DORMANT)) == 1
    assert of_rule(findings, UNUSED) == []


def test_global_unused_threshold_is_applied() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(50))])
    assert of_rule(scan(ident), UNUSED) == []
    [finding] = of_rule(scan(ident, config={"thresholds": {"unused_days": 45}}), UNUSED)
    assert finding.evidence["threshold_days"] == 45
    assert finding.message.endswith("(threshold 45)")


def test_per_rule_param_overrides_global_threshold() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(50))])
    config = {"thresholds": {"unused_days": 100}, "rules": {UNUSED: {"params": {"unused_days": 45}}}}
    assert len(of_rule(scan(ident, config=config), UNUSED)) == 1


def test_service_linked_role_is_excluded_by_default_and_included_on_request() -> None:
    role = identity("AWSServiceRoleForSupport", kind="aws-iam-role", system=True, last_used=None, credentials=[])
    assert scan(role) == []
    findings = scan(role, config={"include_system": True})
    assert [f.rule_id for f in findings] == [DORMANT]


def test_as_of_moves_the_verdict() -> None:
    ident = identity(credentials=[key(created=ago(400), last_used=ago(60))])
    assert of_rule(scan(ident), UNUSED) == []
    assert len(of_rule(scan(ident, as_of=ahead(30)), UNUSED)) == 1
