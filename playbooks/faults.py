"""Test-only fault injection: make a step fail or the process die at a named point.

``NHIWARDEN_FAULT`` holds comma-separated ``<step-id>:<before|after>:<fail|crash>`` entries, e.g.
``t1.deliver:after:crash`` (the process exits with status 137 right after the step's API call, before
the journal records its completion, as if it were killed) or ``t1.verify:before:fail`` (the step raises
and the engine rolls back). The engine reads it at each step; it is how the test suite proves that a
failure at every step leaves the estate restored or resumable. Never set it in production.
"""

from __future__ import annotations

import os
import sys

ENV = "NHIWARDEN_FAULT"


class InjectedFault(Exception):
    pass


def hit(step_id: str, when: str, env: dict[str, str] | None = None) -> None:
    spec = (env if env is not None else os.environ).get(ENV, "")
    for entry in filter(None, (s.strip() for s in spec.split(","))):
        parts = entry.rsplit(":", 2)
        if len(parts) != 3 or parts[0] != step_id or parts[1] != when:
            continue
        if parts[2] == "crash":
            sys.stderr.flush()
            os._exit(137)
        raise InjectedFault(f"injected fault {when} step {step_id}")
