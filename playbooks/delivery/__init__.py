"""Delivery targets: write a new secret straight to where its consumers read it (never to stdout).

Each module registers a ``Delivery`` action (write with a precondition, roll back to the previous
version, read back for verification) and an observer for the plan's preconditions.
"""

from __future__ import annotations

from nhiwarden.errors import UsageError

KINDS = ("vault-kv", "k8s-secret", "aws-secretsmanager")


def parse(spec: str) -> tuple[str, str]:
    """``vault-kv:<mount>/<path>`` -> ("vault-kv", "<mount>/<path>"), with a clear error otherwise."""
    kind, sep, where = spec.partition(":")
    if not sep or kind not in KINDS or not where.strip("/"):
        raise UsageError(
            f"--deliver {spec!r}: expected vault-kv:<mount>/<path>, k8s-secret:<namespace>/<name> "
            "or aws-secretsmanager:<secret-name>"
        )
    return kind, where.strip("/")
