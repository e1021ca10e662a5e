"""Fixtures for playbook tests: an in-process moto server, a real OpenBao dev server, seeded targets.

Both servers are started once per session on free loopback ports. Each test gets its own IAM user and
KV path (unique names), so tests never see each other's state. Key ages are set on moto's backend
objects (documented public API for tests), never by sleeping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from .pb_helpers import Estate, Kv, age_key, build_report, finding_for

ACCOUNT = "123456789012"
CANARY_OLD_SECRET = "CanaryOldSecretKey0000000000000000000000"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from nhiwarden.sandbox.base import DemoUnavailable
    from nhiwarden.sandbox.vault.server import OpenBaoServer

    server = OpenBaoServer(workdir=tmp_path_factory.mktemp("openbao"))
    try:
        server.start()
    except DemoUnavailable as exc:
        pytest.skip(f"OpenBao unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture
def cloud_env(moto_url: str, bao: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.root_token,
    }
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "NHIWARDEN_FAULT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def make_estate(cloud_env: dict[str, str], moto_url: str, bao: Any, tmp_path: Path) -> Any:
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    kv = Kv(bao.addr, bao.root_token)

    def make(*, age_days: float = 100, store: bool = True, rule: str = "rotation-overdue") -> Estate:
        user = f"svc-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        age_key(user, key["AccessKeyId"], age_days)
        path = f"ci/{user}/aws"
        if store:
            kv.write(
                path,
                {
                    "aws_access_key_id": key["AccessKeyId"],
                    "aws_secret_access_key": key["SecretAccessKey"],
                    "region": "eu-west-1",
                },
            )
        finding, identity = finding_for(user, key["AccessKeyId"], rule)
        report = build_report([finding], [identity], moto_url=moto_url)
        report_path = tmp_path / f"scan-{user}.json"
        report_path.write_text(report.to_json(), encoding="utf-8")
        return Estate(user, key["AccessKeyId"], path, report_path, finding.id, iam, kv, moto_url)

    return make


@pytest.fixture
def cli_env(cloud_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NHIWARDEN_")}
    env.update(cloud_env)
    env["COLUMNS"] = "250"
    return env


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(cloud_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the CLI in this process (fast); crash tests use a subprocess instead."""
    from nhiwarden.cli.app import main

    monkeypatch.setenv("COLUMNS", "250")

    def run(args: list[str], extra_env: dict[str, str] | None = None) -> CliResult:
        with monkeypatch.context() as m:
            for k, v in (extra_env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            code = main(args)
            out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run
