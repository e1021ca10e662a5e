"""A small Microsoft Graph reader over httpx with azure-identity tokens.

Owns paging (``@odata.nextLink`` followed verbatim), throttling (429/503/504 honour ``Retry-After``
through a bounded ``RetryPolicy``) and Graph's error envelope. Read-only: it only ever sends GET.
Every token is registered as a secret and every error text is redacted before it leaves this module.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from nhiwarden.redact import redact, register_secret
from nhiwarden.retry import RetryPolicy, parse_retry_after

_RETRY_STATUS = (429, 503, 504)


class GraphError(Exception):
    """A Graph call failed: HTTP status, Graph error code and a redacted message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = redact(message)
        super().__init__(f"HTTP {status} {code}: {self.message}")


class _Retryable(Exception):
    def __init__(self, error: GraphError | None, retry_after: float | None, cause: str = "") -> None:
        self.error = error
        self.retry_after = retry_after
        self.cause = cause
        super().__init__(str(error) if error else cause)


class GraphClient:
    """GET-only Graph client; ``count(action)`` is called once per HTTP request sent."""

    def __init__(
        self,
        base_url: str,
        credential: Any,
        *,
        retry: RetryPolicy,
        count: Callable[[str], None],
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._scope = f"{self.base_url}/.default"
        self._credential = credential
        self._retry = retry
        self._count = count
        self._http = httpx.Client(verify=verify, timeout=timeout, headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def token(self) -> str:
        value: str = self._credential.get_token(self._scope).token
        register_secret(value)
        return value

    def list(self, action: str, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` until the last page."""
        url: str | None = f"{self.base_url}{path}"
        query: dict[str, str] | None = dict(params or {})
        while url:
            page = self._get(action, url, query)
            yield from page.get("value", [])
            url = page.get("@odata.nextLink")
            query = None  # the next link already carries every query option

    def _get(self, action: str, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            self._count(action)
            try:
                response = self._http.get(url, params=params, headers={"Authorization": f"Bearer {self.token()}"})
            except httpx.TransportError as exc:
                raise _Retryable(None, None, f"{type(exc).__name__}: {redact(exc)}") from None
            if response.status_code < 400:
                body: dict[str, Any] = response.json()
                return body
            error = _error(response)
            if response.status_code in _RETRY_STATUS:
                raise _Retryable(error, parse_retry_after(response.headers.get("Retry-After")))
            raise error

        try:
            return self._retry.call(
                once,
                retryable=lambda exc: isinstance(exc, _Retryable),
                retry_after=lambda exc: exc.retry_after if isinstance(exc, _Retryable) else None,
            )
        except _Retryable as exc:
            if exc.error is not None:
                raise exc.error from None
            raise GraphError(0, "NetworkError", exc.cause) from None


def _error(response: httpx.Response) -> GraphError:
    try:
        body = response.json()
        err = body.get("error", {}) if isinstance(body, dict) else {}
        code = str(err.get("code") or response.reason_phrase)
        message = str(err.get("message") or "")
    except ValueError:
        code, message = response.reason_phrase, response.text[:300]
    return GraphError(response.status_code, code, message)
