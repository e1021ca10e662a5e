"""Parsing the credential report exactly as AWS writes it (root row, N/A, no_information)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from nhiwarden.providers.aws.credential_report import parse_report

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)
ROOT = (
    "<root_account>,arn:aws:iam::123456789012:root,2015-01-01T00:00:00+00:00,not_supported,"
    "2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
    "false,N/A,false,N/A"
)
CI = (
    "svc-ci,arn:aws:iam::123456789012:user/svc-ci,2020-03-01T10:00:00+00:00,false,N/A,N/A,N/A,false,"
    "true,2024-02-01T08:30:00+00:00,2024-05-30T11:15:00+00:00,us-east-1,s3,"
    "false,2023-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A"
)
OPS = (
    "ops,arn:aws:iam::123456789012:user/ops,2020-03-01T10:00:00+00:00,true,no_information,"
    "2021-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
GENERATED = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def test_root_row_is_skipped_and_users_are_parsed():
    report = parse_report("\n".join([HEADER, ROOT, CI, OPS]).encode(), GENERATED)
    assert set(report.rows) == {"svc-ci", "ops"}
    assert report.generated_at == GENERATED
    assert "2024-06-01T09:00:00+00:00" in report.source


def test_key_slots_carry_status_rotation_and_last_use():
    ci = parse_report("\n".join([HEADER, CI]), GENERATED).rows["svc-ci"]
    first, second = ci.keys
    assert (first.slot, first.active, first.last_used_service, first.last_used_region) == (1, True, "s3", "us-east-1")
    assert first.last_rotated == datetime(2024, 2, 1, 8, 30, tzinfo=UTC)
    assert first.last_used == datetime(2024, 5, 30, 11, 15, tzinfo=UTC)
    assert (second.slot, second.active, second.last_used) == (2, False, None)  # inactive, never used
    assert not ci.password_enabled and ci.password_last_used is None


def test_password_never_used_is_no_information():
    ops = parse_report("\n".join([HEADER, OPS]), GENERATED).rows["ops"]
    assert ops.password_enabled and ops.password_last_used is None and ops.mfa_active
    assert ops.password_last_changed == datetime(2021, 1, 1, tzinfo=UTC)
    assert ops.keys == []


@given(st.text())
def test_any_text_parses_without_crashing(text):
    parse_report(text, None)


def test_users_newer_than_the_report_have_unknown_usage_and_make_the_scope_partial():
    from nhiwarden.model import ScopeResult
    from nhiwarden.providers.aws import AwsProvider
    from nhiwarden.providers.aws.authorization import AuthorizationDetails
    from nhiwarden.providers.aws.identities import build_user

    report = parse_report("\n".join([HEADER, CI]), GENERATED)
    details = AuthorizationDetails(users=[{"UserName": "svc-ci"}, {"UserName": "svc-new"}])
    result = ScopeResult(provider="aws", scope="123456789012")
    AwsProvider._record_report(report, details, result)
    assert result.status == "partial"
    assert "1 user(s) created after the report was generated (svc-new)" in result.missing[0]
    assert result.attributes["credential_report_generated_at"] == "2024-06-01T09:00:00+00:00"
    new = build_user("123456789012", {"UserName": "svc-new"}, details, {}, report, ["owner"])
    assert new.credentials == [] and not new.usage_known
