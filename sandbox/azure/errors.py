"""The error envelopes of the fake Azure APIs: Graph's ``{"error": {code, message, innerError}}`` and ARM's.

Data shapes only; no server code, no I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]


class HttpError(Exception):
    """An error answer: HTTP status, JSON body and extra headers (e.g. Retry-After)."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(status)


def graph_error(status: int, code: str, message: str) -> HttpError:
    """Microsoft Graph's error body, with the ``innerError`` request ids and date."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    rid = str(uuid.uuid4())
    inner = {"date": now, "request-id": rid, "client-request-id": rid}
    return HttpError(status, {"error": {"code": code, "message": message, "innerError": inner}})


def arm_error(status: int, code: str, message: str) -> HttpError:
    return HttpError(status, {"error": {"code": code, "message": message}})
