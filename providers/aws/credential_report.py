"""The IAM credential report: generate (polling its state with backoff), fetch and parse.

Owns the report's CSV format and its special values. Never sleeps a fixed time: it polls
``GenerateCredentialReport`` until the state is COMPLETE, with a bounded exponential backoff.
The report holds no secret values; it names access keys only by slot (1, 2), never by id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nhiwarden.providers.aws import errors
from nhiwarden.providers.aws.session import AccountSession

# Access-key last-used tracking began on 2015-04-22, console-password last-used on 2014-10-20.
KEY_TRACKING_SINCE = datetime(2015, 4, 22, tzinfo=UTC)
PASSWORD_TRACKING_SINCE = datetime(2014, 10, 20, tzinfo=UTC)
_EMPTY = {"", "N/A", "n/a", "no_information", "not_supported", "false_not_supported"}
MAX_POLLS = 10
FIRST_DELAY = 0.5
MAX_DELAY = 8.0


class ReportNotReady(Exception):
    """IAM did not finish the report within the polling budget (the scope goes on without it)."""


@dataclass
class KeySlot:
    slot: int
    active: bool
    last_rotated: datetime | None
    last_used: datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass
class ReportRow:
    user: str
    arn: str
    created_at: datetime | None
    password_enabled: bool
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    keys: list[KeySlot] = field(default_factory=list)


@dataclass
class CredentialReport:
    generated_at: datetime | None
    rows: dict[str, ReportRow]

    @property
    def source(self) -> str:
        when = self.generated_at.isoformat() if self.generated_at else "unknown time"
        return f"aws iam credential report (generated {when})"


def parse_time(value: str | None) -> datetime | None:
    if value is None or value.strip() in _EMPTY:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: str | None) -> str | None:
    return None if value is None or value.strip() in _EMPTY else value.strip()


def parse_report(content: bytes | str, generated_at: datetime | None) -> CredentialReport:
    """Parse the CSV; the root row (``<root_account>``) is skipped: root is a human, not an NHI."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    rows: dict[str, ReportRow] = {}
    for raw in _rows(text):
        user = raw.get("user") or ""
        if not user or user == "<root_account>":
            continue
        keys = []
        for slot in (1, 2):
            prefix = f"access_key_{slot}_"
            rotated = parse_time(raw.get(prefix + "last_rotated"))
            if rotated is None:
                continue  # no key in this slot
            keys.append(
                KeySlot(
                    slot=slot,
                    active=(raw.get(prefix + "active") or "").lower() == "true",
                    last_rotated=rotated,
                    last_used=parse_time(raw.get(prefix + "last_used_date")),
                    last_used_region=_text(raw.get(prefix + "last_used_region")),
                    last_used_service=_text(raw.get(prefix + "last_used_service")),
                )
            )
        password_enabled = (raw.get("password_enabled") or "").lower() == "true"
        rows[user] = ReportRow(
            user=user,
            arn=raw.get("arn") or "",
            created_at=parse_time(raw.get("user_creation_time")),
            password_enabled=password_enabled,
            password_last_used=parse_time(raw.get("password_last_used")) if password_enabled else None,
            password_last_changed=parse_time(raw.get("password_last_changed")) if password_enabled else None,
            mfa_active=(raw.get("mfa_active") or "").lower() == "true",
            keys=keys,
        )
    return CredentialReport(generated_at=_aware(generated_at), rows=rows)


def _rows(text: str) -> list[dict[str, str]]:
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error:
        return []  # malformed report: no rows rather than a crash (the scope then lacks usage data)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start(aws: AccountSession) -> str:
    """Ask IAM to generate a report (it reuses one younger than 4 hours); returns the state."""
    return str(aws.call("iam", "generate_credential_report").get("State", ""))


def fetch(aws: AccountSession, state: str, sleep: Callable[[float], None]) -> CredentialReport:
    """Poll until the report is COMPLETE (bounded backoff), then download and parse it."""
    delay = FIRST_DELAY
    if state != "COMPLETE":
        state = start(aws)  # time has passed since ``start`` (the caller read the account meanwhile)
    for _ in range(MAX_POLLS):
        if state == "COMPLETE":
            try:
                response = aws.call("iam", "get_credential_report")
            except Exception as exc:
                code = errors.error_code(exc)
                if code not in {"ReportInProgress", "ReportNotPresent", "ReportExpired"}:
                    raise
                state = "INPROGRESS"  # regenerate or wait, below
            else:
                return parse_report(response.get("Content", b""), response.get("GeneratedTime"))
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
        state = start(aws)
    raise ReportNotReady(f"not ready after {MAX_POLLS} polls")
