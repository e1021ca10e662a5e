"""nhiwarden.yaml: every problem names the file, the field and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from nhiwarden.config import load_config, parse_config
from nhiwarden.errors import ConfigError
from nhiwarden.findings import Severity


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nhiwarden.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.thresholds.unused_days == 90 and config.thresholds.dormant_days == 180
    assert config.fail_on == Severity.HIGH


def test_default_file_in_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(tmp_path, "thresholds:\n  unused_days: 45\n")
    monkeypatch.chdir(tmp_path)
    assert load_config().thresholds.unused_days == 45


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("thresholds:\n  unused_days: zero\n", "thresholds.unused_days", "valid integer"),
        ("fail_on: severe\n", "fail_on", "critical"),
        ("rules:\n  unused-credential:\n    severity: huge\n", "rules.unused-credential.severity", "critical"),
        ("exceptions:\n- reason: r\n  owner: o\n  expires: 2026-01-01\n", "exceptions.0", "at least one of"),
        ("exceptions:\n- rule: x\n  owner: o\n  expires: 2026-01-01\n", "exceptions.0.reason", "required"),
        ("exceptions:\n- rule: x\n  reason: r\n  owner: o\n  expires: someday\n", "exceptions.0.expires", "date"),
        ("colour: blue\n", "colour", "Extra inputs"),
        ("version: 2\n", "version", "unsupported config version"),
        ("providers:\n  aws: [1]\n", "providers", "must be a mapping"),
    ],
)
def test_invalid_fields_name_file_field_and_problem(tmp_path: Path, text: str, field: str, problem: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.file == str(path)
    assert err.value.field == field
    assert problem in err.value.problem
    assert str(path) in str(err.value) and field in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path: Path):
    path = write(tmp_path, "thresholds:\n  unused_days: [90\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "invalid YAML" in err.value.problem and err.value.field and err.value.field.startswith("line ")


def test_missing_file_and_non_mapping(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_unknown_rule_and_unknown_rule_param_are_config_errors():
    from datetime import UTC, datetime

    from nhiwarden.model import Inventory
    from nhiwarden.rules.engine import evaluate

    with pytest.raises(ConfigError) as err:
        evaluate(Inventory(), as_of=datetime.now(UTC), config=parse_config({"rules": {"no-such-rule": {}}}))
    assert err.value.field == "rules"
    bad_param = {"rules": {"unused-credential": {"params": {"unused_dayz": 3}}}}
    with pytest.raises(ConfigError) as err:
        evaluate(Inventory(), as_of=datetime.now(UTC), config=parse_config(bad_param))
    assert err.value.field == "rules.unused-credential.params" and "unused_dayz" in err.value.problem
