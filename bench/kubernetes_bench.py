"""Kubernetes benchmark: scan a large fake cluster with ``nhiwarden scan`` as a subprocess.

Owns the Kubernetes run and its figures: wall, CPU and peak RSS of the scan process alone (the fake
apiserver runs in this process and is not counted), and the list calls the server received per
resource against the paging budget (ceil(n / page) per kind). Run:
``python -m bench.kubernetes_bench --accounts 5000 --pods 20000``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from nhiwarden.sandbox.kubernetes import FakeApiServer, KubeContext, Store, write_kubeconfig
from nhiwarden.sandbox.kubernetes.estate import seed_scale

from bench.measure import nhiwarden_argv, run_child

PAGE = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=20000)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    with FakeApiServer(Store(clock=now)) as server, tempfile.TemporaryDirectory() as tmp:
        seed_scale(server.store, now, accounts=args.accounts, pods=args.pods)
        token = server.add_token("bench")
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", [KubeContext("big", server.url, token)])
        out = Path(tmp) / "report.json"
        run = run_child(
            [
                *nhiwarden_argv(),
                "scan",
                "--provider",
                "kubernetes",
                "--kubernetes-kubeconfig",
                str(kubeconfig),
                "--format",
                "json",
                "--output",
                str(out),
                "--fail-on",
                "critical",
            ],
            env=dict(os.environ),
        )
        lists = Counter(r.resource for r in server.calls("list"))
        report = json.loads(out.read_text()) if out.is_file() else {}
    budget = math.ceil(args.accounts / PAGE) + math.ceil(args.pods / PAGE) + 11
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "pods": args.pods,
                "returncode": run.returncode,
                "wall_s": round(run.wall, 2),
                "cpu_s": round(run.cpu, 2),
                "max_rss_mb": round(run.max_rss_mb, 1),
                "list_calls": dict(lists),
                "list_calls_total": sum(lists.values()),
                "budget": budget,
                "identities": len(report.get("identities", [])),
                "findings": len(report.get("findings", [])),
            },
            indent=2,
        )
    )
    return 0 if sum(lists.values()) <= budget and run.returncode in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
