"""A per-API request-rate cap shared by every scope of a scan (token bucket).

Providers' documented limits are per account or per tenant, and a scan that eats them breaks
production autoscaling (ScoutSuite issue 91). Every provider call passes through ``CallLog``, which
takes a token from its provider's bucket first, so the cap holds across concurrently scanned scopes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Requests per second per provider, safely below the platforms' documented throttling thresholds.
DEFAULT_RATES: dict[str, float] = {
    "aws": 20.0,
    "gcp": 50.0,
    "azure": 15.0,
    "kubernetes": 50.0,
    "vault": 100.0,
}
DEFAULT_RATE = 20.0


class TokenBucket:
    """Allows ``rate`` acquisitions per second on average with bursts up to ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, sleeping until they are available; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited += wait
        if wait:
            self._sleep(wait)
        return wait


_buckets: dict[str, TokenBucket] = {}
_rates: dict[str, float] = dict(DEFAULT_RATES)
_lock = threading.Lock()


def configure(rates: dict[str, float]) -> None:
    """Set per-provider rates for this process (from config or ``--rate-limit``); resets the buckets."""
    with _lock:
        _rates.update(rates)
        _buckets.clear()


def bucket(provider: str) -> TokenBucket:
    with _lock:
        if provider not in _buckets:
            _buckets[provider] = TokenBucket(_rates.get(provider, DEFAULT_RATE))
        return _buckets[provider]
