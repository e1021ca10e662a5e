"""A small Kubernetes API client for playbooks: kubeconfig context -> raw JSON requests over httpx.

Uses the official client only to read the kubeconfig (TLS, tokens, client certificates), so playbooks do
not depend on the client's model layer. Tokens from the kubeconfig are registered as secrets; error
texts are the API server's ``Status.message``, redacted.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from nhiwarden.redact import redact, register_secret

from .actions import Context, StepError


class KubeError(StepError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class KubeClient:
    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        from kubernetes import client, config

        cfg = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=cfg, persist_config=False
            )
        except Exception as exc:
            raise StepError(f"kubeconfig context {context!r}: {redact(exc)}") from None
        headers: dict[str, str] = {}
        settings: dict[str, Any] = dict(cfg.auth_settings())
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = str(setting["value"])
                register_secret(str(setting["value"]).removeprefix("Bearer "))
        verify: ssl.SSLContext | bool = False
        if cfg.verify_ssl:
            verify = ssl.create_default_context(cafile=cfg.ssl_ca_cert) if cfg.ssl_ca_cert else True
        if isinstance(verify, ssl.SSLContext) and cfg.cert_file and cfg.key_file:
            verify.load_cert_chain(cfg.cert_file, cfg.key_file)
        self.context = context
        self.http = httpx.Client(base_url=cfg.host, headers=headers, verify=verify, timeout=30.0)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = self.http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise KubeError(0, "Network", f"{method} {path}: {redact(exc)}") from None
        try:
            data: dict[str, Any] = resp.json() if resp.content else {}
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            message = data.get("message") or f"HTTP {resp.status_code}"
            raise KubeError(resp.status_code, str(data.get("reason") or ""), f"{method} {path}: {redact(message)}")
        return data


def kube(ctx: Context) -> KubeClient:
    def make() -> KubeClient:
        conn = ctx.connection("kubernetes")
        return KubeClient(conn.get("kubeconfig") or ctx.env.get("KUBECONFIG"), conn.get("context"))

    client: KubeClient = ctx.cached("kubernetes", make)
    return client
