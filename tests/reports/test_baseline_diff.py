"""Baselines and diffs: a finding resolved, one new, one unchanged; exit codes with and without a baseline.

The CLI runs in a subprocess against the example plugin provider (an estate in a JSON file, no server),
so ``scan --baseline`` is exercised end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from nhiwarden.reports import render
from nhiwarden.reports.baseline import apply_baseline, known_findings, resolved_findings, unchanged_findings
from nhiwarden.reports.diff import compare, render_json, render_table
from nhiwarden.reports.json_report import load, schema

from tests.conftest import days_ago, example_identity, example_key, run_cli, write_estate
from tests.reports.conftest import build_report

ADMIN = {"privilege": "admin", "source": "AdminPolicy", "source_kind": "managed-policy", "reason": "* on *"}


def ident(name: str, **kw: Any) -> dict[str, Any]:
    return example_identity(name, **kw)


def old_key(name: str) -> dict[str, Any]:
    return example_key(name, f"KEY-{name}", created_at=days_ago(200).isoformat())


def estate(tmp_path: Path, name: str, identities: list[dict[str, Any]], **scope: Any) -> Path:
    return write_estate(tmp_path / f"estate-{name}.json", [{"id": "acct", "identities": identities, **scope}])


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The CLI in-process (no interpreter start-up) for commands that need no plugin provider."""
    from nhiwarden.cli.app import main

    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def scan(estate_file: Path, *extra: str):
    return run_cli(
        "scan", "--provider", "example", "--example-estate", str(estate_file), "--as-of", "2026-06-01", *extra
    )


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """old: A (admin) and B (old key); new: B unchanged, A gone, C (admin) new. Scanned once per module."""
    tmp_path = tmp_path_factory.mktemp("scans")
    old = estate(tmp_path, "old", [ident("svc-a", grants=[ADMIN]), ident("svc-b", credentials=[old_key("svc-b")])])
    new = estate(tmp_path, "new", [ident("svc-b", credentials=[old_key("svc-b")]), ident("svc-c", grants=[ADMIN])])
    out = {"old_estate": old, "new_estate": new}
    for name, path in (("old", old), ("new", new)):
        target = tmp_path / f"{name}.json"
        result = scan(path, "--format", "json", "--output", str(target))
        assert result.returncode == 1, result.stderr  # admin findings are high
        out[name] = target
    return out


