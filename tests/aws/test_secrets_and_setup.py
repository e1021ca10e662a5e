"""Secrets never reach the model or errors; settings, Organizations discovery, doctor and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nhiwarden.errors import ConfigError, ScopeError
from nhiwarden.model import Scope
from nhiwarden.providers.aws import AwsProvider
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, RoleSpec, UserSpec, admin_client
from nhiwarden.sandbox.aws.faults import Fault

from .conftest import NOW, scan, seed_accounts

ORG_MASTER = "300000000050"


def test_no_canary_secret_appears_in_the_model_dump(demo, demo_results):
    dump = json.dumps(
        [
            r.model_dump(mode="json") | {"identities": [i.model_dump(mode="json") for i in r.identities]}
            for r in demo_results.values()
        ]
    )
    assert demo.canaries
    for canary in demo.canaries:
        assert canary not in dump


def test_a_secret_in_an_aws_error_message_is_redacted(demo, make_provider, sandbox):
    from nhiwarden.sandbox.aws.demo import SCANNER

    from .conftest import PROD

    key_id, secret = demo.credentials[f"{PROD}/{SCANNER}"]
    sandbox.faults.add(
        Fault(
            "iam:GetAccountAuthorizationDetails",
            code="AccessDenied",
            status=403,
            account=PROD,
            message=f"denied for SecretAccessKey={secret}",
        )
    )
    provider, _ = make_provider((key_id, secret))
    scope = next(s for s in provider.scopes() if s.id == PROD)
    with pytest.raises(ScopeError) as raised:
        scan(provider, scope)
    assert secret not in str(raised.value) and secret not in raised.value.reason
    assert "AccessDenied" in raised.value.reason


def test_account_ids_must_have_12_digits():
    with pytest.raises(ConfigError) as raised:
        AwsProvider.parse_settings({"accounts": ["123"]})
    assert raised.value.field == "providers.aws.accounts"


def test_defaults_follow_the_issue():
    settings = AwsProvider.parse_settings({})
    assert settings.region == "us-east-1"  # type: ignore[attr-defined]
    assert settings.role_name == "OrganizationAccountAccessRole"  # type: ignore[attr-defined]
    assert settings.owner_tags == ["owner", "Owner", "team"]  # type: ignore[attr-defined]


def test_organization_discovery_scans_every_active_account(sandbox, make_provider):
    estate = seed_accounts(sandbox, AccountSpec(ORG_MASTER, users=[UserSpec("scanner", keys=[KeySpec(5, 0)])]))
    org = admin_client(sandbox.endpoint, ORG_MASTER, "organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="workloads", Email="w@example.com")["CreateAccountStatus"]["AccountId"]
    seed_accounts(sandbox, AccountSpec(member, roles=[RoleSpec("OrganizationAccountAccessRole")]))
    provider, _ = make_provider(estate.credentials[f"{ORG_MASTER}/scanner"], organization=True)
    scopes = {s.id: s for s in provider.scopes()}
    assert set(scopes) == {ORG_MASTER, member}
    assert scopes[member].name == "workloads"
    assert scopes[member].params["role_arn"] == f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
    result = scan(provider, scopes[member])
    assert [i.name for i in result.identities] == ["OrganizationAccountAccessRole"]
    master = scan(provider, scopes[ORG_MASTER])
    assert master.api_calls["organizations:ListAccounts"] == 1
    assert master.api_calls["sts:GetCallerIdentity"] == 1


def test_doctor_names_the_missing_permission(demo, make_provider, sandbox):
    from nhiwarden.sandbox.aws.demo import SCANNER

    from .conftest import PROD

    sandbox.faults.add(Fault("iam:ListAccessKeys", code="AccessDenied", status=403, account=PROD))
    provider, _ = make_provider(demo.credentials[f"{PROD}/{SCANNER}"])
    checks = provider.doctor(Scope(provider="aws", id=PROD, params={"account_id": PROD}))
    failed = [c for c in checks if not c.ok]
    assert [c.check for c in failed] == ["iam:ListAccessKeys"]
    assert failed[0].detail.startswith("missing iam:ListAccessKeys: needed to name the AccessKeyId")


def test_importing_the_provider_does_not_import_boto3():
    code = "import sys, nhiwarden.providers.aws; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_start_demo_yields_settings_env_and_canaries(tmp_path: Path):
    # In a subprocess: the demo seeds the same account ids as this session's ``demo`` estate.
    code = f"""
import json, pathlib
from nhiwarden.sandbox.aws.demo import start_demo
with start_demo(pathlib.Path({str(tmp_path)!r})) as e:
    print(json.dumps({{"provider": e.provider, "settings": e.settings, "env": e.env, "canaries": e.canaries}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    estate = json.loads(out.stdout)
    assert estate["provider"] == "aws"
    assert estate["settings"]["endpoint_url"].startswith("http://127.0.0.1:")
    assert estate["env"]["AWS_ENDPOINT_URL"] == estate["settings"]["endpoint_url"]
    assert len(estate["canaries"]) >= 25
    assert estate["env"]["AWS_SECRET_ACCESS_KEY"] in estate["canaries"]


def test_doctor_says_when_the_cross_account_role_cannot_be_assumed(demo, make_provider, sandbox):
    from nhiwarden.sandbox.aws.demo import SCANNER

    from .conftest import PROD, STAGING

    sandbox.faults.add(Fault("sts:AssumeRole", code="AccessDenied", status=403, account=PROD))
    provider, _ = make_provider(demo.credentials[f"{PROD}/{SCANNER}"], accounts=[PROD, STAGING])
    staging = next(s for s in provider.scopes() if s.id == STAGING)
    (check,) = provider.doctor(staging)
    assert check.check == "sts:AssumeRole" and not check.ok
    assert f"arn:aws:iam::{STAGING}:role/OrganizationAccountAccessRole" in check.detail


def test_aws_endpoint_url_from_the_environment_is_honoured(demo, sandbox, monkeypatch):
    from nhiwarden.sandbox.aws.demo import SCANNER

    from .conftest import PROD, use_credentials

    use_credentials(monkeypatch, demo.credentials[f"{PROD}/{SCANNER}"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint)
    provider = AwsProvider({}, as_of=NOW)
    assert [s.id for s in provider.scopes()] == [PROD]


def test_a_named_profile_supplies_the_credentials(demo, sandbox, monkeypatch, tmp_path):
    from nhiwarden.sandbox.aws.demo import SCANNER

    from .conftest import PROD, use_credentials

    key_id, secret = demo.credentials[f"{PROD}/{SCANNER}"]
    use_credentials(monkeypatch, ("unused", "unused-secret-value"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[audit]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    provider = AwsProvider({"profile": "audit", "endpoint_url": sandbox.endpoint}, as_of=NOW)
    assert [s.id for s in provider.scopes()] == [PROD]
