"""The only place that talks HTTP to Vault/OpenBao: hvac underneath, every call counted and retried.

Owns: building an hvac client for one address + namespace, counting each call in the scope's
``CallLog``, bounded retries on 429/5xx honouring ``Retry-After``, and mapping failures to what the
scanner understands (``ScopeError`` for a server that is down or a token that is refused,
``PermissionDenied`` for a 403 on one path, which the caller turns into a partial scope).
Read-only: only GET, LIST and the POST lookups that Vault exposes as ``update`` (lookup-accessor,
secret-id lookup, audit-hash, capabilities-self). Must never write, and never put a token or any
response text into an error without ``redact()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from nhiwarden.errors import ScopeError
from nhiwarden.providers.base import CallLog
from nhiwarden.redact import redact
from nhiwarden.retry import RetryPolicy, parse_retry_after

_RETRY_STATUS = {429, 500, 502, 503}


class PermissionDenied(Exception):
    """A 403 on one path: the token's policy lacks a capability there."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"permission denied on {path}")


class NotFound(Exception):
    """A 404 (also what LIST returns for an empty folder) or an 'unsupported path'."""


class BadRequest(Exception):
    """A 400, e.g. an accessor that expired between LIST and lookup."""


class VaultApi:
    """Read-only calls against one Vault address and namespace, counted under ``calls``."""

    def __init__(
        self,
        addr: str,
        token: str,
        *,
        namespace: str | None,
        calls: CallLog,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        timeout: float = 15.0,
    ) -> None:
        self.addr = addr
        self.namespace = namespace or None
        self.calls = calls
        self.retry = retry or RetryPolicy(attempts=4, base_delay=0.2, max_delay=5.0)
        self._local = threading.local()
        self._token = token
        self._verify = verify
        self._timeout = timeout
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> Any:
        """One hvac client (and HTTP session) per thread: lookups may run on a small worker pool."""
        client = getattr(self._local, "client", None)
        if client is None:
            import hvac
            import requests

            session = requests.Session()
            session.hooks["response"].append(self._remember_headers)
            client = hvac.Client(
                url=self.addr,
                token=self._token,
                namespace=self.namespace,
                session=session,
                verify=self._verify,
                timeout=self._timeout,
            )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _remember_headers(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        self._local.retry_after = response.headers.get("Retry-After")

    # -- verbs -------------------------------------------------------------------------------------

    def get(self, path: str, action: str) -> dict[str, Any]:
        return self._call("get", path, action)

    def list(self, path: str, action: str) -> list[str]:
        """Keys under a folder; an empty or missing folder is ``[]``."""
        try:
            data = self._call("list", path, action)
        except NotFound:
            return []
        keys = data.get("keys") or []
        return [str(k) for k in keys]

    def list_with_info(self, path: str, action: str) -> dict[str, Any]:
        try:
            return self._call("list", path, action)
        except NotFound:
            return {}

    def post(self, path: str, payload: dict[str, Any], action: str) -> dict[str, Any]:
        return self._call("post", path, action, json=payload)

    # -- plumbing ----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, action: str, **kwargs: Any) -> dict[str, Any]:
        import hvac.exceptions as hx
        import requests

        url = f"/v1/{path.lstrip('/')}"
        fn: Callable[..., Any] = getattr(self._client().adapter, method)

        def once() -> Any:
            self.calls(action)
            return fn(url, **kwargs)

        def retryable(exc: Exception) -> bool:
            if isinstance(exc, hx.RateLimitExceeded | hx.InternalServerError | hx.BadGateway | hx.VaultDown):
                return True
            return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)

        def retry_after(_exc: Exception) -> float | None:
            return parse_retry_after(getattr(self._local, "retry_after", None))

        try:
            response = self.retry.call(once, retryable=retryable, retry_after=retry_after)
        except hx.Forbidden:
            raise PermissionDenied(path) from None
        except hx.InvalidPath:
            raise NotFound(path) from None
        except hx.InvalidRequest as exc:
            message = _errors(exc)
            if "unsupported path" in message or "only available in root namespace" in message:
                raise NotFound(path) from None
            raise BadRequest(f"{path}: {message}") from None
        except hx.RateLimitExceeded:
            raise ScopeError(f"Vault at {self.addr} kept throttling (429) on {path}", kind="throttled") from None
        except hx.VaultDown as exc:
            raise ScopeError(
                f"Vault at {self.addr} is sealed or unavailable (503): {_errors(exc)}", kind="network"
            ) from None
        except hx.VaultError as exc:
            raise ScopeError(f"Vault error on {method.upper()} {path}: {_errors(exc)}", kind="error") from None
        except requests.exceptions.SSLError:
            raise ScopeError(f"TLS verification failed for Vault at {self.addr}", kind="network") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ScopeError(f"cannot reach Vault at {self.addr}: {type(exc).__name__}", kind="network") from None
        if response is None or not hasattr(response, "get"):
            return {}
        data = response.get("data")
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.adapter.close()


def _errors(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    text = "; ".join(str(e) for e in errors) if errors else type(exc).__name__
    return redact(text)[:300]
