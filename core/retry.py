"""Bounded retries with jittered exponential backoff that honour ``Retry-After``.

A scan never retries forever: after ``attempts`` tries the last error is raised and the scanner records
the scope as failed (``throttled``). The sleep function is injectable so tests never really wait.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

T = TypeVar("T")


class _Counts(Protocol):
    throttled: int


_scope: ContextVar[_Counts | None] = ContextVar("nhiwarden_retry_scope", default=None)
_scope_lock = threading.Lock()


@contextmanager
def counting_into(result: _Counts) -> Iterator[None]:
    """Count every retry made in this context into ``result.throttled`` (the scanner sets this per scope)."""
    token = _scope.set(result)
    try:
        yield
    finally:
        _scope.reset(token)


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    throttled: int = 0  # how many retries were caused by throttling, for the report

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based); Retry-After wins when given."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay * 3)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def call(
        self,
        fn: Callable[[], T],
        *,
        retryable: Callable[[Exception], bool],
        retry_after: Callable[[Exception], float | None] = lambda _exc: None,
    ) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.attempts or not retryable(exc):
                    raise
                self.throttled += 1
                target = _scope.get()
                if target is not None:
                    with _scope_lock:
                        target.throttled += 1
                self.sleep(self.delay(attempt, retry_after(exc)))
        raise AssertionError("unreachable")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
