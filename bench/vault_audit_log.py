"""Benchmark: parse a 1-million-line synthetic Vault/OpenBao file audit log in one streaming pass.

Lines follow the shape of real OpenBao 2.7 ``file`` device entries (request + response pairs, HMAC'd
values, auth blocks with accessor/metadata/namespace). Reports lines/s and the peak RSS growth, which
must stay bounded (the parser keeps one timestamp per accessor/role/user, never the lines).

    .venv/bin/python bench/vault_audit_log.py                    # 1,000,000 lines, generated in memory
    .venv/bin/python bench/vault_audit_log.py --gzip /tmp/a.gz   # also write + parse a gzip file

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nhiwarden.providers.vault.audit_log import read_audit_log, scan_lines

HMAC = "hmac-sha256:" + "ab" * 32


def synthetic_lines(n: int, *, accessors: int, roles: int, users: int, seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=180) / max(n, 1)
    accessor_ids = [f"{i:08x}AcCeSsOr{i:012d}" for i in range(accessors)]
    for i in range(n):
        when = (start + step * i).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
        kind = rng.random()
        auth: dict[str, object] = {
            "client_token": HMAC,
            "accessor": accessor_ids[rng.randrange(accessors)],
            "display_name": "token",
            "policies": ["default", "app-read"],
            "token_policies": ["default", "app-read"],
            "token_type": "service",
            "token_issue_time": "2026-01-01T00:00:00Z",
        }
        path = "secret/data/app/config"
        namespace: dict[str, str] = {"id": "root"}
        if kind < 0.2:
            auth["display_name"] = "approle"
            auth["metadata"] = {"role_name": f"role-{rng.randrange(roles)}", "owner": "team-x"}
            path = "auth/approle/login"
        elif kind < 0.3:
            user = f"svc-{rng.randrange(users)}"
            auth["display_name"] = f"userpass-{user}"
            auth["metadata"] = {"username": user}
            path = f"auth/userpass/login/{user}"
        if rng.random() < 0.1:
            namespace = {"id": "abc123", "path": "team-a/"}
        request = {
            "id": f"{i:032x}",
            "client_id": "0DHqvq2D77kL2/JTPSZkTMJbkFVmUu0TzMi0jiXcFy8=",
            "operation": "read",
            "mount_point": "secret/",
            "mount_type": "kv",
            "mount_accessor": "kv_d1ad0b95",
            "mount_running_version": "v2.7.2+builtin.bao",
            "mount_class": "secret",
            "client_token": HMAC,
            "client_token_accessor": auth["accessor"],
            "namespace": namespace,
            "path": path,
            "remote_address": "10.0.0.1",
            "remote_port": 40572,
        }
        entry_type = "request" if i % 2 == 0 else "response"
        entry: dict[str, object] = {"time": when, "type": entry_type, "auth": auth, "request": request}
        if entry_type == "response":
            entry["response"] = {"mount_point": "secret/", "mount_type": "kv", "data": {"value": HMAC}}
        yield json.dumps(entry, separators=(",", ":"))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--accessors", type=int, default=50_000)
    parser.add_argument("--roles", type=int, default=500)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--gzip", type=Path, help="also write the log to this .gz file and parse it from disk")
    args = parser.parse_args()

    before = rss_mib()
    started = time.perf_counter()
    usage = scan_lines(synthetic_lines(args.lines, accessors=args.accessors, roles=args.roles, users=args.users))
    elapsed = time.perf_counter() - started
    print(
        f"in-memory stream: {usage.lines:,} lines ({usage.entries:,} responses) in {elapsed:.1f} s "
        f"= {usage.lines / elapsed:,.0f} lines/s (includes generating them); "
        f"peak RSS {rss_mib():.0f} MiB (+{rss_mib() - before:.0f} MiB); "
        f"{len(usage.by_accessor):,} accessors, {len(usage.by_role):,} roles, {len(usage.by_user):,} users"
    )
    if args.gzip:
        with gzip.open(args.gzip, "wt", encoding="utf-8", compresslevel=1) as out:
            for line in synthetic_lines(args.lines, accessors=args.accessors, roles=args.roles, users=args.users):
                out.write(line + "\n")
        size = args.gzip.stat().st_size / 2**20
        before = rss_mib()
        started = time.perf_counter()
        usage = read_audit_log(args.gzip)
        elapsed = time.perf_counter() - started
        print(
            f"gzip file ({size:.0f} MiB compressed): {usage.lines:,} lines in {elapsed:.1f} s "
            f"= {usage.lines / elapsed:,.0f} lines/s; peak RSS {rss_mib():.0f} MiB (+{rss_mib() - before:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
