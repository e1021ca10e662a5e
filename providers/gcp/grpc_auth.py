"""Bearer-token metadata for the IAM gRPC client, from the provider's own credentials.

Used on the TLS channel to Google and on the plaintext loopback channel to the fakes alike, so one code
path refreshes and registers (for redaction) every token. Imported lazily: importing it loads grpc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grpc


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _CallDetails(_Details, grpc.ClientCallDetails):  # type: ignore[misc]
    pass


class AuthInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds ``authorization: Bearer ...`` from ``authorize(headers)`` to every unary call."""

    def __init__(self, authorize: Callable[[dict[str, str]], None]) -> None:
        self.authorize = authorize

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        headers: dict[str, str] = {}
        self.authorize(headers)
        metadata = [*(details.metadata or []), *((k.lower(), v) for k, v in headers.items())]
        new = _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )
        return continuation(new, request)
