"""Plan, step, check and journal-entry types: the JSON contract of ``nhiwarden plan`` and ``apply``.

A plan names every change before it is made: the exact API call, what must be true first, how the step
is undone, and the stage it belongs to. Nothing here may ever hold a secret value: steps pass new
secrets to each other in memory only (see ``engine``), and a plan or journal carries public ids only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from nhiwarden.errors import NhiwardenError
from pydantic import BaseModel, ConfigDict, Field

PLAN_SCHEMA_VERSION = 1

Stage = Literal["create", "deliver", "verify", "deactivate", "delete", "notify", "disable"]
STAGE_ORDER: tuple[str, ...] = ("notify", "create", "deliver", "verify", "deactivate", "disable", "delete")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Check(_Model):
    """One fact about live state that must hold, e.g. "key AKIA... exists, is Active, created at T".

    ``observe`` names a registered observer; it returns the live facts as JSON, and every key of
    ``expect`` must equal the observed value. ``invariant`` checks hold for the whole life of the plan
    (identity of the target); the others describe the state before the first step and are only
    re-checked by a fresh apply.
    """

    id: str
    observe: str
    params: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    invariant: bool = False
    until: str | None = Field(
        default=None, description="Step id after whose start the check no longer applies (e.g. delete)."
    )
    text: str


class Step(_Model):
    """One change. ``params`` may refer to an earlier step's public output as ``${step-id.key}``."""

    id: str
    stage: Stage
    group: str = Field(description="Steps applied and rolled back together, e.g. 't1:rotate'.")
    manual: bool = Field(
        default=False, description="Runs only when `apply --stage` names its stage (e.g. delete, disable)."
    )
    action: str = Field(description="Registered action name, e.g. aws.create-access-key.")
    target: str = Field(description="What the step changes (credential or identity uid, or a location).")
    api_call: str = Field(description="The exact API call, for the reviewer.")
    params: dict[str, Any] = Field(default_factory=dict)
    rollback: str | None = Field(description="How the step is undone; None when it cannot be.")
    requires: list[Check] = Field(default_factory=list, description="Checked right before the step runs.")
    secret_from: str | None = Field(
        default=None, description="Step whose in-memory secret this step consumes (never persisted)."
    )
    not_before: dict[str, Any] | None = Field(
        default=None,
        description="{'after': step-id, 'days': N}: wait N days after that step completed.",
    )


class Target(_Model):
    finding_id: str
    rule_id: str
    identity_uid: str
    identity_name: str
    credential_uid: str | None = None
    credential_id: str | None = None
    owner: str | None = None


class Plan(_Model):
    schema_version: int = PLAN_SCHEMA_VERSION
    id: str
    playbook: str
    created_at: datetime
    valid_until: datetime
    created_by: str
    report: dict[str, Any] = Field(default_factory=dict, description="Scan id and file the plan came from.")
    targets: list[Target]
    max_changes: int
    grace_days: int
    connections: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Non-secret endpoints (AWS region/endpoint, Vault address)."
    )
    preconditions: list[Check]
    skipped: list[str] = Field(default_factory=list, description="Findings left out, and why.")
    state_hash: str = Field(description="sha256 of the preconditions' live state when the plan was made.")
    steps: list[Step]

    @property
    def changes(self) -> int:
        """Credentials or identities the plan changes (its blast radius)."""
        return len(self.targets)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


JournalEvent = Literal[
    "started", "completed", "failed", "rolled-back", "rollback-failed", "recovered", "refused", "finished"
]


class JournalEntry(_Model):
    """One line of the append-only journal. ``outputs`` are public (key ids, versions), never secrets."""

    ts: datetime
    who: str
    pid: int
    plan_id: str
    step: str | None = None
    stage: str | None = None
    target: str | None = None
    event: JournalEvent
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


def state_hash(observed: dict[str, Any]) -> str:
    raw = json.dumps(observed, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


# Errors. Exit codes: 2 refused before any change (expired or invalid plan, lock held, stage not
# due); 3 live state no longer matches the plan; 1 a step failed (completed steps were rolled back).


class PlanError(NhiwardenError):
    """The plan cannot be made or applied as asked (exit 2); nothing was changed."""

    exit_code = 2


class PlanExpired(PlanError):
    pass


class LockHeld(PlanError):
    pass


class StateChanged(NhiwardenError):
    """Live state differs from what the plan was made against (exit 3); nothing was changed."""

    exit_code = 3


class StepFailed(NhiwardenError):
    """A step failed; the completed steps of its group were rolled back (exit 1)."""

    exit_code = 1


class SecretLost(Exception):
    """A step needs a secret that only lived in the memory of an earlier, interrupted apply."""
