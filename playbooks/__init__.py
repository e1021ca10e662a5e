"""Playbooks: plan and apply remediation. The only code in nhiwarden that mutates anything.

``make_plan`` reads a saved report and live state (read-only) and returns a ``Plan``; ``Engine`` applies
a plan with a journal, a lock, live re-checks, rollback and resume. Nothing changes without an apply.
"""

from __future__ import annotations

from .engine import ApplyResult, Engine, default_journal, load_plan
from .model import Plan, PlanError, StateChanged, StepFailed
from .planner import PLAYBOOKS, PlanRequest, connections, make_plan

__all__ = [
    "PLAYBOOKS",
    "ApplyResult",
    "Engine",
    "Plan",
    "PlanError",
    "PlanRequest",
    "StateChanged",
    "StepFailed",
    "connections",
    "default_journal",
    "load_plan",
    "make_plan",
]
