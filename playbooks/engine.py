"""Apply a plan: re-check live state, lock, run steps with a journal, roll back a failed group, resume.

Owns the apply algorithm and nothing platform-specific:
1. take an exclusive lock on the plan and journal (a second apply of the same plan is refused);
2. read the journal; steps that completed are not run again (idempotent, resumable);
3. re-check the plan against live state: a fresh apply checks every precondition and the state hash
   (and the plan's validity window); a resumed apply checks the invariant ones (the target is the same
   credential); any difference refuses the apply before it changes anything;
4. recover steps a crash interrupted (``Action.recover``), e.g. delete a key whose secret died with
   the crashed process, so that the create step runs again;
5. run the selected steps in order; a failing step rolls back the completed steps of its group in
   reverse order and the apply exits 1.
Secrets pass from a create step to its consumers in memory only; if the process that created one
died, the engine undoes the create step and runs it again. Must never write a secret anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nhiwarden.redact import redact

from . import faults
from .actions import Context, NotReversible, get_action, get_observer
from .journal import Journal, exclusive
from .model import (
    PLAN_SCHEMA_VERSION,
    STAGE_ORDER,
    Check,
    Plan,
    PlanError,
    PlanExpired,
    StateChanged,
    Step,
    StepFailed,
    state_hash,
)


@dataclass
class ApplyResult:
    ran: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    message: str = ""


def default_journal(plan_path: Path) -> Path:
    return plan_path.with_name(plan_path.stem + ".journal.jsonl")


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        plan = Plan.model_validate_json(text)
    except ValueError as exc:
        raise PlanError(f"{path}: not a nhiwarden plan: {redact(str(exc).splitlines()[0])}") from None
    if plan.schema_version != PLAN_SCHEMA_VERSION:
        raise PlanError(f"{path}: plan schema_version {plan.schema_version} is not supported")
    return plan


def observe(ctx: Context, check: Check) -> dict[str, Any]:
    params = ctx.resolve(check.params)
    observed = get_observer(check.observe)(ctx, params)
    return {k: observed.get(k) for k in check.expect}


def mismatches(ctx: Context, checks: list[Check]) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    seen: dict[str, Any] = {}
    for check in checks:
        got = observe(ctx, check)
        seen[check.id] = got
        diff = [
            f"{k}: expected {check.expect[k]!r}, found {got.get(k)!r}"
            for k in check.expect
            if got.get(k) != check.expect[k]
        ]
        if diff:
            problems.append(f"{check.text} ({'; '.join(diff)})")
    return problems, seen


class Engine:
    def __init__(
        self,
        plan: Plan,
        journal_path: Path,
        *,
        plan_path: Path | None = None,
        now: datetime | None = None,
        env: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.plan = plan
        self.journal_path = journal_path
        self.plan_path = plan_path
        self.now = now or datetime.now(UTC)
        self.env = env
        self.sleep = sleep
        self.say = on_event or (lambda _msg: None)

    # -- public ------------------------------------------------------------------------------------

    def apply(self, stage: str | None = None) -> ApplyResult:
        if stage is not None and stage not in STAGE_ORDER:
            raise PlanError(f"--stage: unknown stage {stage!r} (choose from {', '.join(STAGE_ORDER)})")
        if self.plan.changes > self.plan.max_changes:
            raise PlanError(
                f"plan changes {self.plan.changes} credentials, more than its limit {self.plan.max_changes}"
            )
        with exclusive(self._lock_paths()):
            journal, ctx = self._open()
            result = ApplyResult()
            selected = self._select(journal, stage)
            result.pending = [s.id for s in self.plan.steps if not journal.completed(s.id)]
            if not selected:
                result.message = self._next_hint(journal)
                return result
            self._check_gates(journal, selected)
            self._check_live(journal, ctx)
            self._recover(journal, ctx, result)
            self._run(journal, ctx, [s for s in selected if not journal.completed(s.id)], result)
            result.pending = [s.id for s in self.plan.steps if not journal.completed(s.id)]
            result.message = self._next_hint(journal)
            return result

    def rollback(self) -> ApplyResult:
        """Undo every completed, reversible step recorded in the journal (e.g. restore a disable)."""
        with exclusive(self._lock_paths()):
            journal, ctx = self._open()
            done = [s for s in self.plan.steps if journal.completed(s.id)]
            if not done:
                return ApplyResult(message="nothing to roll back: no completed step in the journal")
            final = [s.id for s in done if s.rollback is None and s.stage == "delete"]
            if final:
                raise PlanError(f"cannot roll back: step {final[0]} deleted the credential and cannot be undone")
            result = ApplyResult()
            errors = self._undo(journal, ctx, list(reversed(done)), result)
            if errors:
                raise StepFailed("rollback incomplete: " + "; ".join(errors))
            result.message = f"rolled back {len(result.rolled_back)} step(s)"
            return result

    # -- internals ---------------------------------------------------------------------------------

    def _lock_paths(self) -> list[Path]:
        paths = [self.journal_path]
        if self.plan_path is not None and self.plan_path.resolve() != self.journal_path.resolve():
            paths.insert(0, self.plan_path)
        return paths

    def _open(self) -> tuple[Journal, Context]:
        journal = Journal(self.journal_path, self.plan.id)
        ctx = Context(plan=self.plan, now=self.now, journal=journal, sleep=self.sleep)
        if self.env is not None:
            ctx.env = dict(self.env)
        for step in self.plan.steps:
            entry = journal.completed(step.id)
            if entry is not None:
                ctx.outputs[step.id] = dict(entry.outputs)
        return journal, ctx

    def _select(self, journal: Journal, stage: str | None) -> list[Step]:
        pending = [s for s in self.plan.steps if not journal.completed(s.id)]
        if stage is None:
            chosen = [s for s in pending if not s.manual]
        else:
            limit = STAGE_ORDER.index(stage)
            chosen = [s for s in pending if s.stage == stage or (not s.manual and STAGE_ORDER.index(s.stage) <= limit)]
            if not chosen and not any(s.stage == stage for s in self.plan.steps):
                raise PlanError(f"--stage {stage}: this plan has no {stage} stage")
        chosen_ids = {s.id for s in chosen}
        for step in chosen:
            for before in self._earlier_in_target(step):
                if before.id not in chosen_ids and not journal.completed(before.id):
                    raise PlanError(
                        f"stage {step.stage} of {step.target} needs step {before.id} ({before.stage}) "
                        "to be completed first"
                    )
        return chosen

    def _earlier_in_target(self, step: Step) -> list[Step]:
        prefix = step.group.split(":", 1)[0]
        out = []
        for s in self.plan.steps:
            if s.id == step.id:
                break
            if s.group.split(":", 1)[0] == prefix:
                out.append(s)
        return out

    def _check_gates(self, journal: Journal, selected: list[Step]) -> None:
        for step in selected:
            gate = step.not_before
            if not gate:
                continue
            after = journal.completed(str(gate["after"]))
            if after is None:  # the earlier step runs in this apply: only a zero hold lets both run
                if float(gate["days"]) > 0:
                    raise PlanError(
                        f"stage {step.stage} of {step.target} runs {gate['days']} days after {gate['after']}, "
                        "which has not run yet: apply the earlier stages first; nothing was changed"
                    )
                continue
            due = after.ts + timedelta(days=float(gate["days"]))
            if self.now < due:
                raise PlanError(
                    f"stage {step.stage} of {step.target} is not due before {due:%Y-%m-%d %H:%M} UTC "
                    f"({gate['days']} days after {gate['after']}); nothing was changed"
                )

    def _check_live(self, journal: Journal, ctx: Context) -> None:
        # Fresh: nothing of the plan is in effect (never run, or every completed step rolled back).
        fresh = not any(journal.completed(s.id) or journal.interrupted(s.id) for s in self.plan.steps)
        if fresh:
            if self.now > self.plan.valid_until:
                raise PlanExpired(
                    f"plan {self.plan.id} expired at {self.plan.valid_until:%Y-%m-%d %H:%M} UTC: "
                    "make a new plan from a fresh scan"
                )
            problems, seen = mismatches(ctx, self.plan.preconditions)
            if problems or state_hash(seen) != self.plan.state_hash:
                raise StateChanged(
                    "live state no longer matches the plan, nothing was changed: "
                    + ("; ".join(problems) or "state hash differs")
                )
            return
        started = {e.step for e in journal.entries if e.step}
        live = [c for c in self.plan.preconditions if c.invariant and (c.until is None or c.until not in started)]
        problems, _ = mismatches(ctx, live)
        if problems:
            raise StateChanged("the plan's target changed since it was started: " + "; ".join(problems))

    def _recover(self, journal: Journal, ctx: Context, result: ApplyResult) -> None:
        for step in self.plan.steps:
            if not journal.interrupted(step.id):
                continue
            act = get_action(step.action)
            ctx.current = step.id
            outputs = act.recover(ctx, ctx.resolve(step.params), step.id)
            if outputs is not None:
                journal.append(
                    "recovered", step=step.id, stage=step.stage, target=step.target, outputs=outputs, now=self.now
                )
                ctx.outputs[step.id] = outputs
                result.recovered.append(step.id)
                self.say(f"recovered {step.id}: it had completed before the interruption")
            else:
                journal.append(
                    "failed",
                    step=step.id,
                    stage=step.stage,
                    target=step.target,
                    error="interrupted before completion; not in effect, runs again",
                    now=self.now,
                )
                self.say(f"recovered {step.id}: interrupted before completion, runs again")

    def _run(self, journal: Journal, ctx: Context, selected: list[Step], result: ApplyResult) -> None:
        for step in selected:
            try:
                if step.secret_from and step.secret_from not in ctx.secrets:
                    self._redo(journal, ctx, self.plan.step(step.secret_from), result)
                problems, _ = mismatches(ctx, step.requires)
                if problems:
                    raise StateChanged("; ".join(problems))
                self._run_one(journal, ctx, step)
                result.ran.append(step.id)
                self.say(f"done {step.id}: {step.api_call}")
            except Exception as exc:
                reason = redact(exc) if str(exc) else type(exc).__name__
                group = [s for s in self.plan.steps if s.group == step.group and journal.completed(s.id)]
                journal.append("failed", step=step.id, stage=step.stage, target=step.target, error=reason, now=self.now)
                errors = self._undo(journal, ctx, list(reversed(group)), result)
                undone = ", ".join(result.rolled_back) or "nothing"
                tail = f"; rollback FAILED: {'; '.join(errors)}" if errors else ""
                if isinstance(exc, StateChanged) and not group:
                    raise StateChanged(f"step {step.id} refused, nothing was changed: {reason}") from None
                raise StepFailed(
                    f"step {step.id} ({step.api_call}) failed: {reason}; rolled back: {undone}{tail}"
                ) from None

    def _run_one(self, journal: Journal, ctx: Context, step: Step) -> None:
        act = get_action(step.action)
        params = ctx.resolve(step.params)
        ctx.current = step.id
        faults.hit(step.id, "before", ctx.env)
        journal.append("started", step=step.id, stage=step.stage, target=step.target, now=self.now)
        outputs = act.run(ctx, params)
        try:
            faults.hit(step.id, "after", ctx.env)
        finally:
            # The call succeeded: record it even when what follows fails, so a rollback undoes it.
            journal.append(
                "completed", step=step.id, stage=step.stage, target=step.target, outputs=outputs, now=self.now
            )
            ctx.outputs[step.id] = outputs

    def _redo(self, journal: Journal, ctx: Context, source: Step, result: ApplyResult) -> None:
        """The secret of ``source`` died with an earlier process: undo it and run it again."""
        if journal.completed(source.id) is None:
            raise PlanError(f"step {source.id} has not run; its secret is not available")
        self.say(f"the secret created by {source.id} was not delivered by the interrupted apply: recreating it")
        errors = self._undo(journal, ctx, [source], result)
        if errors:
            raise PlanError("; ".join(errors))
        self._run_one(journal, ctx, source)
        result.ran.append(source.id)

    def _undo(self, journal: Journal, ctx: Context, steps: list[Step], result: ApplyResult) -> list[str]:
        errors = []
        for step in steps:
            outputs = ctx.outputs.get(step.id, {})
            if step.rollback is None:
                continue
            try:
                ctx.current = step.id
                get_action(step.action).rollback(ctx, ctx.resolve(step.params), outputs)
            except NotReversible:
                continue
            except Exception as exc:
                reason = redact(exc)
                journal.append(
                    "rollback-failed", step=step.id, stage=step.stage, target=step.target, error=reason, now=self.now
                )
                errors.append(f"{step.id}: {reason}")
                continue
            journal.append(
                "rolled-back", step=step.id, stage=step.stage, target=step.target, outputs=outputs, now=self.now
            )
            ctx.outputs.pop(step.id, None)
            ctx.secrets.pop(step.id, None)
            result.rolled_back.append(step.id)
            self.say(f"rolled back {step.id}: {step.rollback}")
        return errors

    def _next_hint(self, journal: Journal) -> str:
        pending = [s for s in self.plan.steps if not journal.completed(s.id)]
        if not pending:
            return "every step of the plan is complete"
        nxt = pending[0]
        when = ""
        if nxt.not_before:
            after = journal.completed(str(nxt.not_before["after"]))
            if after is not None:
                due = after.ts + timedelta(days=float(nxt.not_before["days"]))
                when = f", not before {due:%Y-%m-%d %H:%M} UTC"
        return f"next: `nhiwarden apply PLAN --stage {nxt.stage}` ({nxt.id}{when})"
