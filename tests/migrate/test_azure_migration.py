"""Migrating an Entra app's client secret to a federated identity credential, against the sandbox fake.

The shared fake Graph is read-only; this module extends it in the test process (a subclass of the
sandbox's ``FakeAzure``) with ``POST``/``DELETE .../federatedIdentityCredentials`` and ``removePassword``
and records every write, so the requests and the end state are asserted.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, StateChanged, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan
from nhiwarden.report import Report, ScanInfo

from .helpers import report_for


def writable_fake(tenant: Any, tls: Any) -> Any:
    from nhiwarden.sandbox.azure import server as srv

    class WritableAzure(srv.FakeAzure):
        def __init__(self, tenant: Any, tls: Any) -> None:
            super().__init__(tenant, tls)
            self.writes: list[tuple[str, str, dict[str, Any]]] = []

        def add_app(self, name: str) -> tuple[str, str]:
            app_id, object_id, key_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
            start = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
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
                    }
                ],
                "keyCredentials": [],
                "owners": [],
                "federatedIdentityCredentials": [],
            }
            with self.tenant.lock:
                self.tenant.applications.append(app)
            return app_id, key_id

        def app(self, app_id: str) -> dict[str, Any]:
            return dict(next(a for a in self.tenant.applications if a["appId"] == app_id))

        def graph_write(self, method: str, path: str, body: dict[str, Any]) -> Any:
            parts = [p for p in path.split("/") if p]  # v1.0 applications <id> <what> [<fic id>]
            app = next(a for a in self.tenant.applications if a["id"] == parts[2])
            self.writes.append((method, "/".join(parts[3:]), body))
            if method == "POST" and parts[3] == "federatedIdentityCredentials":
                fic = {"id": str(uuid.uuid4()), **body}
                for other in app["federatedIdentityCredentials"]:
                    if other["name"] == body["name"]:
                        raise srv.HttpError(409, {"error": {"code": "Request_BadRequest", "message": "exists"}})
                app["federatedIdentityCredentials"].append(fic)
                return fic
            if method == "DELETE" and parts[3] == "federatedIdentityCredentials":
                app["federatedIdentityCredentials"] = [
                    f for f in app["federatedIdentityCredentials"] if f["id"] != parts[4]
                ]
                return {}
            if parts[3] == "removePassword":
                app["passwordCredentials"] = [p for p in app["passwordCredentials"] if p["keyId"] != body["keyId"]]
                return {}
            raise srv.HttpError(405, {"error": {"code": "MethodNotAllowed", "message": path}})

        def start(self) -> None:
            for role in ("login", "graph", "arm"):
                base = srv._make_handler(self, role)

                class Handler(base):  # type: ignore[misc, valid-type]
                    serves = role
                    owner = self

                    def do_DELETE(self) -> None:
                        self._handle("DELETE")

                    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Any:
                        if self.serves == "graph" and method in ("POST", "DELETE"):
                            fake = self.owner
                            fake.check_token(self.headers.get("Authorization"), fake.graph, arm=False)
                            return fake.graph_write(method, path, json.loads(raw or b"{}"))
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
    tls = make_tls(tmp_path_factory.mktemp("azure-migrate"))
    fake = writable_fake(seeded.tenant, tls)
    with fake.running():
        yield fake, seeded, tls.ca_bundle


class App:
    def __init__(self, azure: tuple[Any, Any, Path]) -> None:
        self.fake, seeded, ca = azure
        self.tenant = seeded.tenant.tenant_id
        self.app_id, self.key_id = self.fake.add_app(f"ci-{uuid.uuid4().hex[:6]}")
        uid = f"azure:{self.tenant}:sp/{self.app_id}"
        self.cred = Credential(
            uid=f"{uid}:secret/{self.key_id}",
            kind="azure-client-secret",
            id=self.key_id,
            static=True,
            last_used_source="graph-beta:appCredentialSignInActivities",
        )
        self.identity = Identity(
            uid=uid,
            provider="azure",
            kind="azure-service-principal",
            scope=self.tenant,
            name="ci",
            credentials=[self.cred],
        )
        settings = {
            "tenant": self.tenant,
            "credential": "client-secret",
            "client_id": seeded.scanner_client_id,
            "authority_host": self.fake.authority,
            "graph_endpoint": self.fake.graph,
            "ca_bundle": str(ca),
        }
        self.report, self.finding_id = report_for(self.identity, self.cred, "static-credential", {"azure": settings})

    def request(self, consumer: str = "github:acme/app:production") -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            consumer=consumer,
            connections=connections(self.report, dict(os.environ)),
        )

    def fics(self) -> list[dict[str, Any]]:
        return list(self.fake.app(self.app_id)["federatedIdentityCredentials"])


@pytest.fixture
def app(azure: tuple[Any, Any, Path], monkeypatch: pytest.MonkeyPatch) -> App:
    _fake, seeded, _ca = azure
    monkeypatch.setenv("AZURE_CLIENT_ID", seeded.scanner_client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", seeded.scanner_secret)
    monkeypatch.setenv("AZURE_TENANT_ID", seeded.tenant.tenant_id)
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    _fake.writes.clear()
    return App(azure)


def test_client_secret_migrates_to_a_federated_credential_pinned_to_the_environment(app: App, tmp_path: Path) -> None:
    plan = make_migrate_plan(app.request())
    result = Engine(plan, tmp_path / "j.jsonl").apply()
    assert result.ran == ["t1.federated", "t1.verify", "t1.consumer"]
    assert [(m, p) for m, p, _ in app.fake.writes] == [("POST", "federatedIdentityCredentials")]
    assert app.fake.writes[0][2] == {
        "name": "gh-acme-app",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:acme/app:environment:production",
        "audiences": ["api://AzureADTokenExchange"],
        "description": f"nhiwarden: replaces client secret {app.key_id} for github:acme/app:production",
    }
    (fic,) = app.fics()
    assert fic["subject"] == "repo:acme/app:environment:production"
    assert [p["keyId"] for p in app.fake.app(app.app_id)["passwordCredentials"]] == [app.key_id]
    (out,) = consumer_outputs(plan)
    job = yaml.safe_load(out["snippet"])["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert job["steps"][0]["uses"] == "azure/login@v2"
    assert job["steps"][0]["with"]["client-id"] == app.app_id and job["steps"][0]["with"]["tenant-id"] == app.tenant


def test_reapplying_or_replanning_writes_nothing_and_rollback_deletes_the_credential(app: App, tmp_path: Path) -> None:
    plan = make_migrate_plan(app.request())
    engine = Engine(plan, tmp_path / "j.jsonl")
    engine.apply()
    assert engine.apply().ran == []
    again = make_migrate_plan(app.request())
    assert again.step("t1.federated").api_call == "none: the credential exists"
    Engine(again, tmp_path / "j2.jsonl").apply()
    assert len(app.fics()) == 1 and len(app.fake.writes) == 1
    engine.rollback()
    assert app.fics() == []
    assert [(m, p.split("/")[0]) for m, p, _ in app.fake.writes] == [
        ("POST", "federatedIdentityCredentials"),
        ("DELETE", "federatedIdentityCredentials"),
    ]


def test_consumer_without_branch_or_environment_is_refused_for_exact_subject_matching(app: App) -> None:
    with pytest.raises(PlanError, match="exact subject"):
        make_migrate_plan(app.request("github:acme/app"))


def _fresh(app: App, tmp_path: Path, *, last_used: datetime, as_of: datetime) -> str:
    cred = app.cred.model_copy(update={"last_used_at": last_used})
    report = Report(
        scan=ScanInfo(id="later", started_at=as_of, finished_at=as_of, as_of=as_of),
        identities=[app.identity.model_copy(update={"credentials": [cred]})],
    )
    path = tmp_path / f"fresh-{uuid.uuid4().hex[:4]}.json"
    path.write_text(report.to_json())
    return str(path)


def test_old_secret_is_removed_after_the_window_only_when_a_fresh_scan_shows_it_unused(
    app: App, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    plan = make_migrate_plan(app.request())
    journal = tmp_path / "j.jsonl"
    Engine(plan, journal, now=start).apply()
    later = start + timedelta(days=8)
    used = {
        **os.environ,
        "NHIWARDEN_FRESH_REPORT": _fresh(app, tmp_path, last_used=start + timedelta(days=1), as_of=later),
    }
    with pytest.raises(StateChanged):
        Engine(plan, journal, now=later, env=used).apply("delete")
    assert [p["keyId"] for p in app.fake.app(app.app_id)["passwordCredentials"]] == [app.key_id]
    quiet = {
        **os.environ,
        "NHIWARDEN_FRESH_REPORT": _fresh(app, tmp_path, last_used=start - timedelta(days=3), as_of=later),
    }
    assert Engine(plan, journal, now=later, env=quiet).apply("delete").ran == ["t1.remove-secret"]
    assert app.fake.app(app.app_id)["passwordCredentials"] == []
    assert len(app.fics()) == 1
