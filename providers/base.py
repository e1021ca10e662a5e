"""The provider interface: the only contract between nhiwarden and a platform.

A provider lists its scopes and discovers each scope's identities into the normalized model. It does
I/O and nothing else: no verdicts (rules do that) and never a write (playbooks do that). A scan calls
``discover`` for several scopes at once from worker threads, so a provider must be thread-safe there.

Third-party providers register a subclass under the ``nhiwarden.providers`` entry-point group; the
built-in ones register the same way (see pyproject.toml).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from nhiwarden.errors import ConfigError
from nhiwarden.model import Credential, Scope, ScopeResult
from nhiwarden.ratelimit import bucket as rate_bucket
from pydantic import BaseModel, ConfigDict, ValidationError


class ProviderSettings(BaseModel):
    """Base for a provider's settings (config-file section ``providers.<name>`` plus CLI flags).

    Each field becomes a ``scan`` flag named ``--<provider>-<field>``, or the name given as
    ``json_schema_extra={"flag": "--kube-context"}``; ``{"flag": None}`` keeps a field config-only.
    List fields take comma-separated values or repeated flags.
    """

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Permission:
    """One permission a provider call needs, declared beside the call so docs and ``doctor`` cannot drift."""

    action: str
    why: str
    optional: bool = False


@dataclass
class DoctorCheck:
    """The outcome of checking one permission or prerequisite in one scope."""

    scope: str
    check: str
    ok: bool
    detail: str = ""


@dataclass
class CallLog:
    """Counts API calls per action for one scope, for the report's ``api_calls`` and budget tests.

    Calling it also takes a token from the scope's request-rate bucket (``nhiwarden.ratelimit``), so
    call it just before each request is sent.
    """

    result: ScopeResult
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, action: str, n: int = 1) -> None:
        rate_bucket(self.result.provider, self.result.scope).acquire(n)
        with self._lock:
            self.result.api_calls[action] = self.result.api_calls.get(action, 0) + n


class Provider(ABC):
    """Subclass this, set the class attributes, and register it as an entry point."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    Settings: ClassVar[type[ProviderSettings]] = ProviderSettings
    permissions: ClassVar[tuple[Permission, ...]] = ()

    def __init__(self, settings: Mapping[str, Any] | None = None, *, as_of: datetime) -> None:
        self.as_of = as_of
        self.settings = self.parse_settings(settings or {})

    @classmethod
    def parse_settings(cls, raw: Mapping[str, Any], source: str | None = None) -> ProviderSettings:
        """Validate settings; a problem becomes a ConfigError that names the field."""
        try:
            return cls.Settings.model_validate(dict(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ConfigError(err["msg"], file=source, field=f"providers.{cls.name}.{loc}") from None

    @abstractmethod
    def scopes(self) -> list[Scope]:
        """The scopes to scan. May do I/O (e.g. list an organisation's accounts).

        Raise ``ScopeError`` when even this fails; the scan then reports one failed scope for the
        provider and goes on with the others.
        """

    @abstractmethod
    def discover(self, scope: Scope, result: ScopeResult) -> None:
        """Fill ``result.identities`` for one scope; count calls, mark missing signals as partial.

        Raise ``ScopeError`` (or let an SDK error escape) when the scope cannot be scanned; the scanner
        records the scope as ``error`` with a redacted reason.
        """

    def resolve(self, scope: Scope, result: ScopeResult, credentials: list[Credential]) -> None:
        """Replace provisional credentials (``provisional=True``) that have findings with precise ones.

        Called after a first rule evaluation with only those credentials, so per-item API calls are
        spent on flagged items alone; the scanner then evaluates the rules again. Edit the
        ``Identity.credentials`` lists in ``result`` in place. Default: nothing to resolve.
        """

    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        """Check credentials and each declared permission; providers override this."""
        return [DoctorCheck(scope=scope.id, check="doctor", ok=True, detail="no checks implemented")]

    def close(self) -> None:
        """Release clients and connections."""
