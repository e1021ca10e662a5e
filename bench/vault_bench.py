"""Vault benchmark: a real OpenBao dev server (its own process, nhiwarden's Vault sandbox) holding N
tokens with a few policies, scanned by ``nhiwarden scan --provider vault`` as a subprocess.

Seeding creates the tokens through the real API from a thread pool (not timed). Vault has no bulk
token API: the scan lists accessors (paged) and looks each one up, so its calls grow with N by design.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import nhiwarden_argv, run_child

POLICIES = {
    "ci-read": 'path "secret/data/ci/*" { capabilities = ["read"] }',
    "deployer": 'path "secret/data/apps/*" { capabilities = ["create", "update", "read"] }',
    "breakglass": 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }',
}


def _seed(addr: str, root: str, tokens: int) -> None:
    import hvac

    client = hvac.Client(url=addr, token=root)
    for name, text in POLICIES.items():
        client.sys.create_or_update_policy(name=name, policy=text)
    names = list(POLICIES)

    def create(i: int) -> None:
        c = hvac.Client(url=addr, token=root)
        c.auth.token.create(
            policies=[names[i % 3]] if i % 50 else ["breakglass"],
            ttl=None if i % 4 == 0 else "768h",
            renewable=True,
            display_name=f"bench-{i:05d}",
            meta={"owner": "team-" + str(i % 10)} if i % 3 else None,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(tokens)))


def run_vault(tokens: int, workdir: Path, extra: list[str]) -> dict[str, Any]:
    from nhiwarden.sandbox.vault.server import OpenBaoServer

    server = OpenBaoServer(workdir / f"openbao-{tokens}")
    with server:
        started = time.perf_counter()
        _seed(server.addr, server.root_token, tokens)
        seed_seconds = time.perf_counter() - started
        output = workdir / f"vault-{tokens}.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["VAULT_TOKEN"] = server.root_token
        argv = [
            *nhiwarden_argv(), "scan", "--provider", "vault", "--vault-addr", server.addr, "--format", "json",
            "--output", str(output), "--as-of", datetime.now(UTC).isoformat(), "--fail-on", "none", *extra,
        ]  # fmt: skip
        run = run_child(argv, env=env)
    if run.returncode not in (0, 1, 3):
        raise RuntimeError(f"vault scan exited {run.returncode}: {run.stderr[-2000:]}")
    report = json.loads(output.read_text())
    calls: dict[str, int] = {}
    for scope in report["scopes"]:
        for action, n in (scope.get("api_calls") or {}).items():
            calls[action] = calls.get(action, 0) + n
    return {
        "tokens": tokens,
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
        "seed_seconds": round(seed_seconds, 1),
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(run_vault(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, Path(tempfile.mkdtemp()), [])))
