"""``nhiwarden.yaml``: thresholds, rule switches, scope filters, exceptions and provider settings.

Every problem becomes a ``ConfigError`` naming the file, the field and the problem, so the CLI exits 2
with one clear line instead of a traceback.
"""

from __future__ import annotations

import fnmatch
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from nhiwarden.errors import ConfigError
from nhiwarden.findings import Severity
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_FILES = ("nhiwarden.yaml", "nhiwarden.yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleOverride(_Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class ScopeFilter(_Strict):
    """Globs over ``<provider>:<scope id>``, e.g. ``aws:123456789012`` or ``kubernetes:prod-*``."""

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    def allows(self, provider: str, scope_id: str) -> bool:
        key = f"{provider}:{scope_id}"
        if self.include and not any(fnmatch.fnmatchcase(key, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.exclude)


class ExceptionRule(_Strict):
    """An accepted risk: suppresses matching findings until ``expires``, then stops and says so.

    Match by finding ``id``, or by ``rule`` and/or ``identity`` / ``credential`` (globs over uids,
    names and credential ids); every given matcher must match.
    """

    id: str | None = None
    rule: str | None = None
    identity: str | None = None
    credential: str | None = None
    reason: str
    owner: str
    expires: date
    approver: str | None = None
    ticket: str | None = None

    @model_validator(mode="after")
    def _needs_a_matcher(self) -> ExceptionRule:
        if not any((self.id, self.rule, self.identity, self.credential)):
            raise ValueError("needs at least one of id, rule, identity, credential")
        return self


class Thresholds(_Strict):
    unused_days: int = Field(default=90, ge=1)
    dormant_days: int = Field(default=180, ge=1)
    rotation_days: int = Field(default=90, ge=1)
    expiry_warning_days: int = Field(default=30, ge=0)


class Config(_Strict):
    version: int = 1
    fail_on: Severity | None = Severity.HIGH
    include_system: bool = Field(
        default=False, description="Also judge platform-managed identities (AWS service-linked roles)."
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    scopes: ScopeFilter = Field(default_factory=ScopeFilter)
    exceptions: list[ExceptionRule] = Field(default_factory=list)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    concurrency: int = Field(default=32, ge=1, le=64)
    rate_limits: dict[str, float] = Field(
        default_factory=dict, description="Requests per second per provider, e.g. {aws: 10}."
    )
    source: str | None = Field(default=None, exclude=True)

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != 1:
            raise ValueError(f"unsupported config version {v} (this nhiwarden reads version 1)")
        return v

    @field_validator("rate_limits")
    @classmethod
    def _positive_rates(cls, v: dict[str, float]) -> dict[str, float]:
        for name, rate in v.items():
            if rate <= 0:
                raise ValueError(f"rate for {name!r} must be positive")
        return v

    @field_validator("providers", mode="before")
    @classmethod
    def _sections_are_mappings(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for name, section in v.items():
                if section is not None and not isinstance(section, dict):
                    raise ValueError(f"section {name!r} must be a mapping")
            return {k: (s or {}) for k, s in v.items()}
        return v


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file given, else ``./nhiwarden.yaml`` if present, else the defaults."""
    if path is None:
        found = next((Path(p) for p in DEFAULT_FILES if Path(p).is_file()), None)
        if found is None:
            return Config()
        path = found
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=name, field=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", file=name)
    return parse_config(data, source=name)


def parse_config(data: dict[str, Any], source: str | None = None) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise ConfigError(err["msg"], file=source, field=field) from None
    config.source = source
    return config
