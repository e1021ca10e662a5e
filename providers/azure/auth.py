"""Builds the azure-identity credential the scan authenticates with.

Owns the mapping from ``--azure-credential`` to an azure-identity class and the TLS/authority options
that point it at a sovereign cloud or the local sandbox. Secrets come from the standard environment
variables only (never from flags or config files) and are registered for redaction as soon as read.
Imports azure-identity lazily.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from nhiwarden.errors import ConfigError
from nhiwarden.redact import register_secret

PUBLIC_AUTHORITIES = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")


def build_credential(
    kind: str,
    *,
    tenant: str | None,
    client_id: str | None,
    authority_host: str | None,
    ca_bundle: str | None,
) -> Any:
    """An azure-identity credential for ``kind`` (default, client-secret, cli, managed-identity, ...)."""
    import azure.identity as ai

    common: dict[str, Any] = {}
    if authority_host:
        common["authority"] = authority_host
        host = authority_host.split("://", 1)[-1].split("/", 1)[0]
        if host not in PUBLIC_AUTHORITIES:
            common["disable_instance_discovery"] = True
    if ca_bundle:
        common["connection_verify"] = ca_bundle
    client_id = client_id or os.environ.get("AZURE_CLIENT_ID")
    register_secret(os.environ.get("AZURE_CLIENT_SECRET"))  # EnvironmentCredential reads it too
    if kind == "default":
        if tenant:
            common["additionally_allowed_tenants"] = [tenant]
        return ai.DefaultAzureCredential(**common)
    if kind == "client-secret":
        secret = os.environ.get("AZURE_CLIENT_SECRET")
        tenant = tenant or os.environ.get("AZURE_TENANT_ID")
        if not (tenant and client_id and secret):
            raise ConfigError(
                "client-secret needs the tenant (--azure-tenant or AZURE_TENANT_ID), AZURE_CLIENT_ID and "
                "AZURE_CLIENT_SECRET",
                field="providers.azure.credential",
            )
        return ai.ClientSecretCredential(tenant, client_id, secret, **common)
    if kind == "environment":
        return ai.EnvironmentCredential(**common)
    if kind == "cli":
        return ai.AzureCliCredential(tenant_id=tenant or "")
    if kind == "managed-identity":
        return ai.ManagedIdentityCredential(client_id=client_id) if client_id else ai.ManagedIdentityCredential()
    if kind == "workload-identity":
        kwargs = {"tenant_id": tenant, "client_id": client_id} if tenant and client_id else {}
        return ai.WorkloadIdentityCredential(**kwargs, **common)
    raise ConfigError(f"unknown credential type {kind!r}", field="providers.azure.credential")


def token_tenant(token: str) -> str | None:
    """The ``tid`` claim of an access token (read without verifying: it only names the tenant)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    tid = claims.get("tid")
    return str(tid) if tid else None
