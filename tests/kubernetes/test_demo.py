"""The demo sandbox: two seeded clusters behind one kubeconfig, scannable as-is, canaries unseen."""

from __future__ import annotations

from pathlib import Path

from nhiwarden.sandbox.kubernetes.demo import start_demo
from nhiwarden.scanner import ScanRequest, run_scan

from tests.kubernetes.conftest import NOW


def test_demo_estate_scans_both_clusters_and_leaks_no_canary(tmp_path: Path) -> None:
    with start_demo(tmp_path, now=NOW) as estate:
        assert Path(estate.settings["kubeconfig"]).is_file()
        report = run_scan(ScanRequest(providers=["kubernetes"], as_of=NOW, settings={"kubernetes": estate.settings}))
    assert sorted((s.scope, s.status) for s in report.scopes) == [("prod", "ok"), ("staging", "ok")]
    assert len(report.findings) >= 20
    text = report.model_dump_json()
    assert estate.canaries and not [c for c in estate.canaries if c in text]
