"""An in-process moto server on a free loopback port, with GAAD paging and fault injection.

Owns the server's lifecycle. moto keeps its state per process: estates use their own account ids so
several can live in one server. Never listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nhiwarden.sandbox.aws import paging
from nhiwarden.sandbox.aws.faults import FaultInjector

HOST = "127.0.0.1"


class MotoSandbox:
    """Start with ``start()`` (or use as a context manager); ``endpoint`` is the URL to point boto3 at."""

    def __init__(self) -> None:
        self.faults: FaultInjector | None = None
        self._server: Any = None

    def start(self) -> MotoSandbox:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        paging.install()
        sandbox = self

        class _QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

            def log(self, *args: Any, **kwargs: Any) -> None:
                pass

        class _Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                sandbox.faults = FaultInjector(DomainDispatcherApplication(create_backend_app))
                self._server = make_server(
                    self._ip_address, self._port, sandbox.faults, True, request_handler=_QuietHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = _Server(ip_address=HOST, port=0, verbose=False)
        self._server.start()
        return self

    @property
    def endpoint(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None

    def __enter__(self) -> MotoSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
