"""A large cluster is scanned with a bounded number of list calls (speed targets live in bench/).

The store is seeded in memory (no HTTP) so the test stays fast; the provider still pages over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nhiwarden.sandbox.kubernetes import FakeApiServer, Store
from nhiwarden.sandbox.kubernetes.estate import seed_scale

from tests.kubernetes.conftest import NOW, Cluster, kubeconfig_for, scan

ACCOUNTS, PODS, PAGE = 5000, 20000, 500


@pytest.fixture(scope="module")
def big() -> Cluster:
    server = FakeApiServer(Store(clock=NOW), clock=lambda: NOW).start()
    seed_scale(server.store, NOW, accounts=ACCOUNTS, pods=PODS)
    token = server.add_token("nhiwarden-scanner")
    yield Cluster(server, token, [])  # type: ignore[misc]
    server.stop()


def test_5000_accounts_and_20000_pods_take_a_bounded_number_of_list_calls(big: Cluster, tmp_path: Path) -> None:
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"big": big})), "page_size": PAGE})
    assert result.status == "ok" and result.identity_count == ACCOUNTS
    lists = big.server.calls("list")
    by_resource = {r: sum(1 for c in lists if c.resource == r) for r in {c.resource for c in lists}}
    assert by_resource["serviceaccounts"] == ACCOUNTS // PAGE
    assert by_resource["pods"] == PODS // PAGE
    assert len(lists) == ACCOUNTS // PAGE + PODS // PAGE + 11  # one page for each other kind
    assert sum(result.api_calls.values()) == len(lists) + 1  # + the tracking ConfigMap
    used = sum(1 for i in result.identities if i.attributes["used_by_pods"])
    assert used == ACCOUNTS - 50  # every account but the 50 namespace defaults runs pods
