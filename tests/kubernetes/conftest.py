"""Fixtures for the Kubernetes tests: fake kube-apiservers seeded with the prod/staging estates.

Servers are module-scoped and never mutated by provider tests; tests that inject faults or deny
verbs get their own server (``fresh_prod``). Every age is relative to NOW and scans use ``as_of=NOW``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.kubernetes import KubernetesProvider
from nhiwarden.sandbox import free_port
from nhiwarden.sandbox.kubernetes import FakeApiServer, KubeContext, Store, write_kubeconfig
from nhiwarden.sandbox.kubernetes.estate import seed_prod, seed_staging

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CANARY = "nhw-canary-k8s-3f9a7c21d4e5b6a8"


@dataclass
class Cluster:
    server: FakeApiServer
    token: str
    canaries: list[str]


def start_cluster(seed: Callable[[Store], list[str] | None], *, tls: bool = False) -> Cluster:
    server = FakeApiServer(Store(clock=NOW), clock=lambda: NOW, tls=tls).start()
    canaries = seed(server.store) or []
    token = server.add_token("nhiwarden-scanner")
    return Cluster(server, token, [*canaries, token])


@pytest.fixture(scope="module")
def prod() -> Iterator[Cluster]:
    cluster = start_cluster(lambda store: seed_prod(store, NOW, canary=CANARY))
    yield cluster
    cluster.server.stop()


@pytest.fixture(scope="module")
def staging() -> Iterator[Cluster]:
    cluster = start_cluster(lambda store: seed_staging(store, NOW), tls=True)  # HTTPS, like real clusters
    yield cluster
    cluster.server.stop()


@pytest.fixture
def fresh_prod() -> Iterator[Cluster]:
    cluster = start_cluster(lambda store: seed_prod(store, NOW, canary=CANARY))
    yield cluster
    cluster.server.stop()


def kubeconfig_for(tmp: Path, clusters: dict[str, Cluster], *, dead: list[str] = ()) -> Path:  # type: ignore[assignment]
    contexts = [
        KubeContext(name, c.server.url, c.token, cluster=f"{name}-cluster", ca_pem=c.server.ca_pem)
        for name, c in clusters.items()
    ]
    contexts += [KubeContext(name, f"http://127.0.0.1:{free_port()}", "unused-token-0123") for name in dead]
    return write_kubeconfig(tmp / "kubeconfig", contexts)


def scan(
    settings: dict[str, Any], *, context: str | None = None, sleeps: list[float] | None = None
) -> list[ScopeResult]:
    """Discover every scope the settings name (sequentially), like the scanner does per scope."""
    provider = KubernetesProvider(settings, as_of=NOW)
    if sleeps is not None:
        provider.sleep = sleeps.append
    results = []
    for scope in provider.scopes():
        if context is not None and scope.id != context:
            continue
        results.append(discover(provider, scope))
    return results


def discover(provider: KubernetesProvider, scope: Scope) -> ScopeResult:
    result = ScopeResult(provider="kubernetes", scope=scope.id, name=scope.name)
    provider.discover(scope, result)
    return result
