"""Google Cloud provider: service accounts, user-managed keys, last authentication and IAM bindings.

Importing this package must stay cheap: the Google SDKs are imported only inside ``scopes``/``discover``.
"""

from __future__ import annotations

from nhiwarden.providers.gcp.provider import GcpProvider, GcpSettings

__all__ = ["GcpProvider", "GcpSettings"]
