"""Fixtures for the GCP provider tests: the fake IAM gRPC + REST servers with the seeded organisation.

Time is injected: the estate is backdated relative to NOW and every scan uses ``as_of=NOW``. Retries
sleep through ``Sleeps``, which records the delays instead of waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nhiwarden import ratelimit
from nhiwarden.errors import ScopeError
from nhiwarden.model import Inventory, Scope, ScopeResult
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.sandbox.gcp import ORG_ID, FakeGcp, SeededOrg, seed_org

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def org() -> SeededOrg:
    return seed_org(NOW)


@pytest.fixture(scope="module")
def fake(org: SeededOrg) -> Iterator[FakeGcp]:
    with FakeGcp(org.store) as server:
        yield server


@pytest.fixture(scope="module")
def key_file(fake: FakeGcp, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake.write_credentials(tmp_path_factory.mktemp("gcp") / "scanner.json")


@pytest.fixture
def settings(fake: FakeGcp, key_file: Path) -> dict[str, Any]:
    return fake.settings(key_file, organization=ORG_ID)


@pytest.fixture(autouse=True, scope="module")
def _unthrottled() -> Iterator[None]:
    """The scan's request-rate cap (50/s for GCP) would dominate these tests; call counts are the point.

    The 2,000-account test makes 4,026 calls: 80 s at the cap, about 6 s without it.
    """
    ratelimit.configure({"gcp": 1_000_000.0})
    yield
    ratelimit.configure({"gcp": ratelimit.DEFAULT_RATES["gcp"]})


@pytest.fixture(autouse=True)
def _no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake" in request.fixturenames:
        server: FakeGcp = request.getfixturevalue("fake")
        leftover = list(server.store.faults)
        server.store.faults.clear()
        assert not leftover, f"faults not consumed: {leftover}"


def discover(provider: GcpProvider, scope: Scope) -> ScopeResult:
    """What the scanner does with one scope: a result, or an error result with the redacted reason."""
    result = ScopeResult(provider="gcp", scope=scope.id, name=scope.name)
    try:
        provider.discover(scope, result)
    except ScopeError as exc:
        result.status = "error"
        result.error = f"{exc.kind}: {exc.reason}"
        result.identities = []
    return result


def scan(settings: dict[str, Any], sleep: Sleeps | None = None) -> tuple[GcpProvider, Inventory]:
    provider = GcpProvider(settings, as_of=NOW, sleep=sleep or Sleeps())
    try:
        inventory = Inventory(scopes=[discover(provider, s) for s in provider.scopes()])
    finally:
        provider.close()
    return provider, inventory
