"""Shared test helpers: a fixed evaluation date, model builders and a CLI runner.

Nothing here mocks nhiwarden: builders produce real model objects, the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
PLUGIN_SITE = Path(__file__).parent / "plugins" / "site"


def days_ago(n: float, as_of: datetime = AS_OF) -> datetime:
    return as_of - timedelta(days=n)


@pytest.fixture
def as_of() -> datetime:
    return AS_OF


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``nhiwarden`` in a subprocess with the example plugin importable."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_SITE), full_env.get("PYTHONPATH")]))
    full_env.pop("NHIWARDEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "nhiwarden.cli.app", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def write_estate(path: Path, scopes: list[dict[str, Any]]) -> Path:
    """An estate file for the example plugin provider."""
    path.write_text(json.dumps({"scopes": scopes}, default=str))
    return path


def example_identity(name: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uid": f"example:acct:user/{name}",
        "provider": "example",
        "kind": "example-user",
        "scope": "acct",
        "name": name,
        "created_at": days_ago(400).isoformat(),
        "last_used_at": days_ago(1).isoformat(),
        "last_used_source": "example-log",
        "credentials": [],
    }
    base.update(overrides)
    return base


def example_key(identity: str, key_id: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uid": f"example:acct:user/{identity}:key/{key_id}",
        "kind": "example-key",
        "id": key_id,
        "created_at": days_ago(10).isoformat(),
        "last_used_at": days_ago(1).isoformat(),
        "last_used_source": "example-log",
        "static": True,
    }
    base.update(overrides)
    return base
