"""A request-rate cap per API quota holder (token bucket).

Providers' throttling limits are per account (AWS IAM/STS), quota project (GCP), tenant or
subscription (Azure), cluster (Kubernetes) or server (Vault), and a scan that eats them breaks production
autoscaling (ScoutSuite issue 91). Every provider call passes through ``CallLog``, which first takes
a token from the bucket of its scope, so each account sees at most the configured rate however many
threads scan it, while twenty accounts scan twenty times faster than one shared bucket would allow.
Vault scopes (namespaces of one server) and GCP scopes (requests count against the caller's quota
project) share one bucket per provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Requests per second per scope, safely below the platforms' documented throttling thresholds.
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


# Providers whose scopes share one quota, so one bucket: Vault namespaces live on one server, and
# Google charges API requests to the caller's quota project, not to the project being read.
SHARED_QUOTA = frozenset({"vault", "gcp"})


def bucket(provider: str, scope: str | None = None) -> TokenBucket:
    """The bucket of one quota holder: ``provider`` + ``scope``, or the provider's shared one."""
    key = provider if scope is None or provider in SHARED_QUOTA else f"{provider}\x1f{scope}"
    with _lock:
        if key not in _buckets:
            _buckets[key] = TokenBucket(_rates.get(provider, DEFAULT_RATE))
        return _buckets[key]
