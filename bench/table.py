"""Markdown tables from ``bench.run --json`` result files: ``python -m bench.table bench/results/*.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _cpu(r: dict[str, Any]) -> str:
    return f"{r['cpu_user_s'] + r['cpu_sys_s']:.1f}"


def aws_rows(name: str, runs: list[dict[str, Any]]) -> list[str]:
    rows = []
    for r in runs:
        accounts = r["per_account"]
        per_account = sorted(a["calls"] for a in accounts)
        constant = sorted({a["constant_part"] for a in accounts})
        variant = " ".join(r["extra_args"]) or "defaults"
        rows.append(
            f"| {r['n']:,} | {r['accounts']} | {variant} | {r['wall_s']:.1f} | {_cpu(r)} | {r['peak_rss_mb']:.0f} "
            f"| {r['api_calls_total']:,} ({r['server_calls_total']:,}) | {per_account[0]}-{per_account[-1]} "
            f"| {'yes' if r['within_budget'] else 'NO'} ({', '.join(map(str, constant))}) | {r['findings']:,} "
            f"| `{name}` |"
        )
    return rows


def main(argv: list[str]) -> int:
    aws: list[str] = []
    other: list[str] = []
    for path in map(Path, argv):
        data = json.loads(path.read_text())
        aws += aws_rows(path.name, data.get("aws", []))
        for provider, unit in (("kubernetes", "service_accounts"), ("gcp", "service_accounts"), ("vault", "tokens")):
            for r in data.get(provider, []):
                other.append(
                    f"| {provider} | {r[unit]:,} {unit.replace('_', ' ')} | {r['wall_s']:.1f} | {_cpu(r)} "
                    f"| {r['peak_rss_mb']:.0f} | {r['api_calls_total']:,} | {r['findings']:,} | `{path.name}` |"
                )
        for r in data.get("synthetic", []):
            other.append(
                f"| in-process (no SDK, no server) | {r['n']:,} identities | {r['total_s']:.1f} | {r['cpu_s']:.1f} "
                f"| {r['peak_rss_mb']:.0f} | — | {r['findings']:,} | `{path.name}` |"
            )
    print(
        "| N | accounts | scan options | wall s | CPU s | peak RSS MB | API calls (moto saw) | calls/account "
        "| within budget (calls beyond pages + flagged users) | findings | file |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(aws))
    print()
    print("| provider | size | wall s | CPU s | peak RSS MB | API calls | findings | file |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(other))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
