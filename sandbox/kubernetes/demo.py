"""``nhiwarden demo`` for Kubernetes: two seeded fake clusters behind one generated kubeconfig.

Starts a "prod" (HTTPS, with a throw-away CA) and a "staging" (HTTP) fake kube-apiserver on loopback,
writes ``<workdir>/kubeconfig`` with one context each, and yields the settings that scan both. Stops
the servers on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from nhiwarden.sandbox.base import DemoEstate
from nhiwarden.sandbox.kubernetes.estate import seed_prod, seed_staging
from nhiwarden.sandbox.kubernetes.kubeconfig import KubeContext, write_kubeconfig
from nhiwarden.sandbox.kubernetes.server import FakeApiServer
from nhiwarden.sandbox.kubernetes.store import Store


def _tls_available() -> bool:
    try:
        import trustme  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def start_demo(workdir: Path, *, now: datetime | None = None) -> Iterator[DemoEstate]:
    now = now or datetime.now(UTC)
    prod = FakeApiServer(Store(clock=now), tls=_tls_available())  # HTTPS, like a real cluster
    staging = FakeApiServer(Store(clock=now))
    canaries = seed_prod(prod.store, now)
    seed_staging(staging.store, now)
    with prod, staging:
        prod_token, staging_token = prod.add_token("demo-scanner"), staging.add_token("demo-scanner")
        path = write_kubeconfig(
            Path(workdir) / "kubeconfig",
            [
                KubeContext("prod", prod.url, prod_token, cluster="prod-cluster", ca_pem=prod.ca_pem),
                KubeContext("staging", staging.url, staging_token, cluster="staging-cluster"),
            ],
        )
        yield DemoEstate(
            provider="kubernetes",
            settings={"kubeconfig": str(path), "all_contexts": True},
            env={},
            canaries=[*canaries, prod_token, staging_token],
            description="two fake clusters (prod over HTTPS, staging) served by nhiwarden's fake kube-apiserver",
        )
