"""Fault injection in front of moto: real AWS error bodies (Throttling, AccessDenied) on chosen calls.

A WSGI middleware wrapped around moto's app inside the sandbox server. Each rule matches an action
(``iam:GetAccountAuthorizationDetails`` or ``*``) and optionally an account, answers with the AWS
query-protocol error document for ``times`` requests, then lets requests through. It also counts every
request moto received per (account, action), an independent check of the client-side call counts.
Test/demo only.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/[^/]+/[^/]+/([a-z0-9-]+)/")


@dataclass
class Fault:
    action: str  # "<signing service>:<Action>" or "*"
    code: str = "Throttling"
    status: int = 400
    message: str = "Rate exceeded"
    times: float = 1
    account: str | None = None
    retry_after: str | None = None


class FaultInjector:
    """WSGI middleware: inject faults, count requests; thread-safe."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.requests: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[tuple[str, str]] = Counter()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.injected.clear()

    def calls(self, account: str) -> dict[str, int]:
        with self._lock:
            return {action: n for (acct, action), n in self.requests.items() if acct == account}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        found = _CREDENTIAL.search(auth)
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        op = (form.get("Action") or [""])[0]
        target = environ.get("HTTP_X_AMZ_TARGET", "")  # JSON protocols (organizations)
        if not op and "." in target:
            op = target.rsplit(".", 1)[1]
        service = found.group(2) if found else "unknown"
        action = f"{service}:{op}"
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or (self._account(found.group(1)) if found else "")
        with self._lock:
            self.requests[(account, action)] += 1
            fault = next(
                (f for f in self._faults if f.times > 0 and f.action in ("*", action) and f.account in (None, account)),
                None,
            )
            if fault is not None:
                fault.times -= 1
                self.injected[(account, action)] += 1
        if fault is None:
            return self.app(environ, start_response)
        return _error(fault, target != "", start_response)

    @staticmethod
    def _account(access_key: str) -> str:
        from moto.iam.models import get_account_id_from

        return str(get_account_id_from(access_key))


def _error(fault: Fault, json_protocol: bool, start_response: Callable[..., Any]) -> list[bytes]:
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)]
    if fault.retry_after is not None:
        headers.append(("Retry-After", fault.retry_after))
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 503: "Service Unavailable"}
    start_response(f"{fault.status} {reason.get(fault.status, 'Error')}", headers)
    return [body]
