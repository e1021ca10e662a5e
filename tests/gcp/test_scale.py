"""API-call budget for a project with 2,000 service accounts (fake store seeded in memory)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nhiwarden.config import Config
from nhiwarden.model import Inventory, Scope
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.gcp import FakeGcp, Store, seed_sprawl

from .conftest import NOW, Sleeps, discover


@pytest.fixture(scope="module")
def sprawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeGcp, Path]]:
    store = Store(page_size=100, activity_page_size=1000)  # Google's own page limits
    seed_sprawl(store, NOW, accounts=2000)
    with FakeGcp(store) as fake:
        yield fake, fake.write_credentials(tmp_path_factory.mktemp("sprawl") / "key.json")


def test_2000_accounts_cost_one_key_and_one_policy_call_each_and_paged_listings(
    sprawl: tuple[FakeGcp, Path],
) -> None:
    fake, key = sprawl
    provider = GcpProvider(fake.settings(key, projects=["acme-sprawl"]), as_of=NOW, sleep=Sleeps())
    started = time.perf_counter()
    result = discover(provider, Scope(provider="gcp", id="acme-sprawl"))
    elapsed = time.perf_counter() - started
    provider.close()
    assert result.status == "ok"
    assert result.api_calls == {
        "ListServiceAccounts": 20,  # 2,000 / 100 per page
        "ListServiceAccountKeys": 2000,  # unpaged per account; REST for the exposure fields
        "GetServiceAccountIamPolicy": 2000,  # who may impersonate each account
        "GetProjectIamPolicy": 1,
        "QueryActivity:serviceAccountLastAuthentication": 2,  # 1,500 activities / 1,000 per page
        "QueryActivity:serviceAccountKeyLastAuthentication": 2,  # never one query per account or key
        "ListWorkloadIdentityPools": 1,  # no pools: no provider listing
    }
    assert len(result.identities) == 2000
    assert sum(len(i.credentials) for i in result.identities) == 2000
    used = [i for i in result.identities if i.last_used_at is not None]
    assert len(used) == 1500
    assert elapsed < 60

    findings = evaluate(Inventory(scopes=[result]), as_of=NOW, config=Config())
    quota = [f for f in findings if f.rule_id == "gcp-service-account-quota"]
    assert [(f.identity.uid, f.evidence["service_account_count"]) for f in quota] == [("gcp:acme-sprawl:project", 2000)]
