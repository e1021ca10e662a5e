"""A readable view of a plan for the terminal (rich): what will change, in what order, and how to undo it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .model import Plan


def renderable(plan: Plan) -> RenderableType:
    head = Text()
    head.append(f"plan {plan.id}", style="bold")
    head.append(f"  playbook {plan.playbook}  created {plan.created_at:%Y-%m-%d %H:%M} UTC")
    head.append(f"  valid until {plan.valid_until:%Y-%m-%d %H:%M} UTC\n")
    head.append(
        f"changes {plan.changes} (limit {plan.max_changes})  grace period {plan.grace_days} days  "
        f"state {plan.state_hash[:19]}…\n"
    )
    for t in plan.targets:
        owner = f"  owner {t.owner}" if t.owner else ""
        head.append(f"target {t.credential_id or t.identity_name}  ({t.identity_uid}; finding {t.finding_id}){owner}\n")
    for reason in plan.skipped:
        head.append(f"skipped {reason}\n", style="yellow")

    checks = Table(title="preconditions (re-checked by apply against live state)", title_justify="left", expand=False)
    checks.add_column("check")
    checks.add_column("holds for")
    for c in plan.preconditions:
        checks.add_row(c.text, "the whole plan" if c.invariant else "the first apply")

    steps = Table(title="steps", title_justify="left", show_lines=True)
    steps.add_column("step", no_wrap=True)
    steps.add_column("stage")
    steps.add_column("API call")
    steps.add_column("requires")
    steps.add_column("rollback")
    for s in plan.steps:
        stage = s.stage + ("\n(--stage)" if s.manual else "")
        if s.not_before:
            stage += f"\n≥{s.not_before['days']}d after {s.not_before['after']}"
        rollback = Text(s.rollback) if s.rollback else Text("irreversible", style="bold red")
        steps.add_row(s.id, stage, s.api_call, "\n".join(c.text for c in s.requires), rollback)
    return Group(head, checks, steps)
