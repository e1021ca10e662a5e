"""Fixtures for the Azure provider tests: the HTTPS fakes (token authority, Graph, ARM) with the seeded
tenant, scanned by the real azure-identity ClientSecretCredential and azure-mgmt clients.

Time is injected: the tenant is dated relative to AS_OF and every scan uses ``as_of=AS_OF``. Retries
sleep through ``Sleeps``, which records the delays instead of waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nhiwarden import ratelimit
from nhiwarden.config import Config
from nhiwarden.model import Inventory, ScopeResult
from nhiwarden.providers.azure import AzureProvider
from nhiwarden.sandbox.azure.demo import estate_for
from nhiwarden.sandbox.azure.estate import Seeded, seed_tenant
from nhiwarden.sandbox.azure.server import FakeAzure
from nhiwarden.sandbox.azure.tls import make_tls
from nhiwarden.sandbox.base import DemoEstate

from tests.conftest import AS_OF

FAST = Config(rate_limits={"azure": 10_000})


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Tenant:
    seeded: Seeded
    fake: FakeAzure
    estate: DemoEstate

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {**self.estate.settings, **overrides}


@dataclass
class Scan:
    provider: AzureProvider
    results: list[ScopeResult]
    sleeps: Sleeps

    @property
    def tenant(self) -> ScopeResult:
        return self.results[0]

    def scope(self, scope_id: str) -> ScopeResult:
        return next(r for r in self.results if r.scope == scope_id)

    def identity(self, name: str) -> Any:
        return next(i for i in self.tenant.identities if i.name == name)

    @property
    def inventory(self) -> Inventory:
        return Inventory(scopes=self.results)


@pytest.fixture(scope="session", autouse=True)
def _no_rate_limit_waits() -> None:
    ratelimit.configure({"azure": 10_000})


def start_tenant(tmp: Path, **seed: Any) -> Iterator[Tenant]:
    seeded = seed_tenant(AS_OF, **seed)
    tls = make_tls(tmp)
    fake = FakeAzure(seeded.tenant, tls)
    with fake.running(), pytest.MonkeyPatch.context() as mp:
        estate = estate_for(fake, seeded, tls.ca_bundle)
        for key, value in estate.env.items():
            mp.setenv(key, value)
        yield Tenant(seeded, fake, estate)


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    yield from start_tenant(tmp_path_factory.mktemp("azure"))


@pytest.fixture
def fresh_tenant(tmp_path: Path) -> Iterator[Tenant]:
    """A tenant of its own, for tests that inject faults or change the estate."""
    yield from start_tenant(tmp_path)


def scan(tenant: Tenant, **overrides: Any) -> Scan:
    """Scan every scope the provider lists, the way the scanner does (scope errors recorded)."""
    from nhiwarden.errors import ScopeError

    sleeps = Sleeps()
    provider = AzureProvider(tenant.settings(**overrides), as_of=AS_OF)
    provider.sleep = sleeps
    results = []
    for scope in provider.scopes():
        result = ScopeResult(provider="azure", scope=scope.id, name=scope.name)
        try:
            provider.discover(scope, result)
        except ScopeError as exc:
            result.status, result.error = "error", f"{exc.kind}: {exc.reason}"
        results.append(result)
    provider.close()
    return Scan(provider, results, sleeps)


@pytest.fixture(scope="module")
def seeded_scan(tenant: Tenant) -> Scan:
    return scan(tenant)
