"""Provider plugins, discovered through the ``nhiwarden.providers`` entry-point group.

Built-in providers register exactly like third-party ones. Loading is lazy: listing providers
imports only their small entry modules, which must not import their SDKs at module level, so an
AWS-only scan never pays for the Google or Azure libraries.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from nhiwarden.errors import UsageError
from nhiwarden.providers.base import (
    CallLog,
    DoctorCheck,
    Permission,
    Provider,
    ProviderSettings,
)

__all__ = [
    "CallLog",
    "DoctorCheck",
    "Permission",
    "Provider",
    "ProviderSettings",
    "load_provider",
    "provider_names",
]

GROUP = "nhiwarden.providers"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def provider_names() -> list[str]:
    """Names of every registered provider, built-in first in a fixed order, then plugins by name."""
    builtin = ["aws", "gcp", "azure", "kubernetes", "vault"]
    names = list(_entry_points())
    return [n for n in builtin if n in names] + sorted(n for n in names if n not in builtin)


def load_provider(name: str) -> type[Provider]:
    """Import and return the provider class registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(provider_names()) or "none"
        raise UsageError(f"unknown provider {name!r} (registered: {known})")
    try:
        cls = eps[name].load()
    except Exception as exc:  # a broken plugin must not take the CLI down
        raise UsageError(f"provider {name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise UsageError(f"provider {name!r} ({eps[name].value}) is not a nhiwarden Provider subclass")
    return cls
