"""``FakeGcp``: both fake servers over one store, plus the scanner's service-account key file.

The scanner authenticates exactly as against Google: a service-account JSON key whose ``token_uri``
points at the fake's token endpoint, so google-auth signs a real JWT and exchanges it for an access
token that both fakes check. The key file is written only into the caller's work directory.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

from nhiwarden.sandbox.gcp.grpc_server import GrpcServer
from nhiwarden.sandbox.gcp.rest_server import RestServer
from nhiwarden.sandbox.gcp.store import Store

SCANNER_EMAIL = "nhiwarden-scanner@acme-security-tools.iam.gserviceaccount.com"


class FakeGcp:
    """Start with ``with FakeGcp(store) as fake:``; ``settings(path)`` points the provider at it."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self._key_id = secrets.token_hex(20)
        self._private_pem, public_pem = rsa_keypair()
        with self.store.lock:
            self.store.signers[self._key_id] = public_pem
        self.rest = RestServer(self.store)
        self.grpc = GrpcServer(self.store)
        self.grpc.token_uri = f"{self.rest.url}/token"  # created keys authenticate against the REST fake

    @property
    def private_key(self) -> str:
        """The scanner key's private PEM: a canary that must never appear in any output."""
        return self._private_pem

    def __enter__(self) -> FakeGcp:
        self.rest.start()
        self.grpc.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.grpc.stop()
        self.rest.stop()

    def credentials_info(self) -> dict[str, Any]:
        return {
            "type": "service_account",
            "project_id": "acme-security-tools",
            "private_key_id": self._key_id,
            "private_key": self._private_pem,
            "client_email": SCANNER_EMAIL,
            "client_id": "104729583920174625381",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.rest.url}/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def write_credentials(self, path: Path) -> Path:
        path.write_text(json.dumps(self.credentials_info(), indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    def settings(self, credentials: Path, **extra: Any) -> dict[str, Any]:
        return {
            "credentials": str(credentials),
            "iam_grpc_endpoint": self.grpc.address,
            "rest_endpoint": self.rest.url,
            **extra,
        }


def rsa_keypair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
