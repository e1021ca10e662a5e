"""The compliance crosswalk: which controls each rule maps to, per provider, from versioned data files.

``data/frameworks.yaml`` names each framework and the version its control ids refer to;
``data/controls/*.yaml`` map rule ids to control labels (``all`` plus per-provider lists).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

import yaml
from nhiwarden.findings import Control

_DATA = resources.files("nhiwarden.rules") / "data"


@cache
def _frameworks() -> dict[str, Any]:
    return dict(yaml.safe_load((_DATA / "frameworks.yaml").read_text(encoding="utf-8")))


@cache
def _crosswalk() -> dict[str, dict[str, list[str]]]:
    merged: dict[str, dict[str, list[str]]] = {}
    for entry in sorted((_DATA / "controls").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for rule_id, by_provider in (yaml.safe_load(entry.read_text(encoding="utf-8")) or {}).items():
            target = merged.setdefault(rule_id, {})
            for provider, labels in by_provider.items():
                target.setdefault(provider, []).extend(labels)
    return merged


def controls_for(rule_id: str, provider: str) -> list[str]:
    """Control labels for a rule's finding on ``provider`` (a fresh list the caller may extend)."""
    mapping = _crosswalk().get(rule_id, {})
    return [*mapping.get("all", []), *mapping.get(provider, [])]


def parse_controls(labels: list[str]) -> list[Control]:
    """Structured ``{framework, version, control}`` for each label with a known framework prefix."""
    return [c for c in map(_parse_label, labels) if c is not None]


@cache
def _prefixes() -> tuple[str, ...]:
    return tuple(sorted(_frameworks()["frameworks"], key=len, reverse=True))


@cache
def _parse_label(label: str) -> Control | None:
    frameworks = _frameworks()["frameworks"]
    for prefix in _prefixes():
        if label.startswith(prefix + "-"):
            version = str(frameworks[prefix]["version"])
            return Control(framework=prefix, version=version, control=label[len(prefix) + 1 :])
    return None


def frameworks() -> dict[str, dict[str, str]]:
    return dict(_frameworks()["frameworks"])


@cache
def rule_pack() -> dict[str, str]:
    """Version and content hash of the rule pack (crosswalk data and rule code), for audit evidence."""
    digest = hashlib.sha256()
    for entry in sorted((_DATA / "controls").iterdir(), key=lambda e: e.name):
        digest.update(entry.read_bytes())
    digest.update((_DATA / "frameworks.yaml").read_bytes())
    builtin = resources.files("nhiwarden.rules") / "builtin"
    for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            digest.update(entry.read_bytes())
    return {"version": str(_frameworks()["rule_pack_version"]), "sha256": digest.hexdigest()}
