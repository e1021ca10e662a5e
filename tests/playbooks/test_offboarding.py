"""Offboarding a dormant IAM user: notify (webhook) -> disable (reversible) -> delete, separately staged."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.playbooks import Engine, PlanError, load_plan

from .pb_helpers import Estate


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/T000/SECRETPART"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture(scope="module")
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


def offboard_plan(cli: Any, estate: Estate, tmp_path: Path, *extra: str) -> Path:
    plan = tmp_path / f"offboard-{estate.user}.json"
    proc = cli(
        [
            "plan",
            "offboard",
            "--report",
            str(estate.report_path),
            "--finding",
            estate.finding_id,
            "-o",
            str(plan),
            *extra,
        ]
    )
    assert proc.returncode == 0, proc.stderr
    return plan


def policies(estate: Estate) -> list[str]:
    return list(estate.iam.list_user_policies(UserName=estate.user)["PolicyNames"])


def test_offboarding_notifies_then_disables_then_deletes_in_separate_stages(
    make_estate: Any, cli: Any, hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate = make_estate(age_days=200, rule="dormant-identity")
    monkeypatch.setenv("TEAM_HOOK", hook.url)
    plan_path = offboard_plan(cli, estate, tmp_path, "--notify-webhook", "env:TEAM_HOOK", "--notify-format", "slack")
    assert "SECRETPART" not in plan_path.read_text()
    plan = load_plan(plan_path)
    journal = tmp_path / "j.jsonl"
    now = datetime.now(UTC)

    assert Engine(plan, journal, now=now).apply().ran == ["t1.notify"]
    body = hook.bodies[-1]
    assert "dormant-identity" in body["text"] and estate.user in body["text"]
    assert (now + timedelta(days=7)).date().isoformat() in body["text"]
    assert body["blocks"]
    assert estate.key_status() == {estate.key_id: "Active"}

    with pytest.raises(PlanError, match="not due"):
        Engine(plan, journal, now=now + timedelta(days=2)).apply(stage="disable")
    disabled = Engine(plan, journal, now=now + timedelta(days=8)).apply(stage="disable")
    assert disabled.ran == ["t1.disable-keys", "t1.quarantine"]
    assert estate.key_status() == {estate.key_id: "Inactive"}
    doc = estate.iam.get_user_policy(UserName=estate.user, PolicyName="nhiwarden-quarantine")["PolicyDocument"]
    assert doc["Statement"][0]["Effect"] == "Deny" and doc["Statement"][0]["Action"] == "*"

    deleted = Engine(plan, journal, now=now + timedelta(days=16)).apply(stage="delete")
    assert deleted.ran == ["t1.delete-keys"]
    assert estate.key_status() == {}
    assert "SECRETPART" not in journal.read_text()


def test_generic_json_webhook_payload_names_the_finding_owner_and_next_stage_date(
    make_estate: Any, cli: Any, hook: Hook, tmp_path: Path
) -> None:
    estate = make_estate(age_days=200, rule="dormant-identity")
    plan = load_plan(offboard_plan(cli, estate, tmp_path, "--notify-webhook", hook.url, "--notice-days", "14"))
    now = datetime(2030, 1, 1, tzinfo=UTC)
    plan.valid_until = now + timedelta(hours=1)

    Engine(plan, tmp_path / "j.jsonl", now=now).apply()

    body = hook.bodies[-1]
    assert body["finding"]["rule_id"] == "dormant-identity"
    assert body["finding"]["identity_uid"].endswith(f"user/{estate.user}")
    assert body["owner"] == "team-ci@example.com"
    assert body["next_stage"] == "disable" and body["next_stage_date"] == "2030-01-15"


def test_rollback_journal_restores_a_disabled_user(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate(age_days=200, rule="dormant-identity")
    plan = offboard_plan(cli, estate, tmp_path)
    assert cli(["apply", str(plan)]).returncode == 0  # no notify step: disable waits for --stage
    assert estate.key_status() == {estate.key_id: "Active"}

    assert cli(["apply", str(plan), "--stage", "disable"]).returncode == 0
    assert estate.key_status() == {estate.key_id: "Inactive"} and policies(estate) == ["nhiwarden-quarantine"]

    journal = plan.with_name(plan.stem + ".journal.jsonl")
    restored = cli(["apply", str(plan), "--rollback", str(journal)])

    assert restored.returncode == 0, restored.stderr
    assert estate.key_status() == {estate.key_id: "Active"}
    assert policies(estate) == []
    assert [json.loads(line)["event"] for line in journal.read_text().splitlines()][-2:] == [
        "rolled-back",
        "rolled-back",
    ]


def test_disable_reactivates_only_keys_it_deactivated(make_estate: Any, cli: Any, tmp_path: Path) -> None:
    estate = make_estate(age_days=200, rule="dormant-identity")
    spare = estate.iam.create_access_key(UserName=estate.user)["AccessKey"]["AccessKeyId"]
    from .pb_helpers import age_key

    age_key(estate.user, spare, 200)
    estate.iam.update_access_key(UserName=estate.user, AccessKeyId=spare, Status="Inactive")
    plan = offboard_plan(cli, estate, tmp_path)
    assert cli(["apply", str(plan), "--stage", "disable"]).returncode == 0
    journal = plan.with_name(plan.stem + ".journal.jsonl")

    assert cli(["apply", str(plan), "--rollback", str(journal)]).returncode == 0

    assert estate.key_status() == {estate.key_id: "Active", spare: "Inactive"}


def test_offboarding_refuses_a_user_with_a_key_inside_the_grace_period(
    make_estate: Any, cli: Any, tmp_path: Path
) -> None:
    estate = make_estate(age_days=200, rule="dormant-identity")
    estate.iam.create_access_key(UserName=estate.user)
    plan = tmp_path / "p.json"

    proc = cli(
        ["plan", "offboard", "--report", str(estate.report_path), "--finding", estate.finding_id, "-o", str(plan)]
    )

    assert proc.returncode == 2 and "grace period" in proc.stderr
    assert not plan.exists()
