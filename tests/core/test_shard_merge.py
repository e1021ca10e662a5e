"""Sharded scans merge into exactly what one unsharded scan reports; the rate cap holds under bursts."""

from __future__ import annotations

import json

import pytest
from nhiwarden.config import Config
from nhiwarden.errors import UsageError
from nhiwarden.merge import merge_reports
from nhiwarden.ratelimit import TokenBucket
from nhiwarden.scanner import ScanRequest, in_shard, run_scan

from tests.conftest import AS_OF
from tests.core.test_scanner import FakeProvider

SCOPES = [f"acct-{i:02d}" for i in range(12)]
VOLATILE = ("id", "started_at", "finished_at")


def scan(shard=None, fail=()):
    request = ScanRequest(
        providers=["fake"],
        as_of=AS_OF,
        config=Config(),
        settings={"fake": {"scopes": SCOPES, "fail": list(fail)}},
        provider_classes={"fake": FakeProvider},
        shard=shard,
    )
    return run_scan(request)


def content(report) -> dict:
    data = json.loads(report.to_json())
    for key in VOLATILE:
        data["scan"].pop(key)
    for key in ("shard", "merged_shards"):
        data["scan"]["parameters"].pop(key, None)
    for scope in data["scopes"]:
        scope.pop("started_at"), scope.pop("finished_at")
    return data


def test_every_scope_lands_in_exactly_one_shard():
    for scope in SCOPES:
        assert sum(in_shard("fake", scope, (k, 4)) for k in range(1, 5)) == 1


def test_merged_shards_equal_the_unsharded_scan():
    whole = scan(fail=["acct-03"])
    shards = [scan(shard=(k, 3), fail=["acct-03"]) for k in (1, 2, 3)]
    assert all(s.scopes for s in shards), "every shard should hold some scopes"
    assert sum(len(s.scopes) for s in shards) == len(SCOPES)
    merged = merge_reports(list(reversed(shards)))
    assert content(merged) == content(whole)


def test_merge_refuses_reports_with_different_as_of():
    a = scan(shard=(1, 2))
    b = scan(shard=(2, 2))
    b.scan.as_of = AS_OF.replace(year=2025)
    with pytest.raises(UsageError, match="as-of"):
        merge_reports([a, b])


def test_token_bucket_caps_the_rate_of_a_burst():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(rate=10, burst=10, clock=lambda: now[0], sleep=sleep)
    for _ in range(110):
        bucket.acquire()
    # 10 requests ride the initial burst; the next 100 need 10 seconds at 10/s.
    assert now[0] == pytest.approx(10.0)
