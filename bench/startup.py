"""Start-up figures: ``nhiwarden --version`` and ``--help`` as subprocess wall time, best of 5."""

from __future__ import annotations

from bench.measure import best_of, nhiwarden_argv


def startup_times(times: int = 5) -> dict[str, float]:
    out = {}
    for flag in ("--version", "--help"):
        run = best_of([*nhiwarden_argv(), flag], times=times)
        if run.returncode != 0:
            raise RuntimeError(f"nhiwarden {flag} exited {run.returncode}: {run.stderr[-500:]}")
        out[flag] = run.wall
    return out
