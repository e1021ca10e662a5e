"""Kubernetes benchmark: a fake kube-apiserver in its own process holding N service accounts and 4N pods
(``nhiwarden.sandbox.kubernetes.estate.seed_scale``), scanned by ``nhiwarden scan`` as a subprocess.

Run as ``python -m bench.k8s_bench --serve --accounts N --pods P`` it is the server: it prints one JSON
line (url, token), answers ``count`` on stdin with the number of requests it served, and stops at end
of input. Never listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import nhiwarden_argv, run_child

ROOT = Path(__file__).resolve().parent.parent


def serve(accounts: int, pods: int) -> int:
    from nhiwarden.sandbox.kubernetes.estate import seed_scale
    from nhiwarden.sandbox.kubernetes.server import FakeApiServer
    from nhiwarden.sandbox.kubernetes.store import Store

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    server = FakeApiServer(Store(clock=now))
    seed_scale(server.store, now, accounts=accounts, pods=pods)
    server.start()
    token = server.add_token("bench-scanner")
    info = {"url": server.url, "token": token, "now": now.isoformat(), "seed_seconds": time.perf_counter() - started}
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps({"requests": len(server.requests)}), flush=True)
    server.stop()
    return 0


def run_kubernetes(accounts: int, workdir: Path, extra: list[str]) -> dict[str, Any]:
    from nhiwarden.sandbox.kubernetes.kubeconfig import KubeContext, write_kubeconfig

    pods = accounts * 4
    log = (workdir / f"k8s-{accounts}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.k8s_bench", "--serve", "--accounts", str(accounts), "--pods", str(pods)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        info = json.loads(proc.stdout.readline())
        kubeconfig = write_kubeconfig(
            workdir / f"kubeconfig-{accounts}", [KubeContext("bench", info["url"], info["token"], cluster="bench")]
        )
        output = workdir / f"k8s-{accounts}.json"
        argv = [
            *nhiwarden_argv(), "scan", "--provider", "kubernetes", "--kubernetes-kubeconfig", str(kubeconfig),
            "--kube-context", "bench", "--format", "json", "--output", str(output), "--as-of", info["now"],
            "--fail-on", "none", *extra,
        ]  # fmt: skip
        run = run_child(argv)
        proc.stdin.write("count\n")
        proc.stdin.flush()
        served = json.loads(proc.stdout.readline())["requests"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        log.close()
    if run.returncode not in (0, 1, 3):
        raise RuntimeError(f"kubernetes scan exited {run.returncode}: {run.stderr[-2000:]}")
    report = json.loads(output.read_text())
    calls: dict[str, int] = {}
    for scope in report["scopes"]:
        for action, n in (scope.get("api_calls") or {}).items():
            calls[action] = calls.get(action, 0) + n
    return {
        "service_accounts": accounts,
        "pods": pods,
        "exit_code": run.returncode,
        "wall_s": round(run.wall, 2),
        "cpu_user_s": round(run.user, 2),
        "cpu_sys_s": round(run.sys, 2),
        "peak_rss_mb": round(run.max_rss_mb, 1),
        "identities": len(report.get("identities", [])),
        "findings": len(report.get("findings", [])),
        "scope_status": [s["status"] for s in report["scopes"]],
        "api_calls_total": sum(calls.values()),
        "server_requests": served,
        "api_calls_by_action": dict(sorted(calls.items())),
        "seed_seconds": round(info["seed_seconds"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=20000)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.accounts, args.pods)
    import tempfile

    print(json.dumps(run_kubernetes(args.accounts, Path(tempfile.mkdtemp()), [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
