"""Fixtures for the AWS provider tests: one in-process moto server per session and seeded estates.

moto keeps state per process, so every estate here uses its own account ids. Time is injected: the
estates are backdated relative to NOW and every scan uses ``as_of=NOW``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.aws import AwsProvider
from nhiwarden.sandbox.aws.demo import SCANNER, demo_specs
from nhiwarden.sandbox.aws.estate import SeededEstate, seed
from nhiwarden.sandbox.aws.server import MotoSandbox

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# The demo estate under its own account ids, so an in-process ``start_demo`` elsewhere cannot clash.
PROD = "310000000001"
STAGING = "310000000002"
_AWS_ENV = [k for k in os.environ if k.startswith("AWS_")]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[MotoSandbox]:
    with MotoSandbox() as server:
        yield server


@pytest.fixture(scope="session")
def demo(sandbox: MotoSandbox) -> SeededEstate:
    return seed(sandbox.endpoint, demo_specs(PROD, STAGING), NOW)


@pytest.fixture(autouse=True)
def _clean_faults(sandbox: MotoSandbox) -> Iterator[None]:
    yield
    assert sandbox.faults is not None
    sandbox.faults.clear()


def use_credentials(monkeypatch: pytest.MonkeyPatch, key: tuple[str, str], tmp: Any = None) -> None:
    """Point the standard credential chain at one seeded access key, and nothing else."""
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key[1])
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/nhiwarden-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/nhiwarden-aws-credentials")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_provider(sandbox: MotoSandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[AwsProvider, Sleeps]]:
    def make(key: tuple[str, str], **settings: Any) -> tuple[AwsProvider, Sleeps]:
        use_credentials(monkeypatch, key)
        provider = AwsProvider({"endpoint_url": sandbox.endpoint, **settings}, as_of=NOW)
        sleeps = Sleeps()
        provider.sleep = sleeps
        return provider, sleeps

    return make


@pytest.fixture
def demo_provider(
    demo: SeededEstate, make_provider: Callable[..., tuple[AwsProvider, Sleeps]]
) -> tuple[AwsProvider, Sleeps]:
    return make_provider(demo.credentials[f"{PROD}/{SCANNER}"], accounts=[PROD, STAGING])


@pytest.fixture(scope="session")
def demo_results(demo: SeededEstate, sandbox: MotoSandbox) -> dict[str, ScopeResult]:
    """The demo estate scanned once per session (tests only read it)."""
    with pytest.MonkeyPatch.context() as mp:
        use_credentials(mp, demo.credentials[f"{PROD}/{SCANNER}"])
        provider = AwsProvider({"endpoint_url": sandbox.endpoint, "accounts": [PROD, STAGING]}, as_of=NOW)
        provider.sleep = Sleeps()
        return scan_all(provider)


def scan(provider: AwsProvider, scope: Scope) -> ScopeResult:
    result = ScopeResult(provider="aws", scope=scope.id)
    provider.discover(scope, result)
    return result


def scan_all(provider: AwsProvider) -> dict[str, ScopeResult]:
    return {s.id: scan(provider, s) for s in provider.scopes()}


def seed_accounts(sandbox: MotoSandbox, *specs: Any) -> SeededEstate:
    """Seed AccountSpecs; the first spec should contain a user named 'scanner' with one key."""
    return seed(sandbox.endpoint, list(specs), NOW)
