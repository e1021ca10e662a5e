"""Fixtures for the scale tests: fake kube-apiservers that timestamp every request, and a CLI runner.

The servers are nhiwarden's own sandbox (``nhiwarden.sandbox.kubernetes``); the subclass only adds
the arrival time of each request, so rates and waits are measured where they matter: at the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.sandbox.kubernetes.estate import seed_prod, seed_staging
from nhiwarden.sandbox.kubernetes.kubeconfig import KubeContext, write_kubeconfig
from nhiwarden.sandbox.kubernetes.server import FakeApiServer
from nhiwarden.sandbox.kubernetes.store import Store

from tests.conftest import run_cli

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AS_OF = "2026-06-01T12:00:00Z"


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request arrived
    method: str
    target: str
    status: int


class TimedApiServer(FakeApiServer):
    """The sandbox's fake kube-apiserver, recording when each request arrived and how it was answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[Arrival] = []

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        at = time.monotonic()
        status, out_headers, payload = super().handle(method, target, headers, body)
        with self._lock:
            self.arrivals.append(Arrival(at, method, target, status))
        return status, out_headers, payload

    def arrivals_for(self, path_fragment: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if path_fragment in a.target.split("?")[0]]


@dataclass
class Clusters:
    servers: dict[str, TimedApiServer]
    kubeconfig: Path

    def all_arrivals(self) -> list[Arrival]:
        return sorted((a for s in self.servers.values() for a in s.arrivals), key=lambda a: a.at)


def start_clusters(workdir: Path, names: list[str], *, prod: bool = False) -> Clusters:
    servers: dict[str, TimedApiServer] = {}
    contexts = []
    for name in names:
        server = TimedApiServer(Store(clock=NOW))
        if prod:
            seed_prod(server.store, NOW)
        else:
            seed_staging(server.store, NOW)
        server.start()
        contexts.append(KubeContext(name, server.url, server.add_token("scale-scanner"), cluster=f"{name}-cluster"))
        servers[name] = server
    return Clusters(servers, write_kubeconfig(workdir / "kubeconfig", contexts))


@pytest.fixture
def clusters_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Clusters] = []

    def make(names: list[str], *, prod: bool = False) -> Clusters:
        clusters = start_clusters(tmp_path, names, prod=prod)
        started.append(clusters)
        return clusters

    yield make
    for clusters in started:
        for server in clusters.servers.values():
            server.stop()


def scan_json(*args: str, out: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """``nhiwarden scan ... --format json --output out`` in a subprocess: (exit code, report, stderr)."""
    proc = run_cli(
        "scan", *args, "--format", "json", "--output", str(out), "--as-of", AS_OF, "--fail-on", "none", env=env
    )
    report = json.loads(out.read_text()) if out.is_file() else {}
    return proc.returncode, report, proc.stderr
