"""The registry of actions (what a step does and how it is undone) and observers (live-state checks).

Owns the ``Action`` interface, the ``Context`` a step runs in (clients, clock, public outputs of earlier
steps, and the in-memory secrets that flow from a create step to its delivery step), and lazy loading of
the per-platform modules. Must never persist a secret: ``Context.secrets`` lives in memory only.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from nhiwarden.redact import register_secret

from ..model import Plan, PlanError, SecretLost

if TYPE_CHECKING:
    from ..journal import Journal

Observer = Callable[["Context", dict[str, Any]], dict[str, Any]]

ACTIONS: dict[str, Action] = {}
OBSERVERS: dict[str, Observer] = {}

# action/observer name prefix -> module that registers it (imported on first use).
MODULES = {
    "aws": "nhiwarden.playbooks.actions.aws",
    "vault": "nhiwarden.playbooks.actions.vault",
    "gcp": "nhiwarden.playbooks.actions.gcp",
    "azure": "nhiwarden.playbooks.actions.azure",
    "k8s": "nhiwarden.playbooks.actions.kubernetes",
    "vault-kv": "nhiwarden.playbooks.delivery.vault_kv",
    "aws-secretsmanager": "nhiwarden.playbooks.delivery.aws_secretsmanager",
    "k8s-secret": "nhiwarden.playbooks.delivery.k8s_secret",
    "notify": "nhiwarden.playbooks.notify",
    # migrate (Playbooks II)
    "awsfed": "nhiwarden.playbooks.actions.aws_federation",
    "vaultfed": "nhiwarden.playbooks.actions.vault_federation",
    "azurefed": "nhiwarden.playbooks.actions.azure_federation",
    "gcpfed": "nhiwarden.playbooks.actions.gcp_federation",
    "k8sfed": "nhiwarden.playbooks.actions.k8s_federation",
    "migrate": "nhiwarden.playbooks.actions.consumer",
    "usage": "nhiwarden.playbooks.actions.usage",
}


class NotReversible(Exception):
    pass


class StepError(Exception):
    """A step's API call was refused or its result is wrong; the message is already redacted."""


class Action:
    """One kind of change. ``run`` returns public outputs (ids, versions, timestamps), never secrets."""

    name: ClassVar[str]

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        raise NotReversible(self.name)

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        """After a crash during the step: outputs if its effect is complete, None to run it again."""
        return None


class Delivery(Action):
    """An action that writes a new secret where consumers read it, and can read it back to verify."""

    def read_back(self, ctx: Context, params: dict[str, Any]) -> dict[str, str]:
        raise NotImplementedError


def action(cls: type[Action]) -> type[Action]:
    ACTIONS[cls.name] = cls()
    return cls


def observer(name: str) -> Callable[[Observer], Observer]:
    def register(fn: Observer) -> Observer:
        OBSERVERS[name] = fn
        return fn

    return register


def _load(name: str) -> None:
    prefix = name.split(".", 1)[0]
    module = MODULES.get(prefix)
    if module is None:
        raise PlanError(f"unknown action or check {name!r}")
    importlib.import_module(module)


def get_action(name: str) -> Action:
    if name not in ACTIONS:
        _load(name)
    if name not in ACTIONS:
        raise PlanError(f"unknown action {name!r}")
    return ACTIONS[name]


def get_observer(name: str) -> Observer:
    if name not in OBSERVERS:
        _load(name)
    if name not in OBSERVERS:
        raise PlanError(f"unknown check {name!r}")
    return OBSERVERS[name]


# Fields of a stored credential that are public identifiers, not secrets (never masked).
PUBLIC_FIELDS = frozenset(
    {
        "aws_access_key_id",
        "region",
        "aws_region",
        "client_id",
        "tenant_id",
        "account_id",
        "key_id",
        "username",
        "token_ref",
        "private_key_id",
        "secret_key_id",
        "role_id",
        "secret_id_accessor",
        "token_accessor",
    }
)

_REF = re.compile(r"^\$\{(?P<step>[^}]+)\.(?P<key>[A-Za-z0-9_-]+)\}$")


@dataclass
class Context:
    """Everything a step may use. ``secrets`` maps a step id to the secret fields it produced."""

    plan: Plan
    now: datetime
    journal: Journal | None = None
    current: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    sleep: Callable[[float], None] = time.sleep
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def resolve(self, value: Any) -> Any:
        """Replace ``${step.key}`` references with earlier steps' public outputs."""
        if isinstance(value, str):
            m = _REF.match(value)
            if m:
                step, key = m.group("step"), m.group("key")
                if step not in self.outputs or key not in self.outputs[step]:
                    raise PlanError(f"step output {value} is not known yet (has step {step} completed?)")
                return self.outputs[step][key]
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def keep_secret(self, step_id: str, fields: dict[str, str]) -> None:
        """Hold a step's new credential in memory; every non-public field is registered as a secret."""
        for name, value in fields.items():
            if name not in PUBLIC_FIELDS:
                register_secret(value)
        self.secrets[step_id] = dict(fields)

    def secret(self, step_id: str) -> dict[str, str]:
        if step_id not in self.secrets:
            raise SecretLost(step_id)
        return self.secrets[step_id]

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def connection(self, name: str) -> dict[str, Any]:
        return dict(self.plan.connections.get(name, {}))
