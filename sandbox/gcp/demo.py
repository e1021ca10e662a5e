"""``nhiwarden demo`` for GCP: serve the seeded organisation from the fakes and say how to scan it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from nhiwarden.sandbox.base import DemoEstate
from nhiwarden.sandbox.gcp.fake import FakeGcp
from nhiwarden.sandbox.gcp.seed import ORG_ID, seed_org


@contextmanager
def start_demo(workdir: Path) -> Iterator[DemoEstate]:
    """Start both fakes with the seeded organisation; the scanner's key file goes into ``workdir``."""
    seeded = seed_org(datetime.now(UTC), denied_project=False)
    with FakeGcp(seeded.store) as fake:
        workdir.mkdir(parents=True, exist_ok=True)
        key_file = fake.write_credentials(workdir / "gcp-scanner-key.json")
        yield DemoEstate(
            provider="gcp",
            settings=fake.settings(key_file, organization=ORG_ID),
            canaries=[fake.private_key, *seeded.canaries],
            description=(
                f"Organisation {ORG_ID} (acme.example): payments-prod (exposed key, stale keys, default compute "
                "account with Editor, project-wide Token Creator, a GitHub workload identity provider without "
                "attributeCondition) and data-staging (Policy Analyzer disabled)"
            ),
        )
