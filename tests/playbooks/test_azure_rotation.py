"""Azure client-secret rotation and offboarding against the sandbox's HTTPS fakes (token authority + Graph).

The shipped fake serves Graph's writes (``addPassword``, ``removePassword``, ``PATCH servicePrincipals``)
and its token authority accepts each current secret of an app, so the real azure-identity client
verifies the new secret. The acting identity (the seeded scanner app) is granted
``Application.ReadWrite.All`` here, as a playbook runner would be.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanRequest, StepFailed, connections, make_plan
from nhiwarden.report import Report, ScanInfo


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    from nhiwarden.sandbox.azure.estate import grant_graph_permission, seed_tenant
    from nhiwarden.sandbox.azure.server import FakeAzure
    from nhiwarden.sandbox.azure.tls import make_tls

    seeded = seed_tenant(datetime.now(UTC))
    grant_graph_permission(seeded.tenant, seeded.sp_ids["nhiwarden-scanner"], "Application.ReadWrite.All")
    tls = make_tls(tmp_path_factory.mktemp("azure"))
    fake = FakeAzure(seeded.tenant, tls)
    with fake.running():
        yield fake, seeded, tls.ca_bundle


def add_app(seeded: Any, name: str, age_days: float) -> tuple[Any, str, str]:
    from nhiwarden.sandbox.azure.estate import add_application

    app = add_application(seeded.tenant, name, secret_start=datetime.now(UTC) - timedelta(days=age_days))
    return app, app.key_id, app.secret


def writes(seeded: Any, object_id: str) -> list[str]:
    """The Graph writes on one object, as ``<METHOD> <last path segment>``."""
    return [
        f"{e['method']} {e['path'].rsplit('/', 1)[-1]}"
        for e in seeded.tenant.requests("graph", object_id)
        if e["method"] != "GET" and e["status"] < 400
    ]


def key_ids(seeded: Any, app_id: str) -> set[str]:
    return {p["keyId"] for p in seeded.tenant.application_by_app_id(app_id)["passwordCredentials"]}


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
    app, old_key, old_value = add_app(seeded, "ci-app", 200)
    report, finding = report_for(fake, seeded, ca, app.app_id, old_key)
    path = f"azure/{app.app_id}"
    plan = make(report, finding, path)
    assert [s.stage for s in plan.steps] == ["create", "deliver", "verify", "delete"]
    now = datetime.now(UTC)

    Engine(plan, tmp_path / "j", now=now, sleep=lambda _s: None).apply()

    assert writes(seeded, app.object_id) == ["POST addPassword"]
    data, _ = Kv(bao.addr, bao.root_token).read(path)
    assert key_ids(seeded, app.app_id) == {old_key, data["secret_key_id"]}
    client = seeded.tenant.clients[app.app_id]
    assert data["client_secret"] == client.secrets[data["secret_key_id"]] and data["client_id"] == app.app_id
    journal = (tmp_path / "j").read_text()
    assert data["client_secret"] not in journal and old_value not in journal

    Engine(plan, tmp_path / "j", now=now + timedelta(days=8)).apply(stage="delete")
    assert writes(seeded, app.object_id) == ["POST addPassword", "POST removePassword"]
    assert key_ids(seeded, app.app_id) == {data["secret_key_id"]}
    assert set(client.secrets) == {data["secret_key_id"]}  # the old value no longer gets a token


def test_azure_failed_verification_removes_the_new_secret(
    azure: tuple[Any, Any, Path], azure_env: None, bao: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, seeded, ca = azure
    app, old_key, _ = add_app(seeded, "ci-app-2", 200)
    report, finding = report_for(fake, seeded, ca, app.app_id, old_key)
    plan = make(report, finding, f"azure/{app.app_id}")
    monkeypatch.setenv("NHIWARDEN_FAULT", "t1.verify:after:fail")

    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()

    assert key_ids(seeded, app.app_id) == {old_key}
    assert writes(seeded, app.object_id) == ["POST addPassword", "POST removePassword"]


def test_azure_rotation_without_graph_write_permission_fails_and_changes_nothing(
    azure: tuple[Any, Any, Path], azure_env: None, bao: Any, tmp_path: Path
) -> None:
    from nhiwarden.sandbox.azure.state import Fault

    fake, seeded, ca = azure
    app, old_key, _ = add_app(seeded, "ci-app-3", 200)
    report, finding = report_for(fake, seeded, ca, app.app_id, old_key)
    plan = make(report, finding, f"azure/{app.app_id}")
    seeded.tenant.add_fault(
        Fault(
            path=f"/applications/{app.object_id}/addPassword",
            status=403,
            method="POST",
            code="Authorization_RequestDenied",
            message="Insufficient privileges to complete the operation.",
        )
    )

    with pytest.raises(StepFailed, match="Insufficient privileges"):
        Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()

    assert key_ids(seeded, app.app_id) == {old_key}


def test_azure_offboarding_disables_the_service_principal_reversibly(
    azure: tuple[Any, Any, Path], azure_env: None, tmp_path: Path
) -> None:
    from azure.identity import ClientSecretCredential

    fake, seeded, ca = azure
    app, old_key, old_value = add_app(seeded, "dormant-app", 300)
    report, _ = report_for(fake, seeded, ca, app.app_id, old_key)
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
            app.app_id,
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
    assert seeded.tenant.service_principal_by_app_id(app.app_id)["accountEnabled"] is False
    assert writes(seeded, app.sp_id) == ["PATCH " + app.sp_id]
    Engine(plan, tmp_path / "j").rollback()
    assert can_sign_in()
