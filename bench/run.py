"""One command for the benchmark: ``python -m bench.run --n 1000 10000 --accounts 20``.

Prints every figure against its target (PASS/FAIL) and writes them as JSON (``--json``). Seeding is
never timed; the scan runs as a subprocess (``nhiwarden scan``) and only that process is measured.
Results vary with the load on the machine: run it on an idle machine, or read them as upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.aws_bench import AwsResult, foreign_imports, run_aws  # noqa: E402
from bench.startup import startup_times  # noqa: E402

TARGET_STARTUP_S = 0.3
TARGET_WALL_S = 30.0  # 10,000 AWS identities across 20 accounts
TARGET_WALL_N = 10_000
TARGET_RSS_MB = 500.0  # at 50,000 identities
TARGET_RSS_N = 50_000


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def print_aws(result: AwsResult) -> None:
    s = result.summary()
    print(
        f"  aws n={s['n']:,} accounts={s['accounts']} "
        f"{' '.join(result.extra_args)}: exit {s['exit_code']}, "
        f"wall {s['wall_s']} s, cpu {s['cpu_user_s']}+{s['cpu_sys_s']} s, peak RSS {s['peak_rss_mb']} MB, "
        f"{s['identities']:,} identities, {s['findings']:,} findings, scopes {s['scope_status']}"
    )
    print(f"    API calls {s['api_calls_total']} (moto saw {s['server_calls_total']}): {s['api_calls_by_action']}")
    if s["server_calls_not_in_scopes"]:
        print(f"    seen by moto but in no scope's api_calls: {s['server_calls_not_in_scopes']}")
    worst = max(result.per_account, key=lambda a: a.calls - a.budget)
    constants = sorted({a.constant_part for a in result.per_account})
    print(
        f"    per account: calls <= pages + users with key findings + {10}: "
        f"{verdict(result.within_budget)} (closest: {worst.account} {worst.calls} calls vs budget {worst.budget}; "
        f"calls beyond pages and flagged users per account: {constants})"
    )
    if s["n"] == TARGET_WALL_N:
        print(f"    target wall < {TARGET_WALL_S} s at {TARGET_WALL_N:,}: {verdict(s['wall_s'] < TARGET_WALL_S)}")
    if s["n"] >= TARGET_RSS_N:
        print(
            f"    target peak RSS < {TARGET_RSS_MB} MB at {TARGET_RSS_N:,}: {verdict(s['peak_rss_mb'] < TARGET_RSS_MB)}"
        )


def synthetic_memory(n: int, accounts: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.synthetic", "--n", str(n), "--accounts", str(accounts)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="nhiwarden speed, memory and API-call benchmark")
    parser.add_argument("--n", type=int, nargs="*", default=[1000], help="identity counts to scan (AWS)")
    parser.add_argument("--accounts", type=int, default=20, help="accounts in the Organization")
    parser.add_argument(
        "--scan-arg",
        action="append",
        default=[],
        help="extra argument for nhiwarden scan, repeatable (e.g. --scan-arg=--rate-limit --scan-arg=aws=200)",
    )
    parser.add_argument("--synthetic", type=int, nargs="*", default=[], help="in-process memory runs at these N")
    parser.add_argument("--kubernetes", type=int, nargs="*", default=[], help="Kubernetes runs: service accounts")
    parser.add_argument("--gcp", type=int, nargs="*", default=[], help="GCP runs: service accounts in one project")
    parser.add_argument("--vault", type=int, nargs="*", default=[], help="Vault runs: tokens on an OpenBao server")
    parser.add_argument("--skip-startup", action="store_true", help="skip --version/--help and import checks")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": machine(),
        "aws": [],
        "synthetic": [],
        "kubernetes": [],
        "gcp": [],
        "vault": [],
    }
    print(f"machine: {results['machine']}")
    workdir = Path(tempfile.mkdtemp(prefix="nhiwarden-bench-"))
    if not args.skip_startup:
        times = startup_times()
        results["startup_s"] = times
        for flag, wall in times.items():
            print(
                f"  nhiwarden {flag}: {wall:.3f} s (best of 5), target < {TARGET_STARTUP_S} s: "
                f"{verdict(wall < TARGET_STARTUP_S)}"
            )
        foreign, boto = foreign_imports(min(args.n or [1000]), args.accounts, workdir)
        results["aws_scan_foreign_imports"] = foreign
        print(
            f"  AWS-only scan imports of other SDKs: {foreign or 'none'} (boto3 loaded: {boto}): {verdict(not foreign)}"
        )
    for n in args.n:
        result = run_aws(n, args.accounts, workdir, args.scan_arg)
        results["aws"].append(result.summary())
        print_aws(result)
    for n in args.synthetic:
        figures = synthetic_memory(n, args.accounts)
        results["synthetic"].append(figures)
        print(f"  synthetic in-process n={n:,}: {figures}")
        if n >= TARGET_RSS_N:
            print(f"    target peak RSS < {TARGET_RSS_MB} MB: {verdict(figures['peak_rss_mb'] < TARGET_RSS_MB)}")
    for n in args.kubernetes:
        from bench.k8s_bench import run_kubernetes

        figures = run_kubernetes(n, workdir, args.scan_arg)
        results["kubernetes"].append(figures)
        print(f"  kubernetes: {figures}")
    for n in args.gcp:
        from bench.gcp_bench import run_gcp

        figures = run_gcp(n, workdir, args.scan_arg)
        results["gcp"].append(figures)
        print(f"  gcp: {figures}")
    for n in args.vault:
        from bench.vault_bench import run_vault

        figures = run_vault(n, workdir, args.scan_arg)
        results["vault"].append(figures)
        print(f"  vault: {figures}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
