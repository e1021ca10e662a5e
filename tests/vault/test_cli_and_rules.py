"""End to end through the CLI against the real server, the demo entry point, and the scope-level rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from nhiwarden.config import Config
from nhiwarden.model import Inventory, ScopeResult
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox import DemoEstate
from nhiwarden.sandbox.vault.demo import start_demo

from tests.conftest import run_cli

from .conftest import Vault

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def test_cli_scan_with_scanner_token_reports_vault_findings_and_leaks_nothing(vault: Vault, tmp_path: Path) -> None:
    token = vault.estate.secret_tokens["scanner"]
    result = run_cli(
        "scan",
        "--provider",
        "vault",
        "--vault-addr",
        vault.addr,
        "--vault-audit-log",
        str(vault.history_log),
        "--format",
        "json",
        "--fail-on",
        "none",
        env={"VAULT_TOKEN": token, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (scope,) = report["scopes"]
    assert scope["provider"] == "vault" and scope["status"] == "ok"
    rules = {f["rule_id"] for f in report["findings"]}
    assert {"vault-root-token", "vault-token-no-ttl", "over-privileged", "static-credential"} <= rules
    for secret in [*vault.estate.canaries, *vault.estate.secret_tokens.values()]:
        assert secret not in result.stdout and secret not in result.stderr


def test_cli_scan_of_a_server_that_is_down_exits_3(tmp_path: Path) -> None:
    from nhiwarden.sandbox import free_port

    result = run_cli(
        "scan",
        "--provider",
        "vault",
        "--vault-addr",
        f"http://127.0.0.1:{free_port()}",
        "--format",
        "json",
        env={"VAULT_TOKEN": "s.thisisnotarealtoken0001", "HOME": str(tmp_path)},
    )
    assert result.returncode == 3, result.stderr
    (scope,) = json.loads(result.stdout)["scopes"]
    assert scope["status"] == "error" and "cannot reach Vault" in scope["error"]
    assert "thisisnotarealtoken" not in result.stdout + result.stderr


def test_demo_starts_a_seeded_server_and_stops_it(tmp_path: Path) -> None:
    with start_demo(tmp_path) as estate:
        assert isinstance(estate, DemoEstate) and estate.provider == "vault"
        assert estate.settings["addr"].startswith("http://127.0.0.1:")
        assert Path(estate.settings["audit_log"]).is_file()
        assert estate.canaries and estate.env["VAULT_TOKEN"]
    import httpx

    try:
        httpx.get(f"{estate.settings['addr']}/v1/sys/health", timeout=1.0)
        stopped = False
    except httpx.TransportError:
        stopped = True
    assert stopped


def _scope(**attributes: object) -> ScopeResult:
    return ScopeResult(provider="vault", scope="https://vault.example:8200", attributes=dict(attributes))


def test_no_audit_device_is_flagged_only_when_known_to_be_empty() -> None:
    inventory = Inventory(
        scopes=[
            _scope(audit_devices=[]),
            ScopeResult(provider="vault", scope="https://other:8200", attributes={"audit_devices": None}),
            ScopeResult(provider="vault", scope="https://other:8200/ns", attributes={}),
        ]
    )
    findings = [f for f in evaluate(inventory, as_of=AS_OF, config=Config()) if f.rule_id == "vault-no-audit-device"]
    assert [(f.identity.uid, f.severity.value) for f in findings] == [("vault:https://vault.example:8200", "high")]
    assert "PCI-DSS-10.2.1" in findings[0].controls


def test_missing_usage_signal_is_an_info_finding() -> None:
    inventory = Inventory(scopes=[_scope(usage_signal=None, usage_signal_missing="no audit log given")])
    findings = [f for f in evaluate(inventory, as_of=AS_OF, config=Config()) if f.rule_id.startswith("vault-")]
    assert [(f.rule_id, f.severity.value) for f in findings] == [("vault-usage-signal-missing", "info")]
    assert "no audit log given" in findings[0].message
