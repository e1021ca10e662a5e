"""Policy HCL to privilege levels, and KV field names to credential kinds (pure, no server)."""

from __future__ import annotations

from importlib import resources

import pytest
from nhiwarden.model import Privilege
from nhiwarden.providers.vault.kv_classify import classify_fields, classify_path, flatten_names
from nhiwarden.providers.vault.policies import PolicyParseError, judge_policy, parse_policy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }', Privilege.ADMIN),
        ('path "sys/*" { capabilities = ["update", "sudo"] }', Privilege.ADMIN),
        ('path "sys/policies/acl/*" { capabilities = ["create", "update"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "sys/auth/*" { capabilities = ["update"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "auth/+/role/*" { capabilities = ["create"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "auth/token/create" { capabilities = ["update"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "identity/*" { capabilities = ["update"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "secret/data/ci/*" { capabilities = ["create", "update"] }', Privilege.WRITE),
        ('path "secret/data/*" { capabilities = ["update", "sudo"] }', Privilege.PRIVILEGE_ESCALATION),
        ('path "secret/data/app/*" { capabilities = ["read"] }', Privilege.READ),
        ('path "*" { capabilities = ["read", "list"] }', Privilege.READ),
        ('path "auth/token/accessors" { capabilities = ["list", "sudo"] }', Privilege.READ),
        ('path "auth/token/lookup-accessor" { capabilities = ["update"] }', Privilege.READ),
        ('path "auth/token/create" { policy = "write" }', Privilege.PRIVILEGE_ESCALATION),
        ('path "*" { capabilities = ["deny"] }', None),
    ],
)
def test_policy_paths_resolve_to_privilege_levels(text: str, expected: Privilege | None) -> None:
    assert judge_policy("p", text).privilege == expected


def test_builtin_default_policy_self_service_is_not_escalation() -> None:
    default = """
    path "auth/token/renew-self" { capabilities = ["update"] }
    path "auth/token/revoke-self" { capabilities = ["update"] }
    path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
    path "identity/oidc/provider/+/authorize" { capabilities = ["read", "update"] }
    """
    assert judge_policy("default", default).privilege is Privilege.WRITE


def test_root_policy_is_admin_without_text() -> None:
    verdict = judge_policy("root", "")
    assert verdict.privilege is Privilege.ADMIN and verdict.permissions == ("*",)


def test_shipped_scanner_policy_is_read_only() -> None:
    text = (resources.files("nhiwarden.providers.vault") / "policy" / "nhiwarden-scanner.hcl").read_text()
    verdict = judge_policy("nhiwarden-scanner", text)
    assert verdict.privilege is Privilege.READ
    paths = {r.path for r in parse_policy(text)}
    assert not any("/data/" in p for p in paths)  # never secret values


def test_invalid_hcl_raises_a_parse_error_without_the_text() -> None:
    with pytest.raises(PolicyParseError) as err:
        parse_policy('path "x" { capabilities = ["read" ')
    assert "capabilities" not in str(err.value)


@pytest.mark.parametrize(
    ("path", "fields", "kind"),
    [
        ("ci/deployer", {"aws_access_key_id": None, "aws_secret_access_key": None}, "aws-access-key"),
        ("aws/ci", {"secret_key": None, "region": None}, "aws-access-key"),
        ("gcp/sa", {"key.json": None}, "gcp-sa-key"),
        ("x", {"type": None, "private_key_id": None, "private_key": None, "client_email": None}, "gcp-sa-key"),
        ("app/sp", {"client_id": None, "client_secret": None, "tenant_id": None}, "azure-client-secret"),
        ("app/db/orders", {"username": None, "password": None}, "database-password"),
        ("app/anything", {"nested": {"db_password": None}}, "database-password"),
        ("app/web", {"theme": None, "password_hint": None}, None),
        ("app/oauth", {"client_secret": None}, None),
    ],
)
def test_kv_field_names_classify_cloud_credentials(path: str, fields: dict[str, object], kind: str | None) -> None:
    found = classify_fields(path, flatten_names(fields))
    assert (found.kind if found else None) == kind


def test_path_only_fallback_needs_a_cloud_and_a_credential_word() -> None:
    assert classify_path("teams/aws/deploy-key") is not None
    assert classify_path("teams/aws/readme") is None
    assert classify_path("app/settings") is None
