"""Migrating an Entra app's client secret to a federated identity credential, against the sandbox fake.

The shipped fake serves Graph's ``POST``/``DELETE .../federatedIdentityCredentials`` and ``removePassword``
and logs every request, so the requests and the end state are asserted. The acting identity (the
seeded scanner app) is granted ``Application.ReadWrite.All`` here, as a playbook runner would be.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, StateChanged, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan
from nhiwarden.report import Report, ScanInfo

from .helpers import report_for


class Fake:
    """The running fake and what the tests read from its tenant."""

    def __init__(self, fake: Any, seeded: Any) -> None:
        self.server, self.seeded, self.tenant = fake, seeded, seeded.tenant
        self.authority, self.graph = fake.authority, fake.graph

    def add_app(self, name: str) -> tuple[str, str, str]:
        from nhiwarden.sandbox.azure.estate import add_application

        app = add_application(self.tenant, name, secret_start=datetime.now(UTC) - timedelta(days=200))
        return app.app_id, app.key_id, app.object_id

    def app(self, app_id: str) -> dict[str, Any]:
        return dict(self.tenant.application_by_app_id(app_id))

    def writes(self, object_id: str) -> list[tuple[str, str]]:
        """Successful Graph writes on one application: (method, path after the application id)."""
        return [
            (e["method"], e["path"].split(f"/applications/{object_id}/", 1)[1])
            for e in self.tenant.requests("graph", f"/applications/{object_id}/")
            if e["method"] != "GET" and e["status"] < 400
        ]


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fake, Any, Path]]:
    from nhiwarden.sandbox.azure.estate import grant_graph_permission, seed_tenant
    from nhiwarden.sandbox.azure.server import FakeAzure
    from nhiwarden.sandbox.azure.tls import make_tls

    seeded = seed_tenant(datetime.now(UTC))
    grant_graph_permission(seeded.tenant, seeded.sp_ids["nhiwarden-scanner"], "Application.ReadWrite.All")
    tls = make_tls(tmp_path_factory.mktemp("azure-migrate"))
    fake = FakeAzure(seeded.tenant, tls)
    with fake.running():
        yield Fake(fake, seeded), seeded, tls.ca_bundle


class App:
    def __init__(self, azure: tuple[Any, Any, Path]) -> None:
        self.fake, seeded, ca = azure
        self.tenant = seeded.tenant.tenant_id
        self.app_id, self.key_id, self.object_id = self.fake.add_app(f"ci-{uuid.uuid4().hex[:6]}")
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

    def writes(self) -> list[tuple[str, str]]:
        writes: list[tuple[str, str]] = self.fake.writes(self.object_id)
        return writes


@pytest.fixture
def app(azure: tuple[Fake, Any, Path], monkeypatch: pytest.MonkeyPatch) -> App:
    _fake, seeded, _ca = azure
    monkeypatch.setenv("AZURE_CLIENT_ID", seeded.scanner_client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", seeded.scanner_secret)
    monkeypatch.setenv("AZURE_TENANT_ID", seeded.tenant.tenant_id)
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    return App(azure)


def test_client_secret_migrates_to_a_federated_credential_pinned_to_the_environment(app: App, tmp_path: Path) -> None:
    plan = make_migrate_plan(app.request())
    result = Engine(plan, tmp_path / "j.jsonl").apply()
    assert result.ran == ["t1.federated", "t1.verify", "t1.consumer"]
    assert app.writes() == [("POST", "federatedIdentityCredentials")]
    (fic,) = app.fics()
    assert {k: v for k, v in fic.items() if k != "id"} == {
        "name": "gh-acme-app",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:acme/app:environment:production",
        "audiences": ["api://AzureADTokenExchange"],
        "description": f"nhiwarden: replaces client secret {app.key_id} for github:acme/app:production",
    }
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
    assert len(app.fics()) == 1 and len(app.writes()) == 1
    engine.rollback()
    assert app.fics() == []
    assert [(m, p.split("/")[0]) for m, p in app.writes()] == [
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
