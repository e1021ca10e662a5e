"""End to end: ``nhiwarden scan`` and ``nhiwarden demo`` in a subprocess against the fake GCP servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from nhiwarden.sandbox.gcp import FakeGcp, SeededOrg

from tests.conftest import run_cli


def test_scan_cli_reads_endpoints_from_config_and_projects_from_flags(
    fake: FakeGcp, key_file: Path, org: SeededOrg, tmp_path: Path
) -> None:
    settings: dict[str, Any] = fake.settings(key_file)
    config = tmp_path / "nhiwarden.yaml"
    config.write_text(yaml.safe_dump({"providers": {"gcp": settings}}))
    report = tmp_path / "report.json"
    done = run_cli(
        "scan",
        "--provider",
        "gcp",
        "--config",
        str(config),
        "--gcp-projects",
        "acme-payments-prod,acme-sandbox-dev",
        "--as-of",
        "2026-11-01T12:00:00Z",
        "--format",
        "json",
        "--output",
        str(report),
        "--fail-on",
        "critical",
    )
    assert done.returncode == 3, done.stderr  # one project denied: exit 3 even with a critical finding
    data = json.loads(report.read_text())
    assert {s["scope"]: s["status"] for s in data["scopes"]} == {
        "acme-payments-prod": "ok",
        "acme-sandbox-dev": "error",
    }
    assert data["summary"]["by_rule"]["gcp-key-exposed"] == 2
    everything = report.read_text() + done.stdout + done.stderr
    for canary in [fake.private_key, *org.canaries, *fake.store.tokens]:
        assert canary not in everything


def test_demo_cli_scans_the_seeded_gcp_estate_and_exits_clean(tmp_path: Path) -> None:
    report = tmp_path / "demo.json"
    done = run_cli("demo", "--provider", "gcp", "--format", "json", "--output", str(report))
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert {s["scope"]: s["status"] for s in data["scopes"]} == {
        "acme-data-staging": "partial",
        "acme-payments-prod": "ok",
    }
    assert data["summary"]["by_rule"]["gcp-key-exposed"] == 2
    assert data["summary"]["by_rule"]["gcp-default-service-account-privileged"] == 1
    assert "BEGIN PRIVATE KEY" not in report.read_text() + done.stderr
