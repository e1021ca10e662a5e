"""A larger namespace: per-item lookups are counted exactly, bounded, and parallel lookups change nothing."""

from __future__ import annotations

import time

import hvac
import pytest

from .conftest import Vault, scan

TOKENS, SECRET_IDS, SECRETS = 120, 30, 42


@pytest.fixture(scope="module")
def bulk(vault: Vault) -> str:
    root = hvac.Client(url=vault.addr, token=vault.root)
    root.adapter.post("/v1/sys/namespaces/bulk")
    ns = hvac.Client(url=vault.addr, token=vault.root, namespace="bulk")
    ns.sys.enable_auth_method("approle")
    ns.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    ns.auth.approle.create_or_update_approle("fleet", token_policies=["default"], secret_id_ttl="0")
    for i in range(SECRET_IDS):
        ns.auth.approle.generate_secret_id("fleet", metadata={"host": f"node-{i}"})
    for i in range(TOKENS):
        ns.auth.token.create(display_name=f"bulk-{i}", policies=["default"], ttl="24h")
    for i in range(SECRETS):
        fields = {"aws_access_key_id": None, "aws_secret_access_key": None} if i % 3 == 0 else {"colour": None}
        ns.secrets.kv.v2.create_or_update_secret(
            f"team-{i % 7}/svc-{i}", secret={k: f"nhw-canary-bulk-{i}" for k in fields}, mount_point="kv"
        )
    return "bulk"


def test_per_item_lookups_are_counted_exactly_and_bounded(vault: Vault, bulk: str) -> None:
    started = time.perf_counter()
    (result,) = scan({"addr": vault.addr, "namespace": bulk}, vault.root)
    elapsed = time.perf_counter() - started
    calls = result.api_calls
    assert calls["auth/token/lookup-accessor"] == TOKENS
    assert calls["auth/approle/role/<role>/secret-id-accessor/lookup"] == SECRET_IDS
    assert calls["<kv>/subkeys/<path>"] == SECRETS
    assert calls["<kv>/metadata (list)"] == 1 + 7  # the mount root and one folder per team
    per_item = TOKENS + SECRET_IDS + SECRETS
    assert sum(calls.values()) - per_item < 20, calls
    assert len(result.identities) == TOKENS + 1 + SECRETS // 3
    assert elapsed < 30


def test_parallel_lookups_give_the_same_inventory_as_sequential(vault: Vault, bulk: str) -> None:
    def shape(concurrency: int) -> list[tuple[str, list[str]]]:
        (result,) = scan({"addr": vault.addr, "namespace": bulk, "lookup_concurrency": concurrency}, vault.root)
        return [(i.uid, sorted(c.uid for c in i.credentials)) for i in result.identities]

    assert shape(4) == shape(1)
