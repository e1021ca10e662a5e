"""Shared pieces of the local test servers."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any


class DemoUnavailable(Exception):
    """A sandbox cannot start here (e.g. the OpenBao binary is missing); the message says why in one line."""


@dataclass
class DemoEstate:
    """How to scan a started, seeded sandbox.

    ``settings`` are the provider settings (as in ``providers.<name>`` of nhiwarden.yaml) that point
    the provider at the local servers; ``env`` holds environment variables the SDK needs, which the
    demo sets for the duration of the scan. ``canaries`` are secret values planted in the estate that
    must never appear in any output. ``expected_errors`` names scopes seeded to fail on purpose (a
    denied account shows how a failed scope is reported); they do not make the demo exit 3.
    """

    provider: str
    settings: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    canaries: list[str] = field(default_factory=list)
    description: str = ""
    expected_errors: list[str] = field(default_factory=list)  # scope ids seeded to fail on purpose


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on loopback (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
