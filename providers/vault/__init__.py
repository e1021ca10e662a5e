"""Vault / OpenBao provider: tokens, AppRoles, userpass users, policies, audit devices, KV-held cloud keys.

Only the provider class is exported; the SDK (hvac) is imported lazily inside the API client.
"""

from __future__ import annotations

from nhiwarden.providers.vault.provider import VaultProvider

__all__ = ["VaultProvider"]
