"""The demo estate, scanned over HTTP through boto3, gives exactly the expected inventory."""

from __future__ import annotations

from datetime import timedelta

from nhiwarden.model import Privilege
from nhiwarden.providers.aws.credential_report import KEY_TRACKING_SINCE, PASSWORD_TRACKING_SINCE
from nhiwarden.sandbox.aws.demo import demo_specs

from .conftest import NOW, PROD, STAGING, scan_all


def _by_uid(result):  # type: ignore[no-untyped-def]
    return {i.uid: i for i in result.identities}


def test_scan_lists_exactly_the_seeded_users_and_roles_of_both_accounts(demo_results):
    results = demo_results
    assert set(results) == {PROD, STAGING}
    for spec in demo_specs(PROD, STAGING):
        expected = {f"aws:{spec.account_id}:user/{u.name}" for u in spec.users} | {
            f"aws:{spec.account_id}:role/{r.name}" for r in spec.roles
        }
        result = results[spec.account_id]
        assert set(_by_uid(result)) == expected
        assert result.status == "ok", result.missing
        assert result.identity_count == len(expected)
        keys = sum(len(u.keys) + (1 if u.password else 0) for u in spec.users)
        assert result.credential_count == keys


def test_staging_is_reached_by_assuming_the_organization_role(demo_provider):
    provider, _ = demo_provider
    scopes = {s.id: s for s in provider.scopes()}
    assert "role_arn" not in scopes[PROD].params
    assert scopes[STAGING].params["role_arn"] == f"arn:aws:iam::{STAGING}:role/OrganizationAccountAccessRole"
    results = scan_all(provider)
    assert results[STAGING].api_calls["sts:AssumeRole"] == 1
    assert "sts:AssumeRole" not in results[PROD].api_calls


def test_access_keys_are_provisional_report_slots_with_report_usage(demo_results):
    result = demo_results[PROD]
    backup = _by_uid(result)[f"aws:{PROD}:user/svc-backup"]
    keys = [c for c in backup.credentials if c.kind == "aws-access-key"]
    assert [c.uid for c in keys] == [
        f"aws:{PROD}:user/svc-backup:access-key-slot/1",
        f"aws:{PROD}:user/svc-backup:access-key-slot/2",
    ]
    old, new = keys
    assert all(c.provisional and c.static and c.enabled for c in keys)
    assert old.created_at == (NOW - timedelta(days=300)).replace(microsecond=0)
    assert old.last_used_at == (NOW - timedelta(days=100)).replace(microsecond=0)
    assert old.last_used_source is not None and "credential report" in old.last_used_source
    assert "2015-02-02T20:02:02" in old.last_used_source  # moto's fixed GeneratedTime, as evidence
    assert old.last_used_tracking_since == KEY_TRACKING_SINCE
    assert backup.last_used_at == new.last_used_at  # identity usage = latest over its credentials
    assert result.attributes["credential_report_generated_at"].startswith("2015-02-02T20:02:02")


def test_never_used_key_has_a_source_and_no_last_used(demo_results):
    never = _by_uid(demo_results[PROD])[f"aws:{PROD}:user/svc-never-used"]
    (key,) = never.credentials
    assert key.last_used_at is None and key.usage_known
    assert never.last_used_at is None and never.usage_known


def test_disabled_key_is_reported_disabled(demo_results):
    user = _by_uid(demo_results[PROD])[f"aws:{PROD}:user/svc-disabled-key"]
    assert [c.enabled for c in user.credentials] == [False]


def test_console_password_is_an_interactive_credential(demo_results):
    ops = _by_uid(demo_results[PROD])[f"aws:{PROD}:user/svc-console-ops"]
    (password,) = [c for c in ops.credentials if c.kind == "password"]
    assert password.interactive and not password.provisional
    assert password.last_used_at == (NOW - timedelta(days=10)).replace(microsecond=0)
    assert password.last_used_tracking_since == PASSWORD_TRACKING_SINCE
    assert ops.attributes["mfa_active"] is False


def test_roles_use_role_last_used_with_a_400_day_window(demo_results):
    ids = _by_uid(demo_results[PROD])
    pipeline = ids[f"aws:{PROD}:role/data-pipeline"]
    assert pipeline.kind == "aws-iam-role"
    assert pipeline.last_used_at == (NOW - timedelta(days=250)).replace(microsecond=0)
    assert pipeline.last_used_source is not None and "400 days" in pipeline.last_used_source
    assert pipeline.last_used_tracking_since == NOW - timedelta(days=400)
    migration = ids[f"aws:{PROD}:role/old-migration-role"]
    assert migration.last_used_at is None and migration.usage_known


def test_service_linked_role_is_marked_system(demo_results):
    ids = _by_uid(demo_results[PROD])
    assert ids[f"aws:{PROD}:role/AWSServiceRoleForSupport"].system
    assert not any(i.system for uid, i in ids.items() if "AWSServiceRole" not in uid)


def test_owner_comes_from_the_first_owner_tag(demo_results):
    ids = _by_uid(demo_results[PROD])
    assert ids[f"aws:{PROD}:user/svc-ci-deploy"].owner == "platform"
    assert ids[f"aws:{PROD}:user/svc-legacy-etl"].owner == "data"  # "team" tag
    assert ids[f"aws:{PROD}:user/svc-never-used"].owner is None


def test_admin_and_escalation_grants_name_the_policy_and_the_group(demo_results):
    ids = _by_uid(demo_results[PROD])
    (admin,) = [g for g in ids[f"aws:{PROD}:user/svc-ops-admin"].grants if g.privilege is Privilege.ADMIN]
    assert (admin.source, admin.via, admin.source_kind) == (
        "AdministratorAccess",
        "group/platform-admins",
        "aws-managed-policy",
    )
    assert ids[f"aws:{PROD}:user/svc-iam-manager"].privilege is Privilege.ADMIN
    ci = ids[f"aws:{PROD}:user/svc-ci-deploy"]
    assert ci.privilege is Privilege.PRIVILEGE_ESCALATION
    assert "iam:PassRole + ec2:RunInstances" in ci.grants[0].permissions
    assert ci.grants[0].source == "deploy-with-passrole"
    assert ids[f"aws:{PROD}:user/svc-report-reader"].privilege is Privilege.READ
    assert ids[f"aws:{PROD}:role/ci-deployer"].privilege is Privilege.PRIVILEGE_ESCALATION


def test_aws_managed_policies_are_fetched_once_for_all_accounts(demo_provider):
    provider, _ = demo_provider
    results = scan_all(provider)
    fetched = sum(r.api_calls.get("iam:GetPolicy", 0) for r in results.values())
    assert fetched == 5  # AdministratorAccess, IAMFullAccess, ReadOnly, PowerUser, S3ReadOnly
    assert sum(r.api_calls.get("iam:GetPolicyVersion", 0) for r in results.values()) == 5


def test_bulk_reads_keep_the_call_count_small(demo_provider, sandbox):
    provider, _ = demo_provider
    sandbox.faults.reset_counts()
    results = scan_all(provider)
    staging = results[STAGING].api_calls
    assert staging == {
        "sts:AssumeRole": 1,
        "iam:GenerateCredentialReport": 1,  # IAM reuses the report generated by an earlier scan
        "iam:GetAccountAuthorizationDetails": 1,
        "iam:GetCredentialReport": 1,
    }
    # The server saw exactly the requests the client counted (AssumeRole is served by the caller's account).
    seen = sandbox.faults.calls(STAGING)
    assert {k: v for k, v in staging.items() if k != "sts:AssumeRole"} == seen
