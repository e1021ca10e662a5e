"""``start_demo``: the seeded Azure tenant behind local HTTPS fakes, and the settings to scan it.

Owns starting and stopping the fakes for ``nhiwarden demo`` and the tests; the scan itself uses the
real azure-identity ClientSecretCredential and azure-mgmt clients. Never touches the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nhiwarden.sandbox.azure.estate import Seeded, seed_tenant
from nhiwarden.sandbox.azure.server import FakeAzure
from nhiwarden.sandbox.azure.tls import make_tls
from nhiwarden.sandbox.base import DemoEstate


def estate_for(fake: FakeAzure, seeded: Seeded, ca_bundle: Path) -> DemoEstate:
    settings: dict[str, Any] = {
        "tenant": seeded.tenant.tenant_id,
        "credential": "client-secret",
        "client_id": seeded.scanner_client_id,
        "authority_host": fake.authority,
        "graph_endpoint": fake.graph,
        "arm_endpoint": fake.arm,
        "ca_bundle": str(ca_bundle),
        "max_retries": 2,
    }
    return DemoEstate(
        provider="azure",
        settings=settings,
        env={
            "AZURE_CLIENT_ID": seeded.scanner_client_id,
            "AZURE_CLIENT_SECRET": seeded.scanner_secret,
            "AZURE_TENANT_ID": seeded.tenant.tenant_id,
        },
        canaries=list(seeded.canaries),
        expected_errors=[seeded.denied_subscription],
        description=(
            f"Entra tenant {seeded.tenant.tenant_id}: {len(seeded.tenant.applications)} app registrations, "
            f"{len(seeded.tenant.service_principals)} service principals, 2 subscriptions (one denied)"
        ),
    )


@contextmanager
def start_demo(workdir: Path, as_of: datetime | None = None) -> Iterator[DemoEstate]:
    """Start the fakes with the seeded tenant (dated relative to ``as_of``, default now)."""
    seeded = seed_tenant(as_of or datetime.now(UTC))
    tls = make_tls(Path(workdir))
    fake = FakeAzure(seeded.tenant, tls)
    with fake.running():
        yield estate_for(fake, seeded, tls.ca_bundle)
