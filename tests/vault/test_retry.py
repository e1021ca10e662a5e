"""Throttling: 429 + Retry-After is retried a bounded number of times, with the server's delay.

OpenBao's dev server has no rate-limit quota that fires on demand, so a loopback stub answers 429 with
Retry-After (the body shape Vault uses) a given number of times, then 200.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from nhiwarden.errors import ScopeError
from nhiwarden.model import ScopeResult
from nhiwarden.providers.base import CallLog
from nhiwarden.providers.vault.client import VaultApi
from nhiwarden.retry import RetryPolicy


class _Throttling(BaseHTTPRequestHandler):
    remaining = 0

    def do_GET(self) -> None:
        cls = type(self)
        if cls.remaining > 0:
            cls.remaining -= 1
            body = json.dumps({"errors": ["request path 'sys/auth': rate limit quota exceeded"]}).encode()
            self.send_response(429)
            self.send_header("Retry-After", "3")
        else:
            body = json.dumps({"data": {"token/": {"type": "token"}}}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def throttling() -> Iterator[tuple[str, type[_Throttling]]]:
    handler = type("Handler", (_Throttling,), {"remaining": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _api(addr: str, sleeps: list[float], result: ScopeResult) -> VaultApi:
    policy = RetryPolicy(attempts=3, base_delay=0.01, sleep=sleeps.append)
    return VaultApi(addr, "s.stubtokenvalue00000001", namespace=None, calls=CallLog(result), retry=policy)


def test_429_is_retried_after_the_servers_retry_after(throttling: tuple[str, type[_Throttling]]) -> None:
    addr, handler = throttling
    handler.remaining = 2
    sleeps: list[float] = []
    result = ScopeResult(provider="vault", scope=addr)
    data = _api(addr, sleeps, result).get("sys/auth", "sys/auth")
    assert data == {"token/": {"type": "token"}}
    assert sleeps == [3.0, 3.0]
    assert result.api_calls == {"sys/auth": 3}


def test_persistent_429_gives_up_as_throttled(throttling: tuple[str, type[_Throttling]]) -> None:
    addr, handler = throttling
    handler.remaining = 10
    sleeps: list[float] = []
    result = ScopeResult(provider="vault", scope=addr)
    with pytest.raises(ScopeError) as err:
        _api(addr, sleeps, result).get("sys/auth", "sys/auth")
    assert err.value.kind == "throttled"
    assert len(sleeps) == 2 and result.api_calls == {"sys/auth": 3}
