"""A throwaway certificate authority and a server certificate for 127.0.0.1, made with trustme.

Owns the PEM files the fake serves with and the CA bundle clients trust; never touches a system trust
store.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tls:
    ca_bundle: Path
    server_context: ssl.SSLContext


def make_tls(workdir: Path) -> Tls:
    """Generate a CA and a leaf for 127.0.0.1/localhost; write the CA bundle into ``workdir``."""
    import trustme

    ca = trustme.CA(organization_name="nhiwarden sandbox CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    workdir.mkdir(parents=True, exist_ok=True)
    bundle = workdir / "azure-sandbox-ca.pem"
    bundle.write_bytes(ca.cert_pem.bytes())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return Tls(ca_bundle=bundle, server_context=context)
