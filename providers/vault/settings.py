"""Settings of the Vault/OpenBao provider, and where the token comes from.

The token is deliberately not a setting: it comes only from ``VAULT_TOKEN`` / ``BAO_TOKEN`` or the
token file the Vault CLI writes (``~/.vault-token``), so it never lands in shell history, a config file
or a report. It is registered with ``nhiwarden.redact`` the moment it is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from nhiwarden.errors import ConfigError
from nhiwarden.providers.base import ProviderSettings
from nhiwarden.redact import register_secret
from pydantic import Field, field_validator


class VaultSettings(ProviderSettings):
    addr: str | None = Field(
        default=None,
        description="Vault/OpenBao address, e.g. https://vault.example:8200 (default: $VAULT_ADDR, then "
        "$BAO_ADDR). The token comes only from $VAULT_TOKEN/$BAO_TOKEN or ~/.vault-token.",
    )
    namespace: str | None = Field(
        default=None,
        description="Namespace to scan (OpenBao, Vault Enterprise); default: the root namespace "
        "(or $VAULT_NAMESPACE/$BAO_NAMESPACE).",
    )
    recursive_namespaces: bool = Field(
        default=False, description="Also scan every child namespace below --vault-namespace, recursively."
    )
    audit_log: Path | None = Field(
        default=None,
        description="A file audit device log (JSON lines, plain or .gz): the only source of last-used "
        "times. Without it no unused/dormant verdicts are made for Vault.",
    )
    kv_mounts: list[str] = Field(
        default_factory=list,
        description="KV v2 mounts to inspect for static cloud credentials (metadata only; default: all).",
    )
    ca_cert: str | None = Field(
        default=None, description="CA bundle for the Vault TLS certificate (default: $VAULT_CACERT)."
    )
    max_items: int = Field(
        default=20000,
        ge=1,
        description="Cap on per-item lookups of each kind (token accessors, secret-IDs, KV secrets) per "
        "scope; beyond it the scope is reported partial.",
        json_schema_extra={"flag": None},
    )

    lookup_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Parallel per-item lookups (token accessors, secret-IDs, KV secrets) per scope.",
        json_schema_extra={"flag": None},
    )

    @field_validator("addr")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @field_validator("namespace")
    @classmethod
    def _strip_ns(cls, v: str | None) -> str | None:
        return v.strip("/") or None if v else None

    def resolved_addr(self) -> str:
        addr = self.addr or os.environ.get("VAULT_ADDR") or os.environ.get("BAO_ADDR")
        if not addr:
            raise ConfigError(
                "no Vault address: set --vault-addr, providers.vault.addr, $VAULT_ADDR or $BAO_ADDR",
                field="providers.vault.addr",
            )
        return addr.rstrip("/")

    def resolved_namespace(self) -> str:
        ns = self.namespace or os.environ.get("VAULT_NAMESPACE") or os.environ.get("BAO_NAMESPACE") or ""
        return ns.strip("/")

    def resolved_ca(self) -> bool | str:
        return self.ca_cert or os.environ.get("VAULT_CACERT") or os.environ.get("BAO_CACERT") or True


def read_token() -> tuple[str, str]:
    """The token and where it came from (for messages); the token is registered as a secret."""
    for var in ("VAULT_TOKEN", "BAO_TOKEN"):
        value = os.environ.get(var, "").strip()
        if value:
            register_secret(value)
            return value, f"${var}"
    token_file = Path.home() / ".vault-token"
    try:
        value = token_file.read_text(encoding="utf-8").strip()
    except OSError:
        value = ""
    if value:
        register_secret(value)
        return value, str(token_file)
    raise ConfigError(
        "no Vault token: set $VAULT_TOKEN or $BAO_TOKEN, or log in with the Vault/OpenBao CLI "
        "(~/.vault-token); tokens are never accepted as flags",
        field="providers.vault",
    )
