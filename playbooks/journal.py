"""The append-only JSON-lines journal of an apply, and the lock that keeps applies of one plan apart.

Owns reading and appending journal lines (who, when, step, result) and the exclusive ``fcntl`` lock
(released by the kernel when the holder dies, so a crash never leaves a stale lock). Must never write a
secret: every error text goes through ``nhiwarden.redact`` and outputs hold public ids only.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from nhiwarden.redact import redact

from .model import JournalEntry, JournalEvent, LockHeld, PlanError


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class Journal:
    def __init__(self, path: Path, plan_id: str) -> None:
        self.path = path
        self.plan_id = plan_id
        self.entries: list[JournalEntry] = read(path) if path.exists() else []
        foreign = {e.plan_id for e in self.entries} - {plan_id}
        if foreign:
            raise PlanError(f"{path}: journal belongs to another plan ({sorted(foreign)[0]})")

    def append(
        self,
        event: JournalEvent,
        *,
        step: str | None = None,
        stage: str | None = None,
        target: str | None = None,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> JournalEntry:
        entry = JournalEntry(
            ts=now or datetime.now(UTC),
            who=who(),
            pid=os.getpid(),
            plan_id=self.plan_id,
            step=step,
            stage=stage,
            target=target,
            event=event,
            outputs=outputs or {},
            error=redact(error) if error is not None else None,
        )
        line = redact(entry.model_dump_json()) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries.append(entry)
        return entry

    def last_event(self, step_id: str) -> JournalEntry | None:
        found = None
        for e in self.entries:
            if e.step == step_id and e.event != "refused":
                found = e
        return found

    def completed(self, step_id: str) -> JournalEntry | None:
        """The completion entry of a step that is done and not rolled back since."""
        last = self.last_event(step_id)
        return last if last is not None and last.event in ("completed", "recovered") else None

    def interrupted(self, step_id: str) -> bool:
        """Started and never finished: the process died during the step."""
        last = self.last_event(step_id)
        return last is not None and last.event == "started"


def read(path: Path) -> list[JournalEntry]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(JournalEntry.model_validate(json.loads(line)))
            except ValueError:
                # A crash can leave a torn last line; anything else is a corrupt journal.
                if fh.readline() == "":
                    break
                raise PlanError(f"{path}:{n}: not a journal line") from None
    return out


@contextmanager
def exclusive(paths: list[Path]) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on each ``<path>.lock``; refuse when another apply has it."""
    handles: list[IO[str]] = []
    try:
        for path in paths:
            lock = path.with_name(path.name + ".lock")
            lock.parent.mkdir(parents=True, exist_ok=True)
            fh: IO[str] = lock.open("a+", encoding="utf-8")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise LockHeld(
                    f"another apply of this plan is running ({holder}); lock {lock}: wait for it to finish"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} {who()}")
            fh.flush()
            handles.append(fh)
        yield
    finally:
        for fh in reversed(handles):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()
