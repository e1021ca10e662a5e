"""End to end: ``nhiwarden scan`` in a subprocess against this process's moto server, over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from nhiwarden.sandbox.aws.demo import SCANNER
from nhiwarden.sandbox.aws.faults import Fault

from ..conftest import run_cli
from .conftest import PROD, STAGING

SCHEMA = Path(__file__).parents[2] / "reports" / "schema" / "report.schema.json"


@pytest.fixture
def cli_env(demo):
    key_id, secret = demo.credentials[f"{PROD}/{SCANNER}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key_id,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
    )
    return env


def _scan(sandbox, env, tmp_path, *extra):
    out = tmp_path / "report.json"
    proc = run_cli(
        "scan",
        "--provider",
        "aws",
        "--aws-endpoint-url",
        sandbox.endpoint,
        "--aws-accounts",
        f"{PROD},{STAGING}",
        "--format",
        "json",
        "--output",
        str(out),
        *extra,
        env=env,
    )
    return proc, out


def test_scan_reports_key_ids_validates_and_leaks_no_canary(demo, sandbox, cli_env, tmp_path):
    proc, out = _scan(sandbox, cli_env, tmp_path, "--as-of", "2026-06-01", "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    text = out.read_text()
    report = json.loads(text)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert {s["scope"]: s["status"] for s in report["scopes"]} == {PROD: "ok", STAGING: "ok"}
    # Accounts are scanned concurrently; shared AWS-managed policies are still fetched once.
    assert sum(s["api_calls"].get("iam:GetPolicy", 0) for s in report["scopes"]) == 5
    key_findings = [f for f in report["findings"] if (f.get("credential") or {}).get("kind") == "aws-access-key"]
    assert key_findings and all(f["credential"]["id"].startswith("AKIA") for f in key_findings)
    rules = {(f["rule_id"], f["identity"]["name"]) for f in report["findings"]}
    assert ("over-privileged", "svc-admin-bot") in rules
    assert ("unused-credential", "svc-legacy-etl") in rules or ("dormant-identity", "svc-legacy-etl") in rules
    assert ("human-use", "svc-console-ops") in rules
    assert not any(
        name == "svc-fresh-new" and rule in {"unused-credential", "dormant-identity"} for rule, name in rules
    )
    assert not any(name == "AWSServiceRoleForSupport" for _, name in rules)
    for canary in demo.canaries:
        assert canary not in text and canary not in proc.stdout and canary not in proc.stderr


def test_as_of_moves_the_rotation_deadline(sandbox, cli_env, tmp_path):
    # svc-staging-deploy's key was created 95 days before 2026-06-01 12:00.
    _, before = _scan(sandbox, cli_env, tmp_path, "--as-of", "2026-05-20", "--fail-on", "none")
    overdue_before = {
        f["identity"]["name"] for f in json.loads(before.read_text())["findings"] if f["rule_id"] == "rotation-overdue"
    }
    _, after = _scan(sandbox, cli_env, tmp_path, "--as-of", "2026-06-02", "--fail-on", "none")
    overdue_after = {
        f["identity"]["name"] for f in json.loads(after.read_text())["findings"] if f["rule_id"] == "rotation-overdue"
    }
    assert "svc-staging-deploy" not in overdue_before
    assert "svc-staging-deploy" in overdue_after


def test_a_denied_account_exits_3_and_the_other_is_still_reported(sandbox, cli_env, tmp_path):
    sandbox.faults.add(Fault("*", code="AccessDenied", status=403, times=float("inf"), account=STAGING))
    proc, out = _scan(sandbox, cli_env, tmp_path, "--as-of", "2026-06-01", "--fail-on", "none")
    assert proc.returncode == 3, proc.stderr
    scopes = {s["scope"]: s for s in json.loads(out.read_text())["scopes"]}
    assert scopes[PROD]["status"] == "ok"
    assert scopes[STAGING]["status"] == "error" and "AccessDenied" in scopes[STAGING]["error"]


def test_an_invalid_account_id_is_a_usage_error(cli_env, sandbox, tmp_path):
    proc = run_cli("scan", "--provider", "aws", "--aws-accounts", "12345", env=cli_env)
    assert proc.returncode == 2
    assert "12345" in proc.stderr and "12-digit" in proc.stderr
