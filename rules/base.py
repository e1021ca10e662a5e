"""What a rule is: one small pure function over the normalized inventory, with its metadata beside it.

Rules never do I/O and never read the clock: every age is measured against ``ctx.as_of``. A rule yields
``Hit``s; the engine turns them into Findings (fingerprint, severity, compliance controls, remediation).
A rule must not turn missing data into a verdict: when ``usage_known`` is false there is no
unused/dormant finding (providers report the missing signal on the scope instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nhiwarden.findings import Severity
from nhiwarden.model import Credential, Identity, Inventory, ScopeResult


@dataclass
class Hit:
    """One thing a rule found. ``severity`` overrides the rule's default for this hit only."""

    identity: Identity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    credential: Credential | None = None
    severity: Severity | None = None
    controls: list[str] = field(default_factory=list)


@dataclass
class RuleContext:
    """What a rule may look at: the inventory, its parameters and the evaluation date."""

    inventory: Inventory
    as_of: datetime
    params: dict[str, Any]
    include_system: bool = False
    enabled: frozenset[str] = frozenset()  # ids of every enabled rule, for rules that defer to another
    params_of: dict[str, dict[str, Any]] = field(default_factory=dict)  # every enabled rule's parameters

    def identities(self, provider: str | None = None) -> Iterator[Identity]:
        """Identities to judge; platform-managed ones only when configured."""
        for identity in self.inventory.identities:
            if identity.system and not self.include_system:
                continue
            if provider is None or identity.provider == provider:
                yield identity

    def scopes(self, provider: str | None = None) -> Iterator[ScopeResult]:
        for scope in self.inventory.scopes:
            if scope.status != "error" and (provider is None or scope.provider == provider):
                yield scope

    def days_since(self, when: datetime | None) -> int | None:
        """Whole days from ``when`` to ``as_of`` (negative in the future); None when unknown."""
        if when is None:
            return None
        return math.floor((self.as_of - when).total_seconds() / 86400)


CheckFn = Callable[[RuleContext], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A rule's metadata and its check function."""

    id: str
    title: str
    severity: Severity
    rationale: str
    check: CheckFn
    params: dict[str, Any] = field(default_factory=dict)
    providers: tuple[str, ...] = ()  # empty: applies to every provider
    remediation: tuple[str, ...] = ()
    enabled_by_default: bool = True
    version: str = "1"


RULES: dict[str, Rule] = {}


def rule(
    *,
    id: str,
    title: str,
    severity: Severity | str,
    rationale: str,
    params: dict[str, Any] | None = None,
    providers: tuple[str, ...] = (),
    remediation: tuple[str, ...] = (),
    enabled_by_default: bool = True,
    version: str = "1",
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function as a rule. Rule ids are a public contract: never rename one."""

    def register(fn: CheckFn) -> CheckFn:
        if id in RULES and RULES[id].check is not fn:
            raise ValueError(f"rule id {id!r} registered twice")
        RULES[id] = Rule(
            id=id,
            title=title,
            severity=Severity(severity),
            rationale=rationale,
            check=fn,
            params=dict(params or {}),
            providers=providers,
            remediation=remediation,
            enabled_by_default=enabled_by_default,
            version=version,
        )
        return fn

    return register


def idle_since(item: Identity | Credential) -> datetime | None:
    """When the item was last seen in use, or from when it has provably not been used.

    Never-used items count from creation, or from the start of the usage signal's window when that is
    later (usage before the provider began tracking cannot be known). None when usage is unknown.
    """
    if item.last_used_source is None:
        return None
    if item.last_used_at is not None:
        return item.last_used_at
    starts = [t for t in (item.created_at, item.last_used_tracking_since) if t is not None]
    return max(starts) if starts else None