def ids_by_identity(findings: list[Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        out.setdefault(f["identity"]["name"] if isinstance(f, dict) else f.identity.name, set()).add(
            f["rule_id"] if isinstance(f, dict) else f.rule_id
        )
    return out


def test_diff_lists_new_resolved_and_unchanged_by_finding_id(scans: dict[str, Path], capsys):
    code, out = cli(capsys, "diff", str(scans["old"]), str(scans["new"]), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "nhiwarden-diff/1"
    assert set(ids_by_identity(data["findings"]["new"])) == {"svc-c"}
    assert set(ids_by_identity(data["findings"]["resolved"])) == {"svc-a"}
    assert set(ids_by_identity(data["findings"]["unchanged"])) == {"svc-b"}
    assert data["summary"]["new"] == len(data["findings"]["new"])
    old_ids = {f.id for f in load(scans["old"]).findings}
    assert {f["id"] for f in data["findings"]["resolved"]} <= old_ids


def test_diff_table_and_fail_on_new(scans: dict[str, Path], capsys):
    code, out = cli(capsys, "diff", str(scans["old"]), str(scans["new"]))
    assert code == 0
    assert "svc-c" in out and "resolved" in out and "unchanged" in out
    assert cli(capsys, "diff", str(scans["old"]), str(scans["new"]), "--fail-on", "high")[0] == 1
    assert cli(capsys, "diff", str(scans["new"]), str(scans["new"]), "--fail-on", "high")[0] == 0
    assert cli(capsys, "diff", str(scans["old"]), str(scans["new"]), "--format", "xml")[0] == 2


def test_diff_as_a_subprocess_writes_json_to_a_file(scans: dict[str, Path], tmp_path: Path):
    target = tmp_path / "diff.json"
    result = run_cli("diff", str(scans["old"]), str(scans["new"]), "--format", "json", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["summary"]["new"] >= 1


def test_scan_with_baseline_counts_only_new_findings(scans: dict[str, Path], tmp_path: Path):
    out = tmp_path / "baselined.json"
    result = scan(scans["new_estate"], "--baseline", str(scans["old"]), "--format", "json", "--output", str(out))
    assert result.returncode == 1, result.stderr  # svc-c is new and high
    report = json.loads(out.read_text())
    jsonschema.validate(report, schema())  # the baselined report keeps the published JSON contract
    assert set(ids_by_identity(report["findings"])) == {"svc-c"}
    assert report["baseline"]["new"] == len(report["findings"])
    assert report["baseline"]["unchanged"] >= 1 and report["baseline"]["resolved"] >= 1


def test_exit_code_is_clean_with_a_baseline_when_nothing_is_new(scans: dict[str, Path], tmp_path: Path):
    only_b = estate(tmp_path, "only-b", [ident("svc-b", credentials=[old_key("svc-b")])])
    without = scan(only_b, "--fail-on", "medium")
    assert without.returncode == 1, without.stderr
    with_baseline = scan(only_b, "--fail-on", "medium", "--baseline", str(scans["old"]))
    assert with_baseline.returncode == 0, with_baseline.stderr


def test_report_command_renders_every_format_from_saved_json(scans: dict[str, Path], tmp_path: Path, capsys):
    outdir = tmp_path / "rendered"
    outdir.mkdir()
    args = ["report", str(scans["new"])]
    for fmt in ("sarif", "junit", "csv", "ocsf", "markdown", "html"):
        args += ["--format", fmt]
    code, _ = cli(capsys, *args, "--output", str(outdir))
    assert code == 0
    names = sorted(p.name for p in outdir.iterdir())
    assert names == sorted(
        ["report.sarif", "report.junit.xml", "report.csv", "report.ocsf.json", "report.md", "report.html"]
    )


def test_bad_baseline_file_is_a_usage_error(tmp_path: Path, scans: dict[str, Path]):
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    result = scan(scans["new_estate"], "--baseline", str(bogus))
    assert result.returncode == 2
    assert "schema_version" in result.stderr


# ---------------------------------------------------------------- in-process: the model-level API


def test_apply_baseline_keeps_unchanged_findings_reachable():
    old = build_report(scan_id="old")
    new = build_report(scan_id="new")
    resolved = old.findings[0]
    new_only = new.findings[-1]
    old.findings = old.findings[:-1]  # the last one is new in the second scan
    new.findings = new.findings[1:]  # the first one was resolved
    out = apply_baseline(new, old, file="old.json")
    assert [f.id for f in out.findings] == [new_only.id]
    assert out.baseline is not None
    assert (out.baseline.new, out.baseline.resolved) == (1, 1)
    assert out.baseline.unchanged == len(unchanged_findings(out)) == len(new.findings) - 1
    assert [f.id for f in resolved_findings(out)] == [resolved.id]
    assert {f.id for f in known_findings(out)} == {f.id for f in new.findings}
    assert out.summary.findings == 1
    # the baselined report still renders and the diff still sees the unchanged ones
    diff = compare(old, out)
    assert [f.id for f in diff.added] == [new_only.id]
    assert [f.id for f in diff.resolved] == [resolved.id]
    assert len(diff.unchanged) == len(new.findings) - 1
    for fmt in ("table", "json", "sarif", "junit", "csv", "ocsf", "markdown", "html"):
        assert render(out, fmt)


def test_a_finding_whose_exception_expired_is_new_against_the_baseline():
    old = build_report(scan_id="old")
    accepted = old.suppressed[0].finding
    new = build_report(scan_id="new")
    new.findings.append(accepted)  # its exception lapsed: active again
    new.suppressed = []
    out = apply_baseline(new, old, file="old.json")
    assert accepted.id in {f.id for f in out.findings}


def test_findings_of_a_scope_that_failed_are_unverified_not_resolved():
    old = build_report(scan_id="old")
    new = build_report(scan_id="new")
    gcp = next(s for s in new.scopes if s.provider == "gcp")
    gcp.status, gcp.error = "error", "network: timed out"
    new.findings = [f for f in new.findings if f.identity.provider != "gcp"]
    diff = compare(old, new)
    assert diff.unverified and all(f.identity.provider == "gcp" for f in diff.unverified)
    assert not any(f.identity.provider == "gcp" for f in diff.resolved)
    assert "unverified" in render_table(diff)
    assert json.loads(render_json(diff))["summary"]["unverified"] == len(diff.unverified)


def test_finding_that_became_suppressed_is_not_counted_resolved():
    old = build_report(scan_id="old", config=None)
    old.findings.append(old.suppressed[0].finding)
    old.suppressed = []
    new = build_report(scan_id="new")
    diff = compare(old, new)
    assert [f.id for f in diff.suppressed] == [new.suppressed[0].finding.id]
    assert new.suppressed[0].finding.id not in {f.id for f in diff.resolved}


def test_a_baselined_report_can_serve_as_the_next_baseline(caplog):
    first = build_report(scan_id="first")
    second = apply_baseline(build_report(scan_id="second"), first, file="first.json")
    saved = load_from_json(second)
    assert saved.baseline is not None and saved.baseline.unchanged_findings, "unchanged findings are persisted"
    with caplog.at_level("WARNING", logger="nhiwarden.baseline"):
        third = apply_baseline(build_report(scan_id="third"), saved, file="second.json")
    assert "written with --baseline" not in caplog.text
    assert third.baseline is not None and third.baseline.new == 0
    assert third.findings == []


def load_from_json(report: Any) -> Any:
    from nhiwarden.report import Report

    return Report.model_validate_json(report.to_json())
