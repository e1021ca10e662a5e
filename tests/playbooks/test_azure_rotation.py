"""Azure client-secret rotation against the sandbox's HTTPS fakes (token authority + Graph).

The shared fake Graph is read-only; this module extends it in the test process (a subclass of the
sandbox's ``FakeAzure``) with ``addPassword`` / ``removePassword`` and lets the token authority accept
every secret the application currently has, so the real azure-identity client verifies the new secret.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanRequest, StepFailed, connections, make_plan
from nhiwarden.report import Report, ScanInfo


def writable_fake(tenant: Any, tls: Any) -> Any:
    from nhiwarden.sandbox.azure import server as srv
    from nhiwarden.sandbox.azure.state import Client

    class WritableAzure(srv.FakeAzure):
        def __init__(self, tenant: Any, tls: Any) -> None:
            super().__init__(tenant, tls)
            self.secrets: dict[str, dict[str, str]] = {}  # appId -> keyId -> secret value
            self.writes: list[str] = []

        def add_app(self, name: str, age_days: float) -> tuple[str, str, str]:
            app_id, object_id, key_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
            value = "old-" + secrets.token_urlsafe(24)
            start = (datetime.now(UTC) - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            app = {
                "id": object_id,
                "appId": app_id,
                "displayName": name,
                "createdDateTime": start,
                "passwordCredentials": [
                    {
                        "keyId": key_id,
                        "displayName": "ci",
                        "startDateTime": start,
                        "endDateTime": "2099-01-01T00:00:00Z",
                        "hint": value[:3],
                    }
                ],
                "keyCredentials": [],
                "owners": [],
                "federatedIdentityCredentials": [],
            }
            sp = {
                "id": str(uuid.uuid4()),
                "appId": app_id,
                "displayName": name,
                "servicePrincipalType": "Application",
                "accountEnabled": True,
                "passwordCredentials": [],
                "keyCredentials": [],
            }
            with self.tenant.lock:
                self.tenant.applications.append(app)
                self.tenant.service_principals.append(sp)
                self.tenant.clients[app_id] = Client(client_id=app_id, secret=value, object_id=object_id)
            self.secrets[app_id] = {key_id: value}
            return app_id, key_id, value

        def login(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> Any:
            app_id = form.get("client_id", "")
            sp = next((s for s in self.tenant.service_principals if s["appId"] == app_id), None)
            if sp is not None and sp.get("accountEnabled") is False:
                raise srv.HttpError(
                    400,
                    {
                        "error": "unauthorized_client",
                        "error_description": "AADSTS7000112: Application is disabled.",
                        "error_codes": [7000112],
                    },
                )
            if app_id in self.secrets and form.get("grant_type") == "client_credentials":
                valid = form.get("client_secret") in self.secrets[app_id].values()
                form = {**form, "client_secret": self.tenant.clients[app_id].secret if valid else "invalid"}
            return super().login(method, path, query, form)

        def graph_write(self, path: str, body: dict[str, Any], client: str) -> Any:
            parts = [p for p in path.split("/") if p]
            app = next(a for a in self.tenant.applications if a["id"] == parts[2])
            self.writes.append(parts[3])
            if parts[3] == "addPassword":
                key_id, value = str(uuid.uuid4()), "new-" + secrets.token_urlsafe(30)
                now = datetime.now(UTC)
                cred = {
                    "keyId": key_id,
                    "displayName": body["passwordCredential"].get("displayName"),
                    "startDateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDateTime": body["passwordCredential"].get("endDateTime"),
                    "hint": value[:3],
                }
                app["passwordCredentials"].append(cred)
                self.secrets[app["appId"]][key_id] = value
                return {**cred, "secretText": value}
            key_id = body.get("keyId")
            if key_id not in self.secrets[app["appId"]]:
                raise srv.HttpError(
                    400,
                    {"error": {"code": "Request_BadRequest", "message": f"No credential found with keyId {key_id}"}},
                )
            app["passwordCredentials"] = [p for p in app["passwordCredentials"] if p["keyId"] != key_id]
            del self.secrets[app["appId"]][key_id]
            return {}

        def start(self) -> None:
            for role in ("login", "graph", "arm"):
                base = srv._make_handler(self, role)

                class Handler(base):  # type: ignore[misc, valid-type]
                    serves = role
                    owner = self

                    def do_PATCH(self) -> None:
                        self._handle("PATCH")

                    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Any:
                        if self.serves == "graph" and method == "PATCH" and "/servicePrincipals/" in path:
                            fake = self.owner
                            fake.check_token(self.headers.get("Authorization"), fake.graph, arm=False)
                            sp_id = path.rstrip("/").rsplit("/", 1)[-1]
                            sp = next(s for s in fake.tenant.service_principals if s["id"] == sp_id)
                            sp.update(json.loads(raw or b"{}"))
                            fake.writes.append("PATCH servicePrincipal")
                            return {}
                        if (
                            self.serves == "graph"
                            and method == "POST"
                            and path.endswith(("/addPassword", "/removePassword"))
                        ):
                            fake = self.owner
                            client = fake.check_token(self.headers.get("Authorization"), fake.graph, arm=False)
                            return fake.graph_write(path, json.loads(raw or b"{}"), client)
                        return super()._route(method, path, query, raw)

                server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                server.daemon_threads = True
                server.socket = self.tls.server_context.wrap_socket(server.socket, server_side=True)
                self._servers[role] = server
                self.urls[role] = f"https://127.0.0.1:{server.server_address[1]}"
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                thread.start()
                self._threads.append(thread)

    return WritableAzure(tenant, tls)


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    from nhiwarden.sandbox.azure.estate import seed_tenant
    from nhiwarden.sandbox.azure.tls import make_tls

    seeded = seed_tenant(datetime.now(UTC))
    tls = make_tls(tmp_path_factory.mktemp("azure"))
    fake = writable_fake(seeded.tenant, tls)
    with fake.running():
        yield fake, seeded, tls.ca_bundle


def report_for(fake: Any, seeded: Any, ca: Path, app_id: str, key_id: str) -> tuple[Report, Finding]:
    tenant = seeded.tenant.tenant_id
    uid = f"azure:{tenant}:sp/{app_id}"
    cred = Credential(uid=f"{uid}:secret/{key_id}", kind="azure-client-secret", id=key_id, static=True)
    identity = Identity(
        uid=uid, provider="azure", kind="azure-service-principal", scope=tenant, name="ci-app", credentials=[cred]
    )
    finding = Finding(
        id=fingerprint("rotation-overdue", uid, cred.uid),
        rule_id="rotation-overdue",
        severity=Severity.MEDIUM,
        title="rotate",
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred),
        message="secret older than 90 days",
    )
    settings = {
        "tenant": tenant,
        "credential": "client-secret",
        "client_id": seeded.scanner_client_id,
        "authority_host": fake.authority,
        "graph_endpoint": fake.graph,
        "ca_bundle": str(ca),
    }
    now = datetime.now(UTC)
    report = Report(
        scan=ScanInfo(
            id="s", started_at=now, finished_at=now, as_of=now, parameters={"provider_settings": {"azure": settings}}
        ),
        identities=[identity],
        findings=[finding],
    )
    return report, finding


@pytest.fixture
def azure_env(azure: tuple[Any, Any, Path], cloud_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _fake, seeded, _ca = azure
    monkeypatch.setenv("AZURE_CLIENT_ID", seeded.scanner_client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", seeded.scanner_secret)
    monkeypatch.setenv("AZURE_TENANT_ID", seeded.tenant.tenant_id)


def make(report: Report, finding: Finding, path: str) -> Any:
    return make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[finding.id],
            deliver=f"vault-kv:secret/{path}",
            connections=connections(report, dict(os.environ)),
        )
    )


def test_azure_secret_rotation_adds_delivers_verifies_and_removes_the_old_one_later(
    azure: tuple[Any, Any, Path], azure_env: None, bao: Any, tmp_path: Path
) -> None:
    from .pb_helpers import Kv

    fake, seeded, ca = azure
    app_id, old_key, old_value = fake.add_app("ci-app", 200)
    report, finding = report_for(fake, seeded, ca, app_id, old_key)
    path = f"azure/{app_id}"
    plan = make(report, finding, path)
    assert [s.stage for s in plan.steps] == ["create", "deliver", "verify", "delete"]
    now = datetime.now(UTC)

    Engine(plan, tmp_path / "j", now=now, sleep=lambda _s: None).apply()

    assert fake.writes == ["addPassword"]
    data, _ = Kv(bao.addr, bao.root_token).read(path)
    assert set(fake.secrets[app_id]) == {old_key, data["secret_key_id"]}
    assert data["client_secret"] == fake.secrets[app_id][data["secret_key_id"]] and data["client_id"] == app_id
    journal = (tmp_path / "j").read_text()
    assert data["client_secret"] not in journal and old_value not in journal

    Engine(plan, tmp_path / "j", now=now + timedelta(days=8)).apply(stage="delete")
    assert fake.writes == ["addPassword", "removePassword"]
    assert set(fake.secrets[app_id]) == {data["secret_key_id"]}


def test_azure_failed_verification_removes_the_new_secret(
    azure: tuple[Any, Any, Path], azure_env: None, bao: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, seeded, ca = azure
    app_id, old_key, _ = fake.add_app("ci-app-2", 200)
    report, finding = report_for(fake, seeded, ca, app_id, old_key)
    plan = make(report, finding, f"azure/{app_id}")
    monkeypatch.setenv("NHIWARDEN_FAULT", "t1.verify:after:fail")

    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()

    assert set(fake.secrets[app_id]) == {old_key}


def test_azure_offboarding_disables_the_service_principal_reversibly(
    azure: tuple[Any, Any, Path], azure_env: None, tmp_path: Path
) -> None:
    from azure.identity import ClientSecretCredential

    fake, seeded, ca = azure
    app_id, old_key, old_value = fake.add_app("dormant-app", 300)
    report, _ = report_for(fake, seeded, ca, app_id, old_key)
    identity = report.identities[0]
    finding = Finding(
        id=fingerprint("dormant-identity", identity.uid),
        rule_id="dormant-identity",
        severity=Severity.MEDIUM,
        title="dormant",
        identity=IdentityRef.of(identity),
        message="unused",
    )
    report = report.model_copy(update={"findings": [finding]})
    plan = make_plan(
        PlanRequest(
            playbook="offboard",
            report=report,
            finding_ids=[finding.id],
            connections=connections(report, dict(os.environ)),
        )
    )

    def can_sign_in() -> bool:
        cred = ClientSecretCredential(
            seeded.tenant.tenant_id,
            app_id,
            old_value,
            authority=fake.authority,
            disable_instance_discovery=True,
            connection_verify=str(ca),
        )
        try:
            cred.get_token(f"{fake.graph}/.default")
        except Exception:
            return False
        return True

    assert can_sign_in()
    Engine(plan, tmp_path / "j").apply(stage="disable")
    assert not can_sign_in()
    Engine(plan, tmp_path / "j").rollback()
    assert can_sign_in()
