"""`nhiwarden plan` / `apply` as subprocesses: crashes, stale plans, locks, blast radius, grace, canaries."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.playbooks.journal import exclusive

from .pb_helpers import Estate, build_report, finding_for, run_cli


def cli_plan(estate: Estate, run: Any, tmp_path: Path, *extra: str) -> tuple[Any, Path]:
    plan = tmp_path / f"plan-{estate.user}.json"
    proc = run(
        [
            "plan",
            "rotate",
            "--report",
            str(estate.report_path),
            "--finding",
            estate.finding_id,
            "--deliver",
            f"vault-kv:secret/{estate.kv_path}",
            "-o",
            str(plan),
            *extra,
        ],
    )
    return proc, plan


def secrets_of(estate: Estate) -> list[str]:
    data, _ = estate.kv.read(estate.kv_path)
    return [data["aws_secret_access_key"]]


def assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_cli_rotation_leaves_no_secret_in_plan_journal_or_output(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    old_secret = secrets_of(estate)
    planned, plan = cli_plan(estate, cli, tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "iam:CreateAccessKey" in planned.stdout and estate.key_id in plan.read_text()

    applied = cli(["apply", str(plan)])

    assert applied.returncode == 0, applied.stderr
    journal = plan.with_name(plan.stem + ".journal.jsonl")
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["event"] for e in events].count("completed") == 4
    assert all(e["who"] and e["ts"] and e["plan_id"] for e in events)
    new_secret = secrets_of(estate)
    assert new_secret != old_secret
    texts = [plan.read_text(), journal.read_text(), planned.stdout, planned.stderr, applied.stdout, applied.stderr]
    assert_no_secret(texts, old_secret + new_secret)


@pytest.mark.parametrize("step", ["t1.create", "t1.deliver", "t1.verify", "t1.deactivate"])
def test_apply_killed_after_any_step_resumes_to_the_same_end_state(
    make_estate: Any, cli: Any, cli_env: dict[str, str], tmp_path: Path, step: str
) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)

    crashed = run_cli(["apply", str(plan)], {**cli_env, "NHIWARDEN_FAULT": f"{step}:after:crash"})
    assert crashed.returncode == 137
    resumed = cli(["apply", str(plan)])

    assert resumed.returncode == 0, resumed.stderr
    keys = estate.key_status()
    assert keys[estate.key_id] == "Inactive"
    active = [k for k, status in keys.items() if status == "Active"]
    assert len(keys) == 2 and len(active) == 1  # an orphaned key from the crash was deleted
    data, _ = estate.kv.read(estate.kv_path)
    assert data["aws_access_key_id"] == active[0]
    journal = plan.with_name(plan.stem + ".journal.jsonl").read_text()
    assert_no_secret([journal, crashed.stderr, resumed.stderr], [data["aws_secret_access_key"]])


def test_expired_plan_is_refused_without_changes(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)
    doc = json.loads(plan.read_text())
    doc["valid_until"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    plan.write_text(json.dumps(doc))

    proc = cli(["apply", str(plan)])

    assert proc.returncode == 2
    assert "expired" in proc.stderr
    assert estate.key_status() == {estate.key_id: "Active"}


def test_plan_is_refused_when_the_target_key_changed_since_planning(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)
    estate.iam.update_access_key(UserName=estate.user, AccessKeyId=estate.key_id, Status="Inactive")

    proc = cli(["apply", str(plan)])

    assert proc.returncode == 3
    assert "no longer matches" in proc.stderr and estate.key_id in proc.stderr
    assert estate.key_status() == {estate.key_id: "Inactive"}


def test_plan_is_refused_when_the_kv_secret_was_written_since_planning(
    make_estate: Any, cli: Any, tmp_path: Path
) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)
    data, _ = estate.kv.read(estate.kv_path)
    estate.kv.write(estate.kv_path, {**data, "region": "us-west-2"})

    proc = cli(["apply", str(plan)])

    assert proc.returncode == 3
    assert estate.key_status() == {estate.key_id: "Active"}


def test_a_second_apply_of_the_same_plan_is_refused_while_one_runs(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)
    journal = plan.with_name(plan.stem + ".journal.jsonl")

    with exclusive([plan, journal]):
        proc = cli(["apply", str(plan)])

    assert proc.returncode == 2
    assert "another apply" in proc.stderr
    assert estate.key_status() == {estate.key_id: "Active"}


def test_two_racing_applies_create_exactly_one_new_key(
    make_estate: Any, cli: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    estate = make_estate()
    _, plan = cli_plan(estate, cli, tmp_path)
    cmd = [sys.executable, "-m", "nhiwarden.cli.app", "apply", str(plan)]
    procs = [
        subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    codes = sorted(p.wait(timeout=60) for p in procs)

    assert codes[0] == 0 and codes[1] in (0, 2)
    assert len(estate.key_status()) == 2


def test_plan_never_touches_a_key_or_user_outside_the_finding(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    target, bystander = make_estate(), make_estate()
    _, plan = cli_plan(target, cli, tmp_path)
    assert cli(["apply", str(plan)]).returncode == 0

    assert bystander.key_status() == {bystander.key_id: "Active"}
    doc = json.loads(plan.read_text())
    assert bystander.user not in json.dumps(doc)
    assert {s["params"].get("user") for s in doc["steps"] if "user" in s["params"]} == {target.user}


def test_a_finding_whose_key_id_is_not_on_the_user_is_refused(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    estate.iam.delete_access_key(UserName=estate.user, AccessKeyId=estate.key_id)
    fresh = estate.iam.create_access_key(UserName=estate.user)["AccessKey"]["AccessKeyId"]

    proc, plan = cli_plan(estate, cli, tmp_path, "--grace-days", "0")

    assert proc.returncode == 2
    assert "matched by id only" in proc.stderr
    assert not plan.exists()
    assert estate.key_status() == {fresh: "Active"}


def test_a_key_inside_the_grace_period_is_never_planned(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate(age_days=3)
    proc, plan = cli_plan(estate, cli, tmp_path, "--grace-days", "7")

    assert proc.returncode == 2
    assert "grace period" in proc.stderr
    assert not plan.exists()


def test_rule_selection_skips_young_keys_and_plans_only_old_ones(
    make_estate: Any, cli: Any, tmp_path: Path, moto_url: str
) -> None:
    old, young = make_estate(age_days=100), make_estate(age_days=1)
    findings, identities = zip(*(finding_for(e.user, e.key_id) for e in (old, young)), strict=True)
    report = tmp_path / "scan.json"
    report.write_text(build_report(list(findings), list(identities), moto_url=moto_url).to_json())
    plan = tmp_path / "plan.json"

    proc = cli(
        [
            "plan",
            "rotate",
            "--report",
            str(report),
            "--rule",
            "rotation-overdue",
            "--grace-days",
            "7",
            "--deliver",
            f"vault-kv:secret/{old.kv_path}",
            "-o",
            str(plan),
        ],
    )

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(plan.read_text())
    assert [t["credential_id"] for t in doc["targets"]] == [old.key_id]
    assert any(young.key_id in s or young.user in s for s in doc["skipped"])


def test_more_findings_than_max_changes_refuses_the_whole_plan(
    make_estate: Any, cli: Any, tmp_path: Path, moto_url: str
) -> None:
    estates = [make_estate() for _ in range(3)]
    findings, identities = zip(*(finding_for(e.user, e.key_id) for e in estates), strict=True)
    report = tmp_path / "scan.json"
    report.write_text(build_report(list(findings), list(identities), moto_url=moto_url).to_json())
    plan = tmp_path / "plan.json"

    proc = cli(
        [
            "plan",
            "rotate",
            "--report",
            str(report),
            "--rule",
            "rotation-overdue",
            "--max-changes",
            "2",
            "--deliver",
            "vault-kv:secret/unused/path",
            "-o",
            str(plan),
        ],
    )

    assert proc.returncode == 2
    assert "--max-changes" in proc.stderr
    assert not plan.exists()
    assert all(e.key_status() == {e.key_id: "Active"} for e in estates)


def test_failed_apply_error_message_carries_no_secret(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate()
    old_secret = secrets_of(estate)
    _, plan = cli_plan(estate, cli, tmp_path)

    proc = cli(["apply", str(plan)], {"NHIWARDEN_FAULT": "t1.verify:before:fail"})

    assert proc.returncode == 1
    assert "rolled back" in proc.stderr
    journal = plan.with_name(plan.stem + ".journal.jsonl").read_text()
    assert '"rolled-back"' in journal
    assert_no_secret([proc.stderr, proc.stdout, journal], old_secret)
    assert estate.key_status() == {estate.key_id: "Active"}


def test_scan_then_plan_then_apply_end_to_end(make_estate: Any, cli: Any, tmp_path: Path, moto_url: str) -> None:
    estate = make_estate(age_days=200)
    report = tmp_path / "scan.json"
    scanned = cli(
        [
            "scan",
            "--provider",
            "aws",
            "--aws-endpoint-url",
            moto_url,
            "--format",
            "json",
            "--output",
            str(report),
            "--fail-on",
            "none",
        ]
    )
    assert scanned.returncode == 0, scanned.stderr
    findings = [
        f
        for f in json.loads(report.read_text())["findings"]
        if f["credential"] and f["credential"]["id"] == estate.key_id and f["rule_id"] == "rotation-overdue"
    ]
    assert len(findings) == 1
    plan = tmp_path / "plan.json"

    planned = cli(
        [
            "plan",
            "rotate",
            "--report",
            str(report),
            "--finding",
            findings[0]["id"],
            "--deliver",
            f"vault-kv:secret/{estate.kv_path}",
            "-o",
            str(plan),
        ]
    )
    assert planned.returncode == 0, planned.stderr
    applied = cli(["apply", str(plan)])

    assert applied.returncode == 0, applied.stderr
    assert estate.key_status()[estate.key_id] == "Inactive"
    assert estate.kv.read(estate.kv_path)[0]["aws_access_key_id"] != estate.key_id


def test_debug_logs_of_a_real_apply_process_carry_no_secret(
    make_estate: Any, cli: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    estate = make_estate()
    old_secret = secrets_of(estate)
    _, plan = cli_plan(estate, cli, tmp_path)

    proc = run_cli(["--debug", "apply", str(plan)], cli_env)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "botocore" in proc.stderr  # debug logging was on
    assert_no_secret([proc.stdout, proc.stderr], old_secret + secrets_of(estate))
