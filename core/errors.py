"""Errors that the CLI turns into clear messages and exit codes instead of tracebacks.

Every message must be safe to print: callers pass values through ``nhiwarden.redact`` before they
build an error from text that came from an API or a user's environment.
"""

from __future__ import annotations


class NhiwardenError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with when this reaches it."""

    exit_code = 2


class ConfigError(NhiwardenError):
    """A configuration problem, named by file, field and problem (exit 2)."""

    def __init__(self, problem: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = ": ".join(p for p in (file, field) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class UsageError(NhiwardenError):
    """Bad command-line usage (exit 2)."""


class ScopeError(NhiwardenError):
    """A scope could not be scanned (auth, network, permission, throttling after retries).

    Raised by providers from ``discover``; the scanner records it as a failed scope and goes on.
    """

    exit_code = 3

    def __init__(self, reason: str, *, kind: str = "error") -> None:
        self.reason = reason
        self.kind = kind  # auth | network | permission | throttled | not-found | error
        super().__init__(reason)
