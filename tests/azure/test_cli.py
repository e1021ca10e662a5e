"""End to end: ``nhiwarden scan --provider azure`` in a subprocess against the HTTPS fakes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.azure.conftest import Tenant
from tests.azure.test_findings import EXPECTED
from tests.conftest import run_cli


def test_scan_cli_reports_the_seeded_tenant_and_exits_3_for_the_denied_subscription(
    tenant: Tenant, tmp_path: Path
) -> None:
    settings = tenant.settings()
    config = {
        "providers": {"azure": {k: v for k, v in settings.items() if k != "tenant"}},
        "rate_limits": {"azure": 1000},
    }
    path = tmp_path / "nhiwarden.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = run_cli(
        "scan",
        "--provider",
        "azure",
        "--config",
        str(path),
        "--azure-tenant",
        settings["tenant"],
        "--as-of",
        "2026-06-01",
        "--format",
        "json",
        "--fail-on",
        "none",
        env=tenant.estate.env,
    )
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    statuses = {s["scope"]: s["status"] for s in report["scopes"]}
    assert statuses == {
        tenant.seeded.tenant.tenant_id: "partial",
        tenant.seeded.prod_subscription: "ok",
        tenant.seeded.denied_subscription: "error",
    }
    assert len(report["findings"]) == len(EXPECTED)
    for canary in tenant.seeded.canaries:
        assert canary not in proc.stdout and canary not in proc.stderr


def test_start_demo_serves_a_tenant_the_scanner_can_read(tmp_path: Path) -> None:
    import os

    from nhiwarden.sandbox.azure.demo import start_demo
    from nhiwarden.scanner import ScanRequest, run_scan

    from tests.azure.conftest import FAST
    from tests.conftest import AS_OF

    with start_demo(tmp_path, as_of=AS_OF) as estate:
        assert estate.provider == "azure" and estate.canaries
        saved = {k: os.environ.get(k) for k in estate.env}
        os.environ.update(estate.env)
        try:
            report = run_scan(
                ScanRequest(providers=["azure"], as_of=AS_OF, config=FAST, settings={"azure": estate.settings})
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    assert len(report.findings) == len(EXPECTED)
    text = report.model_dump_json()
    assert all(canary not in text for canary in estate.canaries)
