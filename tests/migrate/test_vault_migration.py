"""Migrating a long-lived OpenBao token to an AppRole with bounded TTLs, against a real OpenBao server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, StateChanged, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan

from .helpers import report_for


@dataclass
class OldToken:
    token: str
    accessor: str
    uid: str
    cred: Credential
    identity: Identity
    report: Any
    finding_id: str
    env: dict[str, str]
    http: httpx.Client
    addr: str
    mount: str
    kv_path: str

    def request(self, **extra: Any) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            to="vault-approle",
            deliver=f"vault-kv:secret/{self.kv_path}",
            auth_mount=self.mount,
            role_name="ci-deploy",
            connections=connections(self.report, self.env),
            env=self.env,
            **extra,
        )

    def works(self) -> bool:
        return (
            httpx.get(f"{self.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": self.token}).status_code
            == 200
        )


@pytest.fixture
def old_token(bao: Any, monkeypatch: pytest.MonkeyPatch) -> OldToken:
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    http = httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": bao.root_token}, timeout=10)
    http.put("sys/policies/acl/app-read", json={"policy": 'path "secret/data/app/*" { capabilities = ["read"] }'})
    data = http.post(
        "auth/token/create-orphan", json={"policies": ["app-read"], "period": "768h", "display_name": "ci-deploy"}
    ).json()["auth"]
    accessor = data["accessor"]
    uid = f"vault:{bao.addr}:auth/token/accessor/{accessor}"
    cred = Credential(
        uid=f"{uid}:token/{accessor}",
        kind="vault-token",
        id=accessor,
        name="token-ci-deploy",
        static=True,
        last_used_source="audit-log",
        attributes={"period": 2764800, "policies": ["app-read", "default"]},
    )
    identity = Identity(
        uid=uid, provider="vault", kind="vault-token", scope=bao.addr, name="ci-deploy", credentials=[cred]
    )
    report, fid = report_for(identity, cred, "vault-token-no-ttl", {"vault": {"addr": bao.addr}})
    suffix = uuid.uuid4().hex[:6]
    return OldToken(
        data["client_token"],
        accessor,
        uid,
        cred,
        identity,
        report,
        fid,
        env,
        http,
        bao.addr,
        f"approle-{suffix}",
        f"ci/{suffix}/vault",
    )


def _apply(plan: Any, tmp_path: Path, **kw: Any) -> tuple[Engine, Any]:
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    engine = Engine(plan, tmp_path / "plan.journal.jsonl", plan_path=path, **kw)
    return engine, engine.apply()


def test_token_is_replaced_by_an_approle_with_bounded_ttls_and_a_working_delivered_login(
    old_token: OldToken, tmp_path: Path
) -> None:
    plan = make_migrate_plan(old_token.request())
    _, result = _apply(plan, tmp_path)
    assert result.ran == ["t1.mount", "t1.role", "t1.secret-id", "t1.deliver", "t1.verify", "t1.consumer"]
    http, mount = old_token.http, old_token.mount
    assert http.get("sys/auth").json()["data"][f"{mount}/"]["type"] == "approle"
    role = http.get(f"auth/{mount}/role/ci-deploy").json()["data"]
    assert role["token_policies"] == ["app-read"]
    assert (role["token_ttl"], role["token_max_ttl"], role["secret_id_ttl"]) == (3600, 14400, 86400)
    assert role["bind_secret_id"] is True
    # the consumer's credentials are in KV and log in to a short-lived token with the old token's policies
    kv = http.get(f"secret/data/{old_token.kv_path}").json()["data"]["data"]
    login = httpx.post(
        f"{old_token.addr}/v1/auth/{mount}/login", json={"role_id": kv["role_id"], "secret_id": kv["secret_id"]}
    )
    auth = login.json()["auth"]
    assert auth["lease_duration"] == 3600 and auth["token_policies"] == ["app-read", "default"]
    # the verification's own test token was revoked; the old token keeps working until the final stage
    assert old_token.works()
    (out,) = consumer_outputs(plan)
    import yaml

    agent = yaml.safe_load(out["snippet"])
    assert agent["auto_auth"]["method"] == {
        "type": "approle",
        "mount_path": f"auth/{mount}",
        "config": {
            "role_id_file_path": "/etc/vault-agent/role-id",
            "secret_id_file_path": "/etc/vault-agent/secret-id",
            "remove_secret_id_file_after_reading": False,
        },
    }
    texts = [plan.to_json(), (tmp_path / "plan.journal.jsonl").read_text(), out["snippet"]]
    for secret in (old_token.token, kv["secret_id"]):
        assert all(secret not in t for t in texts)


def test_reapplying_changes_nothing_and_rollback_removes_mount_role_and_delivery(
    old_token: OldToken, tmp_path: Path
) -> None:
    plan = make_migrate_plan(old_token.request())
    engine, _ = _apply(plan, tmp_path)
    assert engine.apply().ran == []
    engine.rollback()
    assert f"{old_token.mount}/" not in old_token.http.get("sys/auth").json()["data"]
    assert old_token.http.get(f"secret/data/{old_token.kv_path}").status_code == 404
    assert old_token.works()


def test_existing_role_with_other_settings_is_not_planned(old_token: OldToken) -> None:
    http = old_token.http
    http.post(f"sys/auth/{old_token.mount}", json={"type": "approle"}).raise_for_status()
    http.post(f"auth/{old_token.mount}/role/ci-deploy", json={"token_policies": ["admin"]}).raise_for_status()
    with pytest.raises(Exception, match="exists with other settings"):
        make_migrate_plan(old_token.request())


def _fresh_report(old_token: OldToken, tmp_path: Path, *, last_used: datetime, as_of: datetime) -> Path:
    from nhiwarden.report import Report, ScanInfo

    cred = old_token.cred.model_copy(update={"last_used_at": last_used})
    identity = old_token.identity.model_copy(update={"credentials": [cred]})
    report = Report(
        scan=ScanInfo(id="scan-later", started_at=as_of, finished_at=as_of, as_of=as_of), identities=[identity]
    )
    report.summarize()
    path = tmp_path / f"fresh-{uuid.uuid4().hex[:4]}.json"
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def test_old_token_is_revoked_only_after_the_window_and_a_fresh_report_shows_it_unused(
    old_token: OldToken, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    plan = make_migrate_plan(old_token.request())
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    journal = tmp_path / "plan.journal.jsonl"
    Engine(plan, journal, plan_path=path, now=start).apply()
    later = start + timedelta(days=8)

    still_used = _fresh_report(old_token, tmp_path, last_used=start + timedelta(days=2), as_of=later)
    env = {**old_token.env, "NHIWARDEN_FRESH_REPORT": str(still_used)}
    with pytest.raises(StateChanged, match="unused since"):
        Engine(plan, journal, plan_path=path, now=later, env=env).apply("delete")
    assert old_token.works()

    stale = _fresh_report(old_token, tmp_path, last_used=start - timedelta(days=1), as_of=start - timedelta(hours=1))
    with pytest.raises(StateChanged):
        Engine(plan, journal, plan_path=path, now=later, env={**env, "NHIWARDEN_FRESH_REPORT": str(stale)}).apply(
            "delete"
        )
    assert old_token.works()

    quiet = _fresh_report(old_token, tmp_path, last_used=start - timedelta(days=1), as_of=later)
    result = Engine(plan, journal, plan_path=path, now=later, env={**env, "NHIWARDEN_FRESH_REPORT": str(quiet)}).apply(
        "delete"
    )
    assert result.ran == ["t1.revoke"]
    assert not old_token.works()


# -- JWT auth for an OIDC consumer ----------------------------------------------------------------

GH_ISSUER = "https://token.actions.githubusercontent.com"


def _rsa() -> tuple[Any, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem.decode()


def _jwt(key: Any, claims: dict[str, Any]) -> str:
    import base64
    import json as _json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(_json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64(_json.dumps(claims).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(sig)}"


def _claims(sub: str, aud: str = "https://github.com/acme") -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "iss": GH_ISSUER,
        "sub": sub,
        "aud": aud,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "repository": "acme/app",
    }


def test_token_is_replaced_by_a_jwt_role_pinned_to_the_workflow_with_bounded_ttls(
    old_token: OldToken, tmp_path: Path
) -> None:
    key, pem = _rsa()
    mount = old_token.mount.replace("approle", "jwt")
    http = old_token.http
    # the GitHub issuer's keys, as the mount would fetch them through discovery (the sandbox is offline)
    http.post(f"sys/auth/{mount}", json={"type": "jwt"}).raise_for_status()
    http.post(
        f"auth/{mount}/config", json={"jwt_validation_pubkeys": [pem], "bound_issuer": GH_ISSUER}
    ).raise_for_status()
    req = MigrateRequest(
        playbook="migrate",
        report=old_token.report,
        finding_ids=[old_token.finding_id],
        to="vault-jwt",
        consumer="github:acme/app@main",
        auth_mount=mount,
        connections=connections(old_token.report, old_token.env),
        env=old_token.env,
    )
    plan = make_migrate_plan(req)
    engine, result = _apply(plan, tmp_path)
    assert result.ran == ["t1.mount", "t1.role", "t1.verify", "t1.consumer"]
    role = http.get(f"auth/{mount}/role/gh-acme-app").json()["data"]
    assert role["bound_subject"] == "repo:acme/app:ref:refs/heads/main"
    assert role["bound_audiences"] == ["https://github.com/acme"]
    assert (role["token_ttl"], role["token_max_ttl"], role["token_policies"]) == (3600, 14400, ["app-read"])

    login = f"{old_token.addr}/v1/auth/{mount}/login"
    ok = httpx.post(login, json={"role": "gh-acme-app", "jwt": _jwt(key, _claims("repo:acme/app:ref:refs/heads/main"))})
    assert ok.status_code == 200, ok.text
    assert ok.json()["auth"]["lease_duration"] == 3600
    for sub in ("repo:acme/app:ref:refs/heads/feature", "repo:acme/other:ref:refs/heads/main"):
        denied = httpx.post(login, json={"role": "gh-acme-app", "jwt": _jwt(key, _claims(sub))})
        assert denied.status_code in (400, 403)

    (out,) = consumer_outputs(plan)
    import yaml

    step = yaml.safe_load(out["snippet"])["jobs"]["deploy"]["steps"][0]
    assert step["with"]["method"] == "jwt" and step["with"]["path"] == mount and step["with"]["role"] == "gh-acme-app"
    assert engine.apply().ran == []
    engine.rollback()
    assert http.get(f"auth/{mount}/role/gh-acme-app").status_code == 404
    assert f"{mount}/" in http.get("sys/auth").json()["data"]  # the mount was not created by the plan
    assert old_token.works()
