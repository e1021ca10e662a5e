"""Offboarding a dormant Vault AppRole against a real OpenBao: disable (reversible), then destroy secret-ids."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nhiwarden.findings import Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Identity
from nhiwarden.playbooks import Engine, PlanError, PlanRequest, connections, make_plan

from .pb_helpers import build_report

LATER = datetime.now(UTC) + timedelta(days=30)  # secret-ids are "30 days old" from here (OpenBao ages cannot be faked)


class Role:
    def __init__(self, bao: Any, *, login: bool) -> None:
        self.addr = bao.addr
        self.http = httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": bao.root_token}, timeout=10)
        self.mount = f"approle-{uuid.uuid4().hex[:6]}"
        self.http.post(f"sys/auth/{self.mount}", json={"type": "approle"}).raise_for_status()
        self.http.post(f"auth/{self.mount}/role/ci", json={"token_policies": ["default"]}).raise_for_status()
        self.role_id = self.http.get(f"auth/{self.mount}/role/ci/role-id").json()["data"]["role_id"]
        self.secret_id = self.http.post(f"auth/{self.mount}/role/ci/secret-id").json()["data"]["secret_id"]
        self.token = self.login().json()["auth"]["client_token"] if login else None

    def login(self) -> httpx.Response:
        return httpx.post(
            f"{self.addr}/v1/auth/{self.mount}/login", json={"role_id": self.role_id, "secret_id": self.secret_id}
        )

    def token_works(self) -> bool:
        assert self.token
        return (
            httpx.get(f"{self.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": self.token}).status_code
            == 200
        )

    def accessors(self) -> list[str]:
        r = self.http.request("LIST", f"auth/{self.mount}/role/ci/secret-id")
        return list(r.json()["data"]["keys"]) if r.status_code == 200 else []


def plan_for(role: Role, moto_url: str, tmp_path: Path, now: datetime = LATER) -> Any:
    uid = f"vault:{role.addr}:auth/{role.mount}/role/ci"
    identity = Identity(uid=uid, provider="vault", kind="vault-approle", scope=role.addr, name="ci")
    finding = Finding(
        id=fingerprint("dormant-identity", uid),
        rule_id="dormant-identity",
        severity=Severity.MEDIUM,
        title="dormant",
        identity=IdentityRef.of(identity),
        message="AppRole ci not used for 200 days",
    )
    report = build_report([finding], [identity], moto_url=moto_url)
    return make_plan(
        PlanRequest(
            playbook="offboard",
            report=report,
            finding_ids=[finding.id],
            connections=connections(report, dict(os.environ)),
            now=now,
        )
    )


@pytest.mark.parametrize("logged_in", [True, False])
def test_disable_blocks_the_approle_and_rollback_restores_it(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path, logged_in: bool
) -> None:
    role = Role(bao, login=logged_in)
    plan = plan_for(role, moto_url, tmp_path)
    engine = Engine(plan, tmp_path / "j.jsonl", now=LATER)

    assert engine.apply(stage="disable").ran == ["t1.disable"]
    assert role.login().status_code == 403
    if logged_in:
        assert not role.token_works()

    engine.rollback()
    assert role.login().status_code == 200
    if logged_in:
        assert role.token_works()


def test_delete_stage_destroys_only_the_planned_secret_ids(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    role = Role(bao, login=True)
    plan = plan_for(role, moto_url, tmp_path)
    planned = set(role.accessors())
    Engine(plan, tmp_path / "j.jsonl", now=LATER).apply(stage="disable")
    newer = role.http.post(f"auth/{role.mount}/role/ci/secret-id").json()["data"]["secret_id_accessor"]

    result = Engine(plan, tmp_path / "j.jsonl", now=LATER + timedelta(days=8)).apply(stage="delete")

    assert result.ran == ["t1.delete"]
    assert role.accessors() == [newer]
    assert planned.isdisjoint(role.accessors())


def test_secret_ids_inside_the_grace_period_block_the_plan(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    role = Role(bao, login=False)
    with pytest.raises(PlanError, match="grace period"):
        plan_for(role, moto_url, tmp_path, now=datetime.now(UTC))


def test_secret_id_rotation_delivers_a_working_secret_id_and_destroys_the_old_one_later(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    from nhiwarden.findings import CredentialRef
    from nhiwarden.model import Credential

    from .pb_helpers import Kv

    role = Role(bao, login=False)
    old = role.accessors()[0]
    uid = f"vault:{role.addr}:auth/{role.mount}/role/ci"
    cred = Credential(uid=f"{uid}:secret-id/{old}", kind="vault-secret-id", id=old, static=True)
    identity = Identity(uid=uid, provider="vault", kind="vault-approle", scope=role.addr, name="ci", credentials=[cred])
    finding = Finding(
        id=fingerprint("static-credential", uid, cred.uid),
        rule_id="static-credential",
        severity=Severity.MEDIUM,
        title="static",
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred),
        message="never-expiring secret-id",
    )
    report = build_report([finding], [identity], moto_url=moto_url)
    kv = Kv(bao.addr, bao.root_token)
    path = f"approle/{role.mount}"
    kv.write(path, {"role_id": role.role_id, "secret_id": role.secret_id, "secret_id_accessor": old})
    plan = make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[finding.id],
            deliver=f"vault-kv:secret/{path}",
            connections=connections(report, dict(os.environ)),
            now=LATER,
        )
    )

    Engine(plan, tmp_path / "j", now=LATER).apply()

    data, _ = kv.read(path)
    assert data["secret_id_accessor"] != old and sorted(role.accessors()) == sorted([old, data["secret_id_accessor"]])
    assert (
        httpx.post(
            f"{role.addr}/v1/auth/{role.mount}/login", json={"role_id": data["role_id"], "secret_id": data["secret_id"]}
        ).status_code
        == 200
    )
    assert data["secret_id"] not in (tmp_path / "j").read_text()

    Engine(plan, tmp_path / "j", now=LATER + timedelta(days=8)).apply(stage="delete")
    assert role.accessors() == [data["secret_id_accessor"]]
    assert role.login().status_code == 400  # the old secret-id no longer logs in


def test_periodic_token_rotation_keeps_policies_and_revokes_the_old_token_later(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    from nhiwarden.findings import CredentialRef
    from nhiwarden.model import Credential

    from .pb_helpers import Kv

    admin = httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": bao.root_token})
    admin.post("sys/policies/acl/ci-read", json={"policy": 'path "secret/data/ci/*" { capabilities = ["read"] }'})
    auth = admin.post("auth/token/create-orphan", json={"policies": ["ci-read"], "period": "72h"}).json()["auth"]
    old_token, old_accessor = auth["client_token"], auth["accessor"]
    uid = f"vault:{bao.addr}:auth/token/accessor/{old_accessor}"
    cred = Credential(uid=f"{uid}:token/{old_accessor}", kind="vault-token", id=old_accessor, static=True)
    identity = Identity(
        uid=uid, provider="vault", kind="vault-token", scope=bao.addr, name="ci-token", credentials=[cred]
    )
    finding = Finding(
        id=fingerprint("rotation-overdue", uid, cred.uid),
        rule_id="rotation-overdue",
        severity=Severity.MEDIUM,
        title="rotate",
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred),
        message="periodic token older than 90 days",
    )
    report = build_report([finding], [identity], moto_url=moto_url)
    path = f"tokens/{old_accessor}"
    plan = make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[finding.id],
            deliver=f"vault-kv:secret/{path}",
            connections=connections(report, dict(os.environ)),
            now=LATER,
        )
    )

    Engine(plan, tmp_path / "j", now=LATER).apply()

    data, _ = Kv(bao.addr, bao.root_token).read(path)
    me = httpx.get(f"{bao.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": data["token"]}).json()["data"]
    assert me["policies"] == ["ci-read", "default"] and me["period"] == 259200 and me["orphan"] is True
    Engine(plan, tmp_path / "j", now=LATER + timedelta(days=8)).apply(stage="delete")
    assert httpx.get(f"{bao.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": old_token}).status_code == 403
    assert old_token not in (tmp_path / "j").read_text() and data["token"] not in (tmp_path / "j").read_text()


def token_offboard_plan(bao: Any, accessor: str, moto_url: str) -> Any:
    uid = f"vault:{bao.addr}:auth/token/accessor/{accessor}"
    identity = Identity(uid=uid, provider="vault", kind="vault-token", scope=bao.addr, name="ci-token")
    finding = Finding(
        id=fingerprint("dormant-identity", uid),
        rule_id="dormant-identity",
        severity=Severity.MEDIUM,
        title="dormant",
        identity=IdentityRef.of(identity),
        message="token unused",
    )
    report = build_report([finding], [identity], moto_url=moto_url)
    return make_plan(
        PlanRequest(
            playbook="offboard",
            report=report,
            finding_ids=[finding.id],
            connections=connections(report, dict(os.environ)),
        )
    )


def test_token_offboarding_disables_its_entity_reversibly_then_revokes_it(
    bao: Any, cloud_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    role = Role(bao, login=True)
    assert role.token
    accessor = httpx.get(f"{bao.addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": role.token}).json()["data"][
        "accessor"
    ]
    plan = token_offboard_plan(bao, accessor, moto_url)

    Engine(plan, tmp_path / "j").apply(stage="disable")
    assert not role.token_works()
    Engine(plan, tmp_path / "j").rollback()
    assert role.token_works()

    Engine(plan, tmp_path / "k").apply(stage="disable")
    Engine(plan, tmp_path / "k", now=datetime.now(UTC) + timedelta(days=8)).apply(stage="delete")
    r = httpx.post(
        f"{bao.addr}/v1/auth/token/lookup-accessor",
        json={"accessor": accessor},
        headers={"X-Vault-Token": bao.root_token},
    )
    assert r.status_code == 400  # revoked


def test_a_token_without_an_entity_is_not_offboarded(bao: Any, cloud_env: dict[str, str], moto_url: str) -> None:
    auth = httpx.post(
        f"{bao.addr}/v1/auth/token/create", json={"policies": ["default"]}, headers={"X-Vault-Token": bao.root_token}
    ).json()["auth"]
    with pytest.raises(PlanError, match="no identity entity"):
        token_offboard_plan(bao, auth["accessor"], moto_url)
