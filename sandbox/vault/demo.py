"""``nhiwarden demo`` for Vault: a real OpenBao dev server with a seeded estate and a file audit log.

Starts ``bao server -dev`` on a free loopback port (see ``server.py``), seeds tokens, AppRoles,
userpass users, policies, KV secrets and a namespace tree through the real API, and yields the
settings and environment that point the Vault provider at it. Raises ``DemoUnavailable`` (one line)
when the OpenBao binary is not installed. Stops the server by PID on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nhiwarden.sandbox.base import DemoEstate
from nhiwarden.sandbox.vault.estate import seed_estate
from nhiwarden.sandbox.vault.server import OpenBaoServer, find_bao_binary


@contextmanager
def start_demo(workdir: Path) -> Iterator[DemoEstate]:
    find_bao_binary()  # DemoUnavailable with a one-line reason before anything starts
    server = OpenBaoServer(Path(workdir) / "openbao")
    with server:
        estate = seed_estate(server.addr, server.root_token, namespaces=True)
        yield DemoEstate(
            provider="vault",
            settings={
                "addr": server.addr,
                "audit_log": str(server.audit_log),
                "recursive_namespaces": True,
            },
            env={"VAULT_TOKEN": server.root_token, "BAO_TOKEN": server.root_token},
            canaries=[*estate.canaries, *estate.secret_tokens.values()],
            description=(
                f"OpenBao dev server at {server.addr} (pid {server.pid}) with tokens, AppRoles, userpass "
                "users, policies, KV-held cloud keys, namespaces team-a and team-a/payments, and a file "
                "audit log"
            ),
        )
