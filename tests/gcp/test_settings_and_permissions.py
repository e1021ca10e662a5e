"""Settings validation, declared permissions vs the shipped custom role, and import cost."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from nhiwarden.errors import ConfigError
from nhiwarden.providers.gcp import GcpProvider, GcpSettings

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def test_organisation_and_folder_accept_bare_ids_or_resource_names() -> None:
    s = GcpSettings.model_validate({"organization": "584732910456", "folder": "folders/268401937755"})
    assert s.organization == "organizations/584732910456"
    assert s.folder == "folders/268401937755"


def test_projects_accept_a_comma_separated_value() -> None:
    assert GcpSettings.model_validate({"projects": "a-proj, b-proj"}).projects == ["a-proj", "b-proj"]


def test_a_non_numeric_organisation_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        GcpProvider.parse_settings({"organization": "acme.example"}, source="nhiwarden.yaml")
    assert err.value.field == "providers.gcp.organization"


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ConfigError):
        GcpProvider.parse_settings({"project": "typo"})


def test_endpoint_overrides_are_config_only_and_quota_defaults_to_100() -> None:
    fields = GcpSettings.model_fields
    for name in ("iam_grpc_endpoint", "rest_endpoint", "concurrency"):
        assert fields[name].json_schema_extra == {"flag": None}
    assert GcpSettings().sa_quota == 100


def test_shipped_custom_role_grants_exactly_the_declared_permissions() -> None:
    role = yaml.safe_load((ROOT / "deploy" / "gcp" / "nhiwarden-scanner-role.yaml").read_text())
    assert role["includedPermissions"] == [p.action for p in GcpProvider.permissions]
    assert all(
        not p.action.split(".")[-1].startswith(("set", "create", "delete", "update")) for p in GcpProvider.permissions
    )


def test_docs_table_names_every_declared_permission() -> None:
    text = (ROOT / "README.md").read_text()
    for permission in GcpProvider.permissions:
        assert f"`{permission.action}`" in text


def test_importing_the_provider_does_not_load_google_libraries() -> None:
    code = (
        "import sys, datetime, nhiwarden.providers.gcp as g;"
        "g.GcpProvider({'projects': ['p']}, as_of=datetime.datetime.now()).scopes();"
        "bad = [m for m in sys.modules if m.startswith(('google', 'grpc'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_explicit_projects_need_no_api_call_to_list_scopes() -> None:
    scopes = GcpProvider({"projects": ["b-proj", "a-proj"]}, as_of=AS_OF).scopes()
    assert [(s.provider, s.id) for s in scopes] == [("gcp", "b-proj"), ("gcp", "a-proj")]
