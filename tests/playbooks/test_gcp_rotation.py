"""GCP user-managed key rotation against the sandbox's fake IAM gRPC service and OAuth token endpoint.

The shared fake serves only the read RPCs a scan needs; this module adds the key-writing RPCs
(Create/Delete/Disable/EnableServiceAccountKey) to the same gRPC server and store before it starts, so a
new key really signs JWTs the fake's token endpoint accepts, and a disabled or deleted key no longer does.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanRequest, StepFailed, connections, make_plan
from nhiwarden.report import Report, ScanInfo

PROJECT = "acme-payments"


@dataclass
class KeyWriter:
    """The write half of the IAM key API, on the sandbox store."""

    store: Any
    token_uri: str = ""
    public: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _account(self, name: str) -> Any:
        parts = name.split("/")
        account = self.store.projects[parts[1]].accounts.get(parts[3])
        if account is None:
            raise KeyError(name)
        return account

    def create(self, request: Any, context: grpc.ServicerContext) -> Any:
        from google.cloud.iam_admin_v1 import types
        from nhiwarden.sandbox.gcp.fake import rsa_keypair
        from nhiwarden.sandbox.gcp.store import Key

        self.calls.append("CreateServiceAccountKey")
        account = self._account(request.name)
        private_pem, public_pem = rsa_keypair()
        key_id = secrets.token_hex(20)
        now = datetime.now(UTC)
        info = {
            "type": "service_account",
            "project_id": request.name.split("/")[1],
            "private_key_id": key_id,
            "private_key": private_pem,
            "client_email": account.email,
            "client_id": account.unique_id,
            "token_uri": self.token_uri,
        }
        with self.store.lock:
            account.keys.append(Key(key_id=key_id, created=now, private_key_data=private_pem))
            self.store.signers[key_id] = public_pem
        self.public[key_id] = public_pem
        return types.ServiceAccountKey(
            name=f"{request.name}/keys/{key_id}",
            private_key_type=request.private_key_type,
            key_algorithm=request.key_algorithm,
            private_key_data=json.dumps(info).encode(),
            valid_after_time=now,
        )

    def _key(self, name: str) -> tuple[Any, Any]:
        account = self._account(name.rsplit("/keys/", 1)[0])
        key_id = name.rsplit("/", 1)[-1]
        for key in account.keys:
            if key.key_id == key_id:
                return account, key
        raise KeyError(name)

    def delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        from google.protobuf import empty_pb2

        self.calls.append("DeleteServiceAccountKey")
        try:
            account, key = self._key(request.name)
        except KeyError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Service account key {request.name} does not exist.")
        with self.store.lock:
            account.keys.remove(key)
            self.store.signers.pop(key.key_id, None)
        return empty_pb2.Empty()

    def set_disabled(self, disabled: bool) -> Any:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            from google.protobuf import empty_pb2

            self.calls.append("DisableServiceAccountKey" if disabled else "EnableServiceAccountKey")
            _account, key = self._key(request.name)
            with self.store.lock:
                key.disabled = disabled
                if disabled:
                    self.store.signers.pop(key.key_id, None)
                elif key.key_id in self.public:
                    self.store.signers[key.key_id] = self.public[key.key_id]
            return empty_pb2.Empty()

        return handler

    def get_account(self, request: Any, context: grpc.ServicerContext) -> Any:
        from google.cloud.iam_admin_v1 import types

        self.calls.append("GetServiceAccount")
        try:
            a = self._account(request.name)
        except KeyError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Service account {request.name} does not exist.")
        return types.ServiceAccount(
            name=request.name, email=a.email, unique_id=a.unique_id, disabled=a.disabled, project_id=PROJECT
        )

    def set_account_disabled(self, disabled: bool) -> Any:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            from google.protobuf import empty_pb2

            self.calls.append("DisableServiceAccount" if disabled else "EnableServiceAccount")
            self._account(request.name).disabled = disabled
            return empty_pb2.Empty()

        return handler

    def handlers(self) -> Any:
        from google.cloud.iam_admin_v1 import types
        from google.protobuf import empty_pb2

        def unary(fn: Any, req: Any, resp: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req, response_serializer=resp)

        empty = empty_pb2.Empty.SerializeToString
        return grpc.method_handlers_generic_handler(
            "google.iam.admin.v1.IAM",
            {
                "CreateServiceAccountKey": unary(
                    self.create, types.CreateServiceAccountKeyRequest.deserialize, types.ServiceAccountKey.serialize
                ),
                "DeleteServiceAccountKey": unary(self.delete, types.DeleteServiceAccountKeyRequest.deserialize, empty),
                "DisableServiceAccountKey": unary(
                    self.set_disabled(True), types.DisableServiceAccountKeyRequest.deserialize, empty
                ),
                "EnableServiceAccountKey": unary(
                    self.set_disabled(False), types.EnableServiceAccountKeyRequest.deserialize, empty
                ),
                "GetServiceAccount": unary(
                    self.get_account, types.GetServiceAccountRequest.deserialize, types.ServiceAccount.serialize
                ),
                "DisableServiceAccount": unary(
                    self.set_account_disabled(True), types.DisableServiceAccountRequest.deserialize, empty
                ),
                "EnableServiceAccount": unary(
                    self.set_account_disabled(False), types.EnableServiceAccountRequest.deserialize, empty
                ),
            },
        )


@dataclass
class Gcp:
    fake: Any
    writer: KeyWriter
    credentials: Path


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcp]:
    from nhiwarden.sandbox.gcp.fake import FakeGcp
    from nhiwarden.sandbox.gcp.store import Project, Store

    store = Store()
    store.add_project(Project(project_id=PROJECT, number="123456789", parent="organizations/1"))
    fake = FakeGcp(store)
    writer = KeyWriter(store)
    fake.grpc.server.add_generic_rpc_handlers((writer.handlers(),))
    with fake:
        writer.token_uri = f"{fake.rest.url}/token"
        creds = fake.write_credentials(tmp_path_factory.mktemp("gcp") / "scanner.json")
        yield Gcp(fake, writer, creds)


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
    account.keys.append(Key(key_id=key_id, created=datetime.now(UTC) - timedelta(days=200)))
    with gcp.fake.store.lock:
        gcp.fake.store.projects[PROJECT].add(account)
    gcp.writer.public[key_id] = public
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
    gcp.writer.calls.clear()
    now = datetime.now(UTC)

    Engine(plan, tmp_path / "j", now=now).apply()

    assert gcp.writer.calls == ["CreateServiceAccountKey", "DisableServiceAccountKey"]
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
