"""A minimal Vault/OpenBao HTTP client for playbooks (KV v2 and auth endpoints), on httpx.

Reads the token from ``VAULT_TOKEN`` or ``BAO_TOKEN`` (registered as a secret at once); the address
comes from the plan. Error texts are redacted before they leave this module. Never logs a response body.
"""

from __future__ import annotations

from typing import Any

import httpx
from nhiwarden.redact import redact, register_secret

from .actions import Context, StepError


class VaultError(StepError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class VaultClient:
    def __init__(self, addr: str, token: str, namespace: str | None = None) -> None:
        register_secret(token)
        headers = {"X-Vault-Token": token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        self.addr = addr.rstrip("/")
        self.http = httpx.Client(base_url=self.addr + "/v1/", headers=headers, timeout=30.0)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self.http.request(method, path.lstrip("/"), json=body)
        except httpx.HTTPError as exc:
            raise VaultError(0, f"{method} {path}: {redact(exc)}") from None
        if resp.status_code == 204 or not resp.content:
            if resp.status_code >= 400:
                raise VaultError(resp.status_code, f"{method} {path}: HTTP {resp.status_code}")
            return {}
        try:
            data: dict[str, Any] = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            errors = data.get("errors") or [f"HTTP {resp.status_code}"]
            raise VaultError(resp.status_code, f"{method} {path}: {redact('; '.join(map(str, errors)))}")
        return data


def vault(ctx: Context) -> VaultClient:
    def make() -> VaultClient:
        conn = ctx.connection("vault")
        addr = conn.get("addr") or ctx.env.get("VAULT_ADDR") or ctx.env.get("BAO_ADDR")
        token = ctx.env.get("VAULT_TOKEN") or ctx.env.get("BAO_TOKEN")
        if not addr:
            raise StepError("no Vault address: the plan names none and VAULT_ADDR/BAO_ADDR is not set")
        if not token:
            raise StepError("no Vault token: set VAULT_TOKEN or BAO_TOKEN")
        return VaultClient(addr, token, conn.get("namespace"))

    client: VaultClient = ctx.cached("vault", make)
    return client
