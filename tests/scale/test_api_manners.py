"""API manners measured at the server: the request-rate cap holds under a concurrent burst, Retry-After is
honoured, and retries end. The scan runs as a real ``nhiwarden scan`` subprocess against fake
kube-apiservers; every figure comes from the servers' own arrival times, never from the client.
"""

from __future__ import annotations

from pathlib import Path

from nhiwarden.sandbox.kubernetes.server import Fault

from .conftest import scan_json

RATE = 50.0  # --rate-limit kubernetes=50; the bucket's burst equals its rate
SA_LIST = "/serviceaccounts"


def _page_size_one(tmp_path: Path) -> Path:
    """A config that pages every list one item at a time: many small requests, a real burst."""
    config = tmp_path / "nhiwarden.yaml"
    config.write_text("providers:\n  kubernetes:\n    page_size: 1\n")
    return config


def test_the_rate_cap_holds_at_the_server_under_a_concurrent_burst(tmp_path, clusters_factory):
    clusters = clusters_factory(["east", "west"], prod=True)
    code, report, stderr = scan_json(
        "--provider", "kubernetes", "--kubernetes-kubeconfig", str(clusters.kubeconfig), "--all-contexts",
        "--config", str(_page_size_one(tmp_path)), "--concurrency", "8", "--rate-limit", f"kubernetes={RATE:g}",
        out=tmp_path / "report.json",
    )
    assert code == 0, stderr
    assert [s["status"] for s in report["scopes"]] == ["ok", "ok"]
    arrivals = clusters.all_arrivals()
    counted = sum(sum(s["api_calls"].values()) for s in report["scopes"])
    assert len(arrivals) == counted  # the report counts exactly what the servers received
    assert len(arrivals) > 3 * RATE, "the scan must be big enough to outlast the initial burst"
    # Token bucket: at most `burst` requests at once, then `RATE` per second, across both clusters.
    times = [a.at for a in arrivals]
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 1.0)
        assert in_window <= RATE + RATE * 1.0 + 2, f"{in_window} requests within 1 s from request {i}"
    span = times[-1] - times[0]
    assert (len(times) - RATE) / span <= RATE * 1.1, f"{len(times)} requests in {span:.2f} s"


def test_retry_after_is_honoured_before_the_next_attempt(tmp_path, clusters_factory):
    clusters = clusters_factory(["solo"])
    server = clusters.servers["solo"]
    server.inject(Fault(status=429, verb="list", resource="serviceaccounts", times=1, retry_after=1))
    code, report, stderr = scan_json(
        "--provider", "kubernetes", "--kubernetes-kubeconfig", str(clusters.kubeconfig), "--kube-context", "solo",
        out=tmp_path / "report.json",
    )
    assert code == 0, stderr
    (scope,) = report["scopes"]
    assert scope["status"] == "ok"
    lists = server.arrivals_for(SA_LIST)
    assert [a.status for a in lists[:2]] == [429, 200]
    assert lists[1].at - lists[0].at >= 0.95  # Retry-After: 1, measured between arrivals at the server
    assert scope["api_calls"]["list serviceaccounts"] == len(lists)  # the retry was counted too


def test_a_server_that_always_throttles_ends_the_scope_as_throttled_after_bounded_attempts(
    tmp_path, clusters_factory
):
    clusters = clusters_factory(["busy", "calm"])
    busy = clusters.servers["busy"]
    busy.inject(Fault(status=429, verb="list", resource="serviceaccounts", times=None, retry_after=0))
    code, report, stderr = scan_json(
        "--provider", "kubernetes", "--kubernetes-kubeconfig", str(clusters.kubeconfig), "--all-contexts",
        out=tmp_path / "report.json",
    )
    assert code == 3, stderr  # a scope could not be scanned; the report still lists what was
    scopes = {s["scope"]: s for s in report["scopes"]}
    assert scopes["busy"]["status"] == "error"
    assert scopes["busy"]["error"].startswith("throttled")
    assert scopes["calm"]["status"] == "ok"  # one throttled cluster does not sink the others
    attempts = busy.arrivals_for(SA_LIST)
    assert all(a.status == 429 for a in attempts)
    assert len(attempts) == 5  # the provider's bounded attempts, then it gives up
