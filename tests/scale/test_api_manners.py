"""API manners measured at the server: the request-rate cap holds under a concurrent burst, Retry-After is
honoured, and retries end. The scan runs as a real ``nhiwarden scan`` subprocess against fake
kube-apiservers; every figure comes from the servers' own arrival times, never from the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.sandbox.kubernetes.server import Fault

from .conftest import Clusters, scan_json, start_clusters

RATE = 20.0  # --rate-limit kubernetes=20; the bucket's burst equals its rate
SA_LIST = "/serviceaccounts"
ThrottledScan = tuple[Clusters, int, dict[str, Any], str]  # servers, exit code, report, stderr


def _page_size_one(tmp_path: Path) -> Path:
    """A config that pages every list one item at a time: many small requests, a real burst."""
    config = tmp_path / "nhiwarden.yaml"
    config.write_text("providers:\n  kubernetes:\n    page_size: 1\n")
    return config


def test_the_rate_cap_holds_at_the_server_under_a_concurrent_burst(tmp_path: Path, clusters_factory: Any) -> None:
    clusters = clusters_factory(["east", "west"], prod=True)
    code, report, stderr = scan_json(
        "--provider",
        "kubernetes",
        "--kubernetes-kubeconfig",
        str(clusters.kubeconfig),
        "--all-contexts",
        "--config",
        str(_page_size_one(tmp_path)),
        "--concurrency",
        "8",
        "--rate-limit",
        f"kubernetes={RATE:g}",
        out=tmp_path / "report.json",
    )
    assert code == 0, stderr
    assert [s["status"] for s in report["scopes"]] == ["ok", "ok"]
    counted = sum(sum(s["api_calls"].values()) for s in report["scopes"])
    assert len(clusters.all_arrivals()) == counted  # the report counts exactly what the servers received
    # Each cluster is its own quota holder: its server sees at most `burst` at once, then `RATE` per second.
    for name, server in clusters.servers.items():
        times = sorted(a.at for a in server.arrivals)
        assert len(times) > 3 * RATE, f"{name}: the scan must be big enough to outlast the initial burst"
        for i, start in enumerate(times):
            in_window = sum(1 for t in times[i:] if t < start + 1.0)
            # + 10 %: a thread can take its token, be descheduled, and arrive together with later requests.
            assert in_window <= (RATE + RATE * 1.0) * 1.1, f"{name}: {in_window} requests within 1 s"
        span = times[-1] - times[0]
        assert (len(times) - RATE) / span <= RATE * 1.1, f"{name}: {len(times)} requests in {span:.2f} s"


@pytest.fixture(scope="module")
def throttled_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrottledScan]:
    """One scan of three clusters: "once" throttles its first ServiceAccount list with Retry-After: 1,
    "busy" throttles every one (Retry-After: 0, so the bound is reached quickly), "calm" never does."""
    clusters = start_clusters(tmp_path_factory.mktemp("throttle"), ["busy", "calm", "once"])
    try:
        clusters.servers["once"].inject(
            Fault(status=429, verb="list", resource="serviceaccounts", times=1, retry_after=1)
        )
        clusters.servers["busy"].inject(
            Fault(status=429, verb="list", resource="serviceaccounts", times=None, retry_after=0)
        )
        code, report, stderr = scan_json(
            "--provider",
            "kubernetes",
            "--kubernetes-kubeconfig",
            str(clusters.kubeconfig),
            "--all-contexts",
            out=clusters.kubeconfig.parent / "report.json",
        )
        yield clusters, code, report, stderr
    finally:
        for server in clusters.servers.values():
            server.stop()


def test_retry_after_is_honoured_before_the_next_attempt(throttled_scan: ThrottledScan) -> None:
    clusters, _code, report, stderr = throttled_scan
    scope = next(s for s in report["scopes"] if s["scope"] == "once")
    assert scope["status"] == "ok", stderr
    lists = clusters.servers["once"].arrivals_for(SA_LIST)
    assert [a.status for a in lists[:2]] == [429, 200]
    assert lists[1].at - lists[0].at >= 0.95  # Retry-After: 1, measured between arrivals at the server
    assert scope["api_calls"]["list serviceaccounts"] == len(lists)  # the retried request was counted too
    assert scope["throttled"] == 1  # the report says how often the API pushed back
    assert "1 retried" in stderr  # and so does the per-scope progress line


def test_a_server_that_always_throttles_ends_the_scope_as_throttled_after_bounded_attempts(
    throttled_scan: ThrottledScan,
) -> None:
    clusters, code, report, stderr = throttled_scan
    assert code == 3, stderr  # a scope could not be scanned; the report still lists what was
    scopes = {s["scope"]: s for s in report["scopes"]}
    assert scopes["busy"]["status"] == "error"
    assert scopes["busy"]["error"].startswith("throttled")
    assert scopes["calm"]["status"] == "ok"  # one throttled cluster does not sink the others
    attempts = clusters.servers["busy"].arrivals_for(SA_LIST)
    assert all(a.status == 429 for a in attempts)
    assert len(attempts) == 5  # the provider's bounded attempts, then it gives up
    assert scopes["busy"]["throttled"] == 4 and scopes["calm"]["throttled"] == 0
    assert report["summary"]["throttled"] == 5
