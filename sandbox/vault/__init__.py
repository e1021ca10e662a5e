"""OpenBao dev-server sandbox: launcher, estate seeding and the ``nhiwarden demo`` entry point."""

from __future__ import annotations

from nhiwarden.sandbox.vault.server import OpenBaoServer, find_bao_binary

__all__ = ["OpenBaoServer", "find_bao_binary"]
