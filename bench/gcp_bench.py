"""GCP benchmark: the fake IAM (gRPC) and REST servers in their own process holding one project with N
service accounts, one key each (``nhiwarden.sandbox.gcp.seed.seed_sprawl``), scanned by
``nhiwarden scan --provider gcp`` as a subprocess.

Run as ``python -m bench.gcp_bench --serve --accounts N --workdir DIR`` it is the server: it writes the
scanner's key file into DIR, prints one JSON line with the provider settings, and stops at end of
input. Never listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.measure import nhiwarden_argv, run_child

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "acme-sprawl"


def serve(accounts: int, workdir: Path) -> int:
    from nhiwarden.sandbox.gcp.fake import FakeGcp
    from nhiwarden.sandbox.gcp.seed import seed_org, seed_sprawl

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    seeded = seed_org(now, denied_project=False)
    seed_sprawl(seeded.store, now, PROJECT, accounts=accounts)
    # The sandbox pages by 2 to exercise paging in tests; serve the real APIs' page sizes instead
    # (ListServiceAccounts: 100, Policy Analyzer activities: 1000) so page counts are realistic.
    seeded.store.page_size = 100
    seeded.store.activity_page_size = 1000
    with FakeGcp(seeded.store) as fake:
        key = fake.write_credentials(workdir / "gcp-bench-key.json")
        info = {
            "settings": fake.settings(key, projects=[PROJECT]),
            "now": now.isoformat(),
            "seed_seconds": time.perf_counter() - started,
        }
        print(json.dumps(info), flush=True)
        for _line in sys.stdin:
            pass
    return 0


def run_gcp(accounts: int, workdir: Path, extra: list[str]) -> dict[str, Any]:
    log = (workdir / f"gcp-{accounts}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.gcp_bench", "--serve", "--accounts", str(accounts), "--workdir", str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        info = json.loads(proc.stdout.readline())
        config = workdir / f"gcp-{accounts}.yaml"
        config.write_text(yaml.safe_dump({"providers": {"gcp": info["settings"]}}))
        output = workdir / f"gcp-{accounts}.json"
        argv = [
            *nhiwarden_argv(), "scan", "--provider", "gcp", "--config", str(config), "--format", "json",
            "--output", str(output), "--as-of", info["now"], "--fail-on", "none", *extra,
        ]  # fmt: skip
        run = run_child(argv)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        log.close()
    if run.returncode not in (0, 1, 3):
        raise RuntimeError(f"gcp scan exited {run.returncode}: {run.stderr[-2000:]}")
    report = json.loads(output.read_text())
    calls: dict[str, int] = {}
    for scope in report["scopes"]:
        for action, n in (scope.get("api_calls") or {}).items():
            calls[action] = calls.get(action, 0) + n
    return {
        "service_accounts": accounts,
        "exit_code": run.returncode,
        "wall_s": round(run.wall, 2),
        "cpu_user_s": round(run.user, 2),
        "cpu_sys_s": round(run.sys, 2),
        "peak_rss_mb": round(run.max_rss_mb, 1),
        "identities": len(report.get("identities", [])),
        "findings": len(report.get("findings", [])),
        "scope_status": [s["status"] for s in report["scopes"]],
        "api_calls_total": sum(calls.values()),
        "api_calls_by_action": dict(sorted(calls.items())),
        "seed_seconds": round(info["seed_seconds"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.accounts, args.workdir)
    print(json.dumps(run_gcp(args.accounts, Path(tempfile.mkdtemp()), [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
