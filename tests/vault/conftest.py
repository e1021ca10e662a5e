"""A real OpenBao dev server for the Vault tests, seeded once per session through the real API.

The server is started once (free loopback port, file audit devices from a config file, health
poll) and stopped by PID. Every scan the tests assert on is run once, right after seeding, so test
order cannot change what they see. Ages are tested by evaluating at ``t0 + n days`` (``as_of``) and
by an audit log whose real lines are re-timed into that future, never by sleeping.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.model import ScopeResult
from nhiwarden.providers.vault import VaultProvider
from nhiwarden.providers.vault.scanner_policy import scanner_policy
from nhiwarden.sandbox import DemoUnavailable
from nhiwarden.sandbox.vault.estate import SeededEstate, seed_estate
from nhiwarden.sandbox.vault.server import OpenBaoServer, find_bao_binary

LIMITED_POLICY = "scanner-without-sudo"


@contextmanager
def vault_token(token: str) -> Iterator[None]:
    """Point the provider's token chain at ``token`` for the duration of a scan."""
    saved = {k: os.environ.get(k) for k in ("VAULT_TOKEN", "BAO_TOKEN")}
    os.environ["VAULT_TOKEN"] = token
    os.environ.pop("BAO_TOKEN", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def scan(settings: dict[str, Any], token: str, *, as_of: datetime | None = None) -> list[ScopeResult]:
    """Run the provider over every scope it lists, as the scanner would (errors propagate)."""
    with vault_token(token):
        provider = VaultProvider(settings, as_of=as_of or datetime.now(UTC))
        provider.sleep = lambda _s: None
        results = []
        for scope in provider.scopes():
            result = ScopeResult(provider="vault", scope=scope.id, name=scope.name)
            provider.discover(scope, result)
            results.append(result)
        return results


def retime(line: str, when: datetime) -> str:
    entry = json.loads(line)
    entry["time"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(entry, separators=(",", ":"))


@dataclass
class Vault:
    server: OpenBaoServer
    estate: SeededEstate
    t0: datetime
    history_log: Path
    scans: dict[str, list[ScopeResult]] = field(default_factory=dict)

    @property
    def addr(self) -> str:
        return self.server.addr

    @property
    def root(self) -> str:
        return self.server.root_token


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_login(addr: str, root_token: str, role: str, sub: str) -> dict[str, Any]:
    """Log in to the JWT auth method with an RS256 token signed by a key configured just for this."""
    import hvac
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    root = hvac.Client(url=addr, token=root_token)
    root.adapter.post("/v1/auth/jwt/config", json={"jwt_validation_pubkeys": [pem]})
    now = int(datetime.now(UTC).timestamp())
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {"sub": sub, "aud": "https://github.com/acme", "iat": now, "nbf": now - 5, "exp": now + 300}
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    jwt = f"{header}.{body}.{_b64(signature)}"
    response = hvac.Client(url=addr).adapter.post("/v1/auth/jwt/login", json={"role": role, "jwt": jwt})
    return dict(response["auth"])


def _history_log(server: OpenBaoServer, out: Path, recent: datetime) -> Path:
    """The real audit log plus re-timed copies of real lines for the identities that stay active."""
    lines = server.audit_log.read_text(encoding="utf-8").splitlines()
    active: list[str] = []
    for line in lines:
        entry = json.loads(line)
        if entry.get("type") != "response":
            continue
        path = (entry.get("request") or {}).get("path", "")
        meta = (entry.get("auth") or {}).get("metadata") or {}
        if path == "auth/approle/login" and meta.get("host") == "runner-2":
            active.append(line)  # the CI runner's login
        elif path in ("auth/userpass/login/svc-backup", "auth/jwt/login"):
            active.append(line)
        elif (entry.get("auth") or {}).get("display_name") == "token" and "root" in (entry.get("auth") or {}).get(
            "policies", []
        ):
            active.append(line)  # the dev root token keeps being used
    out.write_text("\n".join([*lines, *(retime(a, recent) for a in active)]) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    try:
        find_bao_binary()
    except DemoUnavailable as exc:
        pytest.skip(str(exc))
    workdir = tmp_path_factory.mktemp("openbao")
    with OpenBaoServer(workdir) as server:
        estate = seed_estate(server.addr, server.root_token, namespaces=True)
        import hvac

        root = hvac.Client(url=server.addr, token=server.root_token)
        gh = jwt_login(server.addr, server.root_token, "github-deploy", "repo:acme/app:ref:refs/heads/main")
        estate.tokens["github-deploy-login"] = gh["accessor"]
        estate.secret_tokens["github-deploy-login"] = gh["client_token"]
        limited = (
            estate_policy := (Path(__file__).parents[2] / "providers/vault/policy/nhiwarden-scanner.hcl")
        ).read_text()
        limited = limited.replace('capabilities = ["list", "sudo"]', 'capabilities = ["list"]', 1)
        assert limited != estate_policy.read_text()
        root.sys.create_or_update_acl_policy(name=LIMITED_POLICY, policy=limited)
        auth = root.auth.token.create(display_name="no-sudo", policies=[LIMITED_POLICY], ttl="2h")["auth"]
        estate.secret_tokens["no-sudo"] = auth["client_token"]
        estate.tokens["no-sudo"] = auth["accessor"]
        root.sys.create_or_update_acl_policy(name="nhiwarden-scanner-ns", policy=scanner_policy(namespace_depth=2))
        ns_auth = root.auth.token.create(
            display_name="scanner-ns", policies=["nhiwarden-scanner-ns"], ttl="2h", no_default_policy=True
        )["auth"]
        estate.secret_tokens["scanner-ns"] = ns_auth["client_token"]
        estate.tokens["scanner-ns"] = ns_auth["accessor"]
        t0 = datetime.now(UTC)
        history = _history_log(server, workdir / "history.log", t0 + timedelta(days=195))
        v = Vault(server=server, estate=estate, t0=t0, history_log=history)
        base = {"addr": server.addr}
        v.scans["root"] = scan(base, server.root_token)
        v.scans["scanner"] = scan(base, estate.secret_tokens["scanner"])
        v.scans["history"] = scan({**base, "audit_log": str(history)}, server.root_token)
        v.scans["no-sudo"] = scan(base, estate.secret_tokens["no-sudo"])
        v.scans["namespaces"] = scan({**base, "recursive_namespaces": True}, server.root_token)
        v.scans["scanner-namespaces"] = scan({**base, "recursive_namespaces": True}, ns_auth["client_token"])
        yield v
