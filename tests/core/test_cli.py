"""The CLI end to end, in a subprocess, driven by a third-party provider registered only as an entry point."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from nhiwarden.reports.json_report import schema

from tests.conftest import days_ago, example_identity, example_key, run_cli, write_estate

CANARY = "CanarySecretValue-7f3a9b21"


@pytest.fixture
def clean_estate(tmp_path: Path) -> Path:
    key = example_key("svc-ok", "KEY1")
    return write_estate(
        tmp_path / "estate.json", [{"id": "acct", "identities": [example_identity("svc-ok", credentials=[key])]}]
    )


@pytest.fixture
def admin_estate(tmp_path: Path) -> Path:
    grant = {"privilege": "admin", "source": "AdminPolicy", "source_kind": "managed-policy", "reason": "* on *"}
    ident = example_identity("svc-admin", grants=[grant])
    return write_estate(tmp_path / "estate.json", [{"id": "acct", "identities": [ident]}])


def scan(estate: Path, *extra: str):
    return run_cli("scan", "--provider", "example", "--example-estate", str(estate), "--as-of", "2026-06-01", *extra)


def test_plugin_flags_appear_in_scan_help():
    result = run_cli("scan", "--help")
    assert result.returncode == 0
    assert "--example-estate" in result.stdout


def test_clean_scan_exits_0_and_json_validates_against_published_schema(clean_estate: Path):
    result = scan(clean_estate, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, schema())
    assert report["summary"]["identities"] == 1
    assert report["scopes"][0]["status"] == "ok"
    assert report["scan"]["as_of"].startswith("2026-06-01")


def test_high_finding_exits_1_and_fail_on_none_exits_0(admin_estate: Path):
    assert scan(admin_estate).returncode == 1
    assert scan(admin_estate, "--fail-on", "critical").returncode == 0
    assert scan(admin_estate, "--fail-on", "none").returncode == 0


def test_config_error_exits_2_naming_file_and_field(clean_estate: Path, tmp_path: Path):
    config = tmp_path / "nhiwarden.yaml"
    config.write_text("thresholds:\n  unused_days: -5\n")
    result = scan(clean_estate, "--config", str(config))
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "thresholds.unused_days" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_provider_bad_date_and_bad_format_exit_2(clean_estate: Path):
    assert run_cli("scan", "--provider", "nosuch").returncode == 2
    bad_date = run_cli("scan", "--provider", "example", "--example-estate", str(clean_estate), "--as-of", "June")
    assert bad_date.returncode == 2 and "--as-of" in bad_date.stderr
    assert scan(clean_estate, "--format", "pdf").returncode == 2


def test_failed_scope_exits_3_while_other_scopes_complete(tmp_path: Path):
    estate = write_estate(
        tmp_path / "estate.json",
        [
            {"id": "acct", "identities": [example_identity("svc-ok")]},
            {"id": "denied", "fail": f"AccessDenied for password={CANARY}"},
        ],
    )
    result = scan(estate, "--format", "json")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    statuses = {s["scope"]: s["status"] for s in report["scopes"]}
    assert statuses == {"acct": "ok", "denied": "error"}
    assert "AccessDenied" in next(s["error"] for s in report["scopes"] if s["scope"] == "denied")
    assert report["summary"]["identities"] == 1
    assert CANARY not in result.stdout + result.stderr


def test_as_of_changes_results(tmp_path: Path):
    key = example_key("svc", "KEY1", created_at=days_ago(30).isoformat(), last_used_at=days_ago(30).isoformat())
    ident = example_identity("svc", credentials=[key], last_used_at=days_ago(30).isoformat())
    estate = write_estate(tmp_path / "estate.json", [{"id": "acct", "identities": [ident]}])
    now = json.loads(scan(estate, "--format", "json").stdout)
    later = run_cli(
        "scan", "--provider", "example", "--example-estate", str(estate), "--as-of", "2026-09-01", "--format", "json"
    )
    rules_now = {f["rule_id"] for f in now["findings"]}
    rules_later = {f["rule_id"] for f in json.loads(later.stdout)["findings"]}
    assert "unused-credential" not in rules_now
    assert "unused-credential" in rules_later and "rotation-overdue" in rules_later


def test_several_formats_to_a_directory_and_report_rerenders(admin_estate: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    result = scan(admin_estate, "--format", "json,table", "--output", str(out), "--fail-on", "none")
    assert result.returncode == 0, result.stderr
    assert (out / "report.json").is_file() and "svc-admin" in (out / "report.txt").read_text()
    again = run_cli("report", str(out / "report.json"), "--format", "table")
    assert again.returncode == 0 and "over-privileged" in again.stdout


def test_report_of_a_non_report_file_exits_2(tmp_path: Path):
    bogus = tmp_path / "x.json"
    bogus.write_text("[1, 2]")
    result = run_cli("report", str(bogus))
    assert result.returncode == 2 and "not a nhiwarden report" in result.stderr


def test_inventory_lists_identities_without_findings(admin_estate: Path):
    result = run_cli("inventory", "--provider", "example", "--example-estate", str(admin_estate), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [i["name"] for i in data["identities"]] == ["svc-admin"]
    assert "findings" not in data


def test_rules_list_and_show():
    listed = run_cli("rules", "list", "--format", "json")
    ids = {r["id"] for r in json.loads(listed.stdout)}
    assert {"unused-credential", "dormant-identity", "over-privileged", "static-credential"} <= ids
    shown = run_cli("rules", "show", "unused-credential")
    assert shown.returncode == 0 and "unused_days = 90" in shown.stdout
    assert run_cli("rules", "show", "no-such-rule").returncode == 2


def test_version_and_help():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("nhiwarden ")
    assert "scan" in run_cli("--help").stdout
