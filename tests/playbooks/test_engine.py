"""The apply engine on its own: a tiny in-memory platform registered through the public action interface."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.playbooks import Engine, PlanError, StateChanged, StepFailed
from nhiwarden.playbooks.actions import Action, Context, action, observer
from nhiwarden.playbooks.journal import Journal, exclusive
from nhiwarden.playbooks.model import Check, LockHeld, Plan, PlanExpired, Step, Target, state_hash
from nhiwarden.redact import register_secret

NOW = datetime(2030, 5, 1, 12, tzinfo=UTC)
STORE: dict[str, Any] = {}
SECRET = "memsecret-" + "x" * 30


@observer("mem.value")
def _observe(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"value": STORE.get(params["key"])}


@action
class Put(Action):
    name = "mem.put"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("fail"):
            raise RuntimeError(f"cannot write {params['key']} with {SECRET}")
        previous = STORE.get(params["key"])
        STORE[params["key"]] = params["value"]
        return {"previous": previous}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        STORE[params["key"]] = outputs["previous"]


@action
class MakeSecret(Action):
    name = "mem.make-secret"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        STORE["made"] = STORE.get("made", 0) + 1
        register_secret(SECRET)
        ctx.keep_secret(ctx.current, {"secret": SECRET})
        return {"serial": STORE["made"]}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        STORE["made"] -= 1


@action
class UseSecret(Action):
    name = "mem.use-secret"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        STORE["delivered"] = ctx.secret(params["from"])["secret"] == SECRET
        return {"serial": params["serial"]}


def step(sid: str, stage: str, group: str = "t1:rotate", **kw: Any) -> Step:
    return Step(
        id=sid,
        stage=stage,
        group=group,
        action=kw.pop("action", "mem.put"),
        target="mem",
        api_call=f"put {sid}",
        rollback="restore",
        **kw,
    )  # type: ignore[arg-type]


def make_plan(steps: list[Step], **kw: Any) -> Plan:
    checks = kw.pop(
        "checks",
        [
            Check(
                id="c1",
                observe="mem.value",
                params={"key": "guard"},
                expect={"value": "ok"},
                invariant=True,
                text="guard is ok",
            )
        ],
    )
    plan = Plan(
        id="plan-test",
        playbook="rotate",
        created_at=NOW,
        valid_until=NOW + timedelta(hours=24),
        created_by="test",
        targets=[Target(finding_id="f", rule_id="r", identity_uid="mem:x", identity_name="x")],
        max_changes=kw.pop("max_changes", 5),
        grace_days=7,
        preconditions=checks,
        state_hash=state_hash({c.id: c.expect for c in checks}),
        steps=steps,
    )
    return plan


@pytest.fixture(autouse=True)
def store() -> None:
    STORE.clear()
    STORE["guard"] = "ok"


def rotation() -> list[Step]:
    return [
        step("t1.a", "create", params={"key": "a", "value": 1}),
        step("t1.b", "deliver", params={"key": "b", "value": 2}),
        step("t1.c", "deactivate", params={"key": "c", "value": 3}),
        step(
            "t1.d",
            "delete",
            group="t1:delete",
            manual=True,
            params={"key": "d", "value": 4},
            not_before={"after": "t1.c", "days": 7},
        ),
    ]


def test_apply_runs_automatic_steps_and_leaves_manual_stages_for_later(tmp_path: Path) -> None:
    result = Engine(make_plan(rotation()), tmp_path / "j", now=NOW).apply()
    assert result.ran == ["t1.a", "t1.b", "t1.c"]
    assert "d" not in STORE
    assert "--stage delete" in result.message


def test_stage_limits_the_run_to_that_stage(tmp_path: Path) -> None:
    assert Engine(make_plan(rotation()), tmp_path / "j", now=NOW).apply(stage="deliver").ran == ["t1.a", "t1.b"]
    assert "c" not in STORE


def test_naming_a_held_stage_on_a_fresh_plan_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="has not run yet"):
        Engine(make_plan(rotation()), tmp_path / "j", now=NOW).apply(stage="delete")
    assert "a" not in STORE


def test_a_manual_stage_needs_the_earlier_manual_stage_completed(tmp_path: Path) -> None:
    steps = [
        step("t1.n", "notify", group="t1:notify", params={"key": "n", "value": 0}),
        step("t1.x", "disable", group="t1:disable", manual=True, params={"key": "x", "value": 1}),
        step("t1.y", "delete", group="t1:delete", manual=True, params={"key": "y", "value": 2}),
    ]
    with pytest.raises(PlanError, match=r"needs step t1\.x"):
        Engine(make_plan(steps), tmp_path / "j", now=NOW).apply(stage="delete")
    assert "n" not in STORE


def test_a_manual_stage_waits_for_its_hold_period(tmp_path: Path) -> None:
    plan = make_plan(rotation())
    Engine(plan, tmp_path / "j", now=NOW).apply()
    with pytest.raises(PlanError, match="not due"):
        Engine(plan, tmp_path / "j", now=NOW + timedelta(days=6)).apply(stage="delete")
    assert Engine(plan, tmp_path / "j", now=NOW + timedelta(days=7)).apply(stage="delete").ran == ["t1.d"]


def test_a_failing_step_rolls_back_its_group_in_reverse_and_exits_1(tmp_path: Path) -> None:
    steps = rotation()
    steps[2].params["fail"] = True
    with pytest.raises(StepFailed) as err:
        Engine(make_plan(steps), tmp_path / "j", now=NOW).apply()
    assert err.value.exit_code == 1
    assert STORE == {"guard": "ok", "a": None, "b": None}
    events = [(e["step"], e["event"]) for e in map(json.loads, (tmp_path / "j").read_text().splitlines())]
    assert events[-3:] == [("t1.c", "failed"), ("t1.b", "rolled-back"), ("t1.a", "rolled-back")]


def test_error_text_in_journal_and_exception_is_redacted(tmp_path: Path) -> None:
    register_secret(SECRET)
    steps = rotation()
    steps[0].params["fail"] = True
    with pytest.raises(StepFailed) as err:
        Engine(make_plan(steps), tmp_path / "j", now=NOW).apply()
    assert SECRET not in str(err.value)
    assert SECRET not in (tmp_path / "j").read_text()


def test_fresh_apply_refuses_when_a_precondition_changed(tmp_path: Path) -> None:
    STORE["guard"] = "changed"
    with pytest.raises(StateChanged) as err:
        Engine(make_plan(rotation()), tmp_path / "j", now=NOW).apply()
    assert err.value.exit_code == 3
    assert "guard is ok" in str(err.value)
    assert "a" not in STORE


def test_expired_plan_is_refused_but_a_started_plan_continues_its_later_stages(tmp_path: Path) -> None:
    plan = make_plan(rotation())
    with pytest.raises(PlanExpired):
        Engine(plan, tmp_path / "j", now=NOW + timedelta(days=2)).apply()
    Engine(plan, tmp_path / "j", now=NOW).apply()
    assert Engine(plan, tmp_path / "j", now=NOW + timedelta(days=8)).apply(stage="delete").ran == ["t1.d"]


def test_a_plan_over_its_change_limit_is_refused(tmp_path: Path) -> None:
    plan = make_plan(rotation(), max_changes=1)
    plan.targets = plan.targets * 2
    with pytest.raises(PlanError, match="more than its limit"):
        Engine(plan, tmp_path / "j", now=NOW).apply()


def test_resume_continues_after_the_last_completed_step(tmp_path: Path) -> None:
    plan = make_plan(rotation())
    Engine(plan, tmp_path / "j", now=NOW).apply(stage="create")
    STORE["a"] = "someone else's"  # a completed step is never run again
    assert Engine(plan, tmp_path / "j", now=NOW).apply().ran == ["t1.b", "t1.c"]
    assert STORE["a"] == "someone else's"


def test_a_secret_lost_with_its_process_is_recreated_before_delivery(tmp_path: Path) -> None:
    steps = [
        step("t1.make", "create", action="mem.make-secret"),
        step(
            "t1.use",
            "deliver",
            action="mem.use-secret",
            params={"from": "t1.make", "serial": "${t1.make.serial}"},
            secret_from="t1.make",
        ),
    ]
    plan = make_plan(steps)
    Engine(plan, tmp_path / "j", now=NOW).apply(stage="create")  # the process ends: the secret is gone

    result = Engine(plan, tmp_path / "j", now=NOW).apply()

    assert result.rolled_back == ["t1.make"] and result.ran == ["t1.make", "t1.use"]
    assert STORE["made"] == 1 and STORE["delivered"] is True
    assert SECRET not in (tmp_path / "j").read_text()


def test_the_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with exclusive([tmp_path / "j"]), pytest.raises(LockHeld), exclusive([tmp_path / "j"]):
        pass
    with exclusive([tmp_path / "j"]):  # released after the holder leaves
        pass


def test_journal_of_another_plan_is_refused(tmp_path: Path) -> None:
    Journal(tmp_path / "j", "plan-other").append("finished")
    with pytest.raises(PlanError, match="another plan"):
        Engine(make_plan(rotation()), tmp_path / "j", now=NOW).apply()


def test_a_torn_last_journal_line_from_a_crash_is_ignored(tmp_path: Path) -> None:
    plan = make_plan(rotation())
    Engine(plan, tmp_path / "j", now=NOW).apply(stage="create")
    with (tmp_path / "j").open("a") as fh:
        fh.write('{"ts": "2030-05-01T12:00:00Z", "who": "x", "pi')
    assert Engine(plan, tmp_path / "j", now=NOW).apply().ran == ["t1.b", "t1.c"]


def test_rollback_restores_completed_steps_and_refuses_after_a_delete(tmp_path: Path) -> None:
    plan = make_plan(rotation())
    Engine(plan, tmp_path / "j", now=NOW).apply()
    assert Engine(plan, tmp_path / "j", now=NOW).rollback().rolled_back == ["t1.c", "t1.b", "t1.a"]
    assert STORE == {"guard": "ok", "a": None, "b": None, "c": None}

    plan2 = make_plan(rotation())
    plan2.steps[3].rollback = None
    Engine(plan2, tmp_path / "k", now=NOW).apply()
    Engine(plan2, tmp_path / "k", now=NOW + timedelta(days=8)).apply(stage="delete")
    with pytest.raises(PlanError, match="cannot be undone"):
        Engine(plan2, tmp_path / "k", now=NOW).rollback()


def test_a_fully_rolled_back_plan_is_checked_like_a_fresh_one(tmp_path: Path) -> None:
    steps = rotation()
    steps[1].params["fail"] = True
    plan = make_plan(steps)
    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j", now=NOW).apply()
    with pytest.raises(PlanExpired):
        Engine(plan, tmp_path / "j", now=NOW + timedelta(days=2)).apply()


def test_a_failure_in_one_target_rolls_back_only_that_target(tmp_path: Path) -> None:
    steps = [
        step("t1.a", "create", group="t1:rotate", params={"key": "a1", "value": 1}),
        step("t1.b", "deliver", group="t1:rotate", params={"key": "b1", "value": 1}),
        step("t2.a", "create", group="t2:rotate", params={"key": "a2", "value": 2}),
        step("t2.b", "deliver", group="t2:rotate", params={"key": "b2", "value": 2, "fail": True}),
    ]
    plan = make_plan(steps)
    plan.targets = plan.targets * 2

    with pytest.raises(StepFailed, match=r"t2\.b"):
        Engine(plan, tmp_path / "j", now=NOW).apply()

    assert STORE["a1"] == 1 and STORE["b1"] == 1
    assert STORE["a2"] is None and "b2" not in STORE
