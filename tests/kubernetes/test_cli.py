"""End to end: ``nhiwarden scan`` in a subprocess against the fake clusters through a kubeconfig."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.kubernetes.conftest import CANARY, Cluster, kubeconfig_for


def test_scan_cli_reports_kubernetes_findings_and_a_failed_context(prod: Cluster, tmp_path: Path) -> None:
    kubeconfig = kubeconfig_for(tmp_path, {"prod": prod}, dead=["dead"])
    out = tmp_path / "report.json"
    proc = run_cli(
        "scan",
        "--provider",
        "kubernetes",
        "--kubernetes-kubeconfig",
        str(kubeconfig),
        "--kube-context",
        "prod,dead",
        "--as-of",
        "2026-06-01",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert proc.returncode == 3, proc.stderr  # a context could not be scanned
    report = json.loads(out.read_text())
    assert {s["scope"]: s["status"] for s in report["scopes"]} == {"prod": "ok", "dead": "error"}
    rules = {(f["rule_id"], f["identity"]["uid"]) for f in report["findings"]}
    assert ("k8s-default-service-account", "k8s:prod:ns/payments:sa/default") in rules
    assert ("over-privileged", "k8s:prod:ns/ci:sa/deployer") in rules
    for text in (out.read_text(), proc.stdout, proc.stderr):
        assert CANARY not in text and prod.token not in text
