"""Measure one child process: wall time, CPU time (user + sys) and peak RSS of that child alone.

Owns process measurement only. ``os.wait4`` returns the rusage of exactly the waited child (and the
grandchildren it waited for), so servers the harness started in other processes are never counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ChildRun:
    argv: list[str]
    returncode: int
    wall: float
    user: float
    sys: float
    max_rss_mb: float
    stdout: str
    stderr: str

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def nhiwarden_argv() -> list[str]:
    """The installed console script when present (what users run), else ``python -m``."""
    script = Path(sys.executable).parent / "nhiwarden"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "nhiwarden.cli.app"]


def run_child(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> ChildRun:
    """Run ``argv`` to completion with stdout/stderr in temporary files (no pipe deadlocks)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            argv=argv,
            returncode=proc.returncode,
            wall=wall,
            user=usage.ru_utime,
            sys=usage.ru_stime,
            max_rss_mb=usage.ru_maxrss / 1024.0,  # Linux reports KiB
            stdout=out.read(),
            stderr=err.read(),
        )


def best_of(argv: list[str], times: int = 5, env: dict[str, str] | None = None) -> ChildRun:
    """The fastest of ``times`` runs (the least disturbed by other load on the machine)."""
    runs = [run_child(argv, env=env) for _ in range(times)]
    return min(runs, key=lambda r: r.wall)
