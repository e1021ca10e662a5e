"""Fixtures for the migration tests: an in-process moto server and a real OpenBao dev server (session)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
    }
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "NHIWARDEN_FAULT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from nhiwarden.sandbox.base import DemoUnavailable
    from nhiwarden.sandbox.vault.server import OpenBaoServer

    server = OpenBaoServer(workdir=tmp_path_factory.mktemp("openbao-migrate"))
    try:
        server.start()
    except DemoUnavailable as exc:
        pytest.skip(f"OpenBao unavailable: {exc}")
    yield server
    server.stop()
