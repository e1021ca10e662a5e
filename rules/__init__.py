"""The rules engine: pure functions of the inventory, its parameters and ``as_of``; no I/O.

Built-in rules live in ``rules/builtin/`` (one module per theme or provider) and register themselves
with ``@rule``; third-party rule packs register modules under the ``nhiwarden.rules`` entry-point group.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from nhiwarden.rules.base import RULES, Hit, Rule, RuleContext, idle_since, rule

__all__ = ["RULES", "Hit", "Rule", "RuleContext", "all_rules", "idle_since", "rule"]


@cache
def all_rules() -> dict[str, Rule]:
    """Every registered rule by id, built-in first, loading rule modules once."""
    from nhiwarden.rules import builtin

    for module in pkgutil.iter_modules(builtin.__path__):
        importlib.import_module(f"{builtin.__name__}.{module.name}")
    for ep in entry_points(group="nhiwarden.rules"):
        ep.load()
    return dict(sorted(RULES.items()))
