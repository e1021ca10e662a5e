"""GCP user-managed key rotation against the sandbox's fake IAM gRPC service and OAuth token endpoint.

The shipped fake serves the key-writing RPCs (Create/Delete/Disable/EnableServiceAccountKey) and the
account ones (Get/Disable/EnableServiceAccount) over the same store, so a new key really signs JWTs the
fake's token endpoint accepts, and a disabled or deleted key no longer does. Writes are asserted from
the fake's request log.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanRequest, StepFailed, connections, make_plan
from nhiwarden.report import Report, ScanInfo

PROJECT = "acme-payments"


WRITES = {
    "CreateServiceAccountKey",
    "DeleteServiceAccountKey",
    "DisableServiceAccountKey",
    "EnableServiceAccountKey",
    "DisableServiceAccount",
    "EnableServiceAccount",
}


@dataclass
class Gcp:
    fake: Any
    credentials: Path

    def writes(self) -> list[str]:
        return [r.method for r in self.fake.store.log if r.api == "grpc" and r.method in WRITES and r.status == 200]


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcp]:
    from nhiwarden.sandbox.gcp.fake import FakeGcp
    from nhiwarden.sandbox.gcp.store import Project, Store

    store = Store()
    store.add_project(Project(project_id=PROJECT, number="123456789", parent="organizations/1"))
    with FakeGcp(store) as fake:
        creds = fake.write_credentials(tmp_path_factory.mktemp("gcp") / "scanner.json")
        yield Gcp(fake, creds)


@dataclass
class Target:
    email: str
    key_id: str
    report: Report
    finding: Finding


@pytest.fixture
def target(gcp: Gcp) -> Target:
    from nhiwarden.sandbox.gcp.fake import rsa_keypair
    from nhiwarden.sandbox.gcp.store import Key, ServiceAccount

    email = f"ci-{uuid.uuid4().hex[:6]}@{PROJECT}.iam.gserviceaccount.com"
    key_id = secrets.token_hex(20)
    _private, public = rsa_keypair()
    account = ServiceAccount(email=email, unique_id=str(uuid.uuid4().int)[:21])
    account.keys.append(Key(key_id=key_id, created=datetime.now(UTC) - timedelta(days=200), public_key_pem=public))
    with gcp.fake.store.lock:
        gcp.fake.store.projects[PROJECT].add(account)
    uid = f"gcp:{PROJECT}:sa/{email}"
    cred = Credential(uid=f"{uid}:key/{key_id}", kind="gcp-sa-key", id=key_id, static=True)
    identity = Identity(
        uid=uid, provider="gcp", kind="gcp-service-account", scope=PROJECT, name=email, credentials=[cred]
    )
    finding = Finding(
        id=fingerprint("rotation-overdue", uid, cred.uid),
        rule_id="rotation-overdue",
        severity=Severity.MEDIUM,
        title="rotate",
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred),
        message="key older than 90 days",
    )
    now = datetime.now(UTC)
    settings = gcp.fake.settings(gcp.credentials)
    report = Report(
        scan=ScanInfo(
            id="s", started_at=now, finished_at=now, as_of=now, parameters={"provider_settings": {"gcp": settings}}
        ),
        identities=[identity],
        findings=[finding],
    )
    return Target(email, key_id, report, finding)


def keys(gcp: Gcp, email: str) -> dict[str, bool]:
    return {k.key_id: k.disabled for k in gcp.fake.store.projects[PROJECT].accounts[email].keys}


def plan_for(t: Target, path: str) -> Any:
    return make_plan(
        PlanRequest(
            playbook="rotate",
            report=t.report,
            finding_ids=[t.finding.id],
            deliver=f"vault-kv:secret/{path}",
            connections=connections(t.report, dict(os.environ)),
        )
    )


def test_gcp_key_rotation_creates_delivers_verifies_then_disables_and_later_deletes(
    gcp: Gcp, target: Target, cloud_env: dict[str, str], bao: Any, tmp_path: Path
) -> None:
    from .pb_helpers import Kv

    path = f"gcp/{target.email}"
    plan = plan_for(target, path)
    gcp.fake.store.clear_log()
    now = datetime.now(UTC)

    Engine(plan, tmp_path / "j", now=now).apply()

    assert gcp.writes() == ["CreateServiceAccountKey", "DisableServiceAccountKey"]
    state = keys(gcp, target.email)
    new_id = next(k for k in state if k != target.key_id)
    assert state == {target.key_id: True, new_id: False}
    data, _ = Kv(bao.addr, bao.root_token).read(path)
    assert data["private_key_id"] == new_id and json.loads(data["key.json"])["private_key_id"] == new_id
    assert "PRIVATE KEY" not in (tmp_path / "j").read_text()

    Engine(plan, tmp_path / "j", now=now + timedelta(days=8)).apply(stage="delete")
    assert keys(gcp, target.email) == {new_id: False}


def test_gcp_failure_after_delivery_deletes_the_new_key_and_restores_kv(
    gcp: Gcp, target: Target, cloud_env: dict[str, str], bao: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .pb_helpers import Kv

    kv = Kv(bao.addr, bao.root_token)
    path = f"gcp/{target.email}"
    kv.write(path, {"private_key_id": target.key_id, "key.json": "{}"})
    plan = plan_for(target, path)
    monkeypatch.setenv("NHIWARDEN_FAULT", "t1.deactivate:before:fail")

    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j").apply()

    assert keys(gcp, target.email) == {target.key_id: False}
    assert kv.read(path)[0] == {"private_key_id": target.key_id, "key.json": "{}"}


def test_gcp_offboarding_disables_the_account_reversibly_then_deletes_its_keys(
    gcp: Gcp, target: Target, cloud_env: dict[str, str], tmp_path: Path
) -> None:
    identity = target.report.identities[0]
    finding = Finding(
        id=fingerprint("dormant-identity", identity.uid),
        rule_id="dormant-identity",
        severity=Severity.MEDIUM,
        title="dormant",
        identity=IdentityRef.of(identity),
        message="unused",
    )
    report = target.report.model_copy(update={"findings": [finding]})
    plan = make_plan(
        PlanRequest(
            playbook="offboard",
            report=report,
            finding_ids=[finding.id],
            connections=connections(report, dict(os.environ)),
        )
    )
    account = gcp.fake.store.projects[PROJECT].accounts[target.email]

    Engine(plan, tmp_path / "j").apply(stage="disable")
    assert account.disabled
    Engine(plan, tmp_path / "j").rollback()
    assert not account.disabled

    Engine(plan, tmp_path / "k").apply(stage="disable")
    Engine(plan, tmp_path / "k", now=datetime.now(UTC) + timedelta(days=8)).apply(stage="delete")
    assert account.disabled and keys(gcp, target.email) == {}
