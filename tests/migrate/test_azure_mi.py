"""Migrating an Entra app's client secret to a federated credential on a user-assigned managed identity.

``--to azure-mi:<identity> --consumer github:org/repo@ref`` (or ``k8s:...``): the consumer logs in as
the managed identity with its own OIDC token, and the app's Azure role assignments are carried over.
Tokens and Graph come from the shipped sandbox fake (sandbox/azure). The shipped ARM fake is read-only,
so the ARM writes this playbook makes (``PUT``/``DELETE .../federatedIdentityCredentials/{name}`` and
``.../roleAssignments/{name}``) are served by ``ArmWrites`` below, over TLS with the sandbox's CA and
with bearer tokens checked by the shipped fake; move it into sandbox/azure when that fake grows writes.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from nhiwarden.model import Credential, Grant, Identity, Privilege
from nhiwarden.playbooks import Engine, PlanError, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan

from .helpers import report_for

SUB = "5f8a0a8e-0000-4000-8000-00000000a11e"
GROUP = "rg-ci"
MI_NAME = "id-deploy"
MI_ID = (
    f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{MI_NAME}"
)
ROLE_DEFS = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
READER = f"{ROLE_DEFS}/acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = f"{ROLE_DEFS}/b24988ac-6180-42a0-ab88-20f7382dd24c"
RA = "/providers/Microsoft.Authorization/roleAssignments/"


class ArmWrites:
    """A small ARM for managed identities, their federated credentials and role assignments."""

    def __init__(self, fake: Any, tls: Any) -> None:
        self.fake = fake
        self.principal_id, self.client_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.identities = {
            MI_ID.lower(): {
                "id": MI_ID,
                "name": MI_NAME,
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "location": "westeurope",
                "properties": {
                    "tenantId": fake.tenant.tenant_id,
                    "principalId": self.principal_id,
                    "clientId": self.client_id,
                },
            }
        }
        self.fics: dict[str, dict[str, dict[str, Any]]] = {MI_ID.lower(): {}}
        self.assignments: dict[str, dict[str, Any]] = {}  # full id (lowercase) -> resource
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        server.socket = tls.server_context.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def assign(self, scope: str, role: str, principal: str) -> str:
        name = str(uuid.uuid4())
        rid = f"{scope}{RA}{name}"
        self.assignments[rid.lower()] = _assignment(rid, name, scope, role, principal)
        return rid

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, status in self.log if m != "GET" and status < 400]

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if "api-version" not in query:
            return 400, _err("MissingApiVersionParameter", "The api-version query parameter is required.")
        low = path.lower().rstrip("/")
        if low == f"/subscriptions/{SUB}/providers/microsoft.managedidentity/userassignedidentities":
            return 200, {"value": list(self.identities.values())}
        if low in self.identities and method == "GET":
            return 200, self.identities[low]
        if "/federatedidentitycredentials" in low:
            ident, _, rest = low.partition("/federatedidentitycredentials")
            if ident not in self.fics:
                return 404, _err("ResourceNotFound", "The Resource was not found.")
            items = self.fics[ident]
            name = path.rstrip("/").rsplit("/", 1)[1] if rest.strip("/") else None
            if name is None and method == "GET":
                return 200, {"value": list(items.values())}
            assert name is not None
            if method == "PUT":
                props = body.get("properties") or {}
                items[name.lower()] = {
                    "id": path,
                    "name": name,
                    "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                    "properties": {k: props.get(k) for k in ("issuer", "subject", "audiences")},
                }
                return 201, items[name.lower()]
            if method == "DELETE":
                return (200, None) if items.pop(name.lower(), None) else (204, None)
            found = items.get(name.lower())
            return (200, found) if found else (404, _err("NotFound", "not found"))
        if low == f"/subscriptions/{SUB}/providers/microsoft.authorization/roleassignments" and method == "GET":
            flt = query.get("$filter", "")
            principal = flt.split("'")[1] if "principalId eq" in flt else None
            mine = [a for a in self.assignments.values() if principal in (None, a["properties"]["principalId"])]
            return 200, {"value": mine}
        if RA.lower() in low:
            scope = path[: low.index(RA.lower())]
            name = path.rsplit("/", 1)[1]
            if method == "PUT":
                props = body.get("properties") or {}
                same = [
                    a
                    for a in self.assignments.values()
                    if a["properties"]["scope"].lower() == scope.lower()
                    and a["properties"]["roleDefinitionId"].lower() == str(props.get("roleDefinitionId")).lower()
                    and a["properties"]["principalId"] == props.get("principalId")
                ]
                if same:
                    return 409, _err("RoleAssignmentExists", "The role assignment already exists.")
                made = _assignment(path, name, scope, str(props["roleDefinitionId"]), str(props["principalId"]))
                self.assignments[low] = made
                return 201, made
            if method == "DELETE":
                gone = self.assignments.pop(low, None)
                return (200, gone) if gone else (204, None)
            found = self.assignments.get(low)
            return (200, found) if found else (404, _err("RoleAssignmentNotFound", "not found"))
        return 404, _err("NotFound", f"The requested path '{path}' was not found.")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        arm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._handle("GET")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def _handle(self, method: str) -> None:
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    arm.fake.check_token(self.headers.get("Authorization"), arm.url, arm=True)
                    with arm.lock:
                        status, body = arm.route(method, split.path, query, json.loads(raw) if raw else {})
                except Exception as exc:  # the shipped fake's 401s carry their status and body
                    status, body = getattr(exc, "status", 500), getattr(exc, "body", {"error": {"code": "Internal"}})
                arm.log.append((method, split.path, status))
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-ms-request-id", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _assignment(rid: str, name: str, scope: str, role: str, principal: str) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role,
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "scope": scope,
        },
    }


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    from nhiwarden.sandbox.azure.estate import grant_graph_permission, seed_tenant
    from nhiwarden.sandbox.azure.server import FakeAzure
    from nhiwarden.sandbox.azure.tls import make_tls

    seeded = seed_tenant(datetime.now(UTC))
    grant_graph_permission(seeded.tenant, seeded.sp_ids["nhiwarden-scanner"], "Application.ReadWrite.All")
    tls = make_tls(tmp_path_factory.mktemp("azure-mi"))
    fake = FakeAzure(seeded.tenant, tls)
    with fake.running():
        yield fake, seeded, tls


class Case:
    def __init__(self, azure: tuple[Any, Any, Any]) -> None:
        from nhiwarden.sandbox.azure.estate import add_application

        fake, seeded, tls = azure
        self.arm = ArmWrites(fake, tls)
        self.arm.thread.start()
        self.tenant = seeded.tenant.tenant_id
        start = datetime.now(UTC) - timedelta(days=200)
        app = add_application(seeded.tenant, f"ci-{uuid.uuid4().hex[:6]}", secret_start=start)
        self.app_id, self.key_id, self.sp_id = app.app_id, app.key_id, app.sp_id
        self.secret_value = app.secret
        self.arm.assign(f"/subscriptions/{SUB}", READER, self.sp_id)
        self.arm.assign(f"/subscriptions/{SUB}/resourceGroups/{GROUP}", CONTRIBUTOR, self.sp_id)
        self.arm.assign(f"/subscriptions/{SUB}", CONTRIBUTOR, str(uuid.uuid4()))  # someone else's
        uid = f"azure:{self.tenant}:sp/{self.app_id}"
        cred = Credential(
            uid=f"{uid}:secret/{self.key_id}",
            kind="azure-client-secret",
            id=self.key_id,
            static=True,
            last_used_source="graph-beta:appCredentialSignInActivities",
        )
        identity = Identity(
            uid=uid,
            provider="azure",
            kind="azure-service-principal",
            scope=self.tenant,
            name="ci",
            credentials=[cred],
            grants=[
                Grant(
                    privilege=Privilege.READ,
                    source="Directory.Read.All",
                    source_kind="graph-app-permission",
                    resource_scope="Microsoft Graph",
                    reason="read",
                )
            ],
        )
        settings = {
            "tenant": self.tenant,
            "credential": "client-secret",
            "client_id": seeded.scanner_client_id,
            "authority_host": fake.authority,
            "graph_endpoint": fake.graph,
            "arm_endpoint": self.arm.url,
            "subscriptions": [SUB],
            "ca_bundle": str(tls.ca_bundle),
        }
        self.report, self.finding_id = report_for(identity, cred, "static-credential", {"azure": settings})

    def request(self, consumer: str = "github:acme/app@main", to: str = f"azure-mi:{MI_NAME}") -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            to=to,
            consumer=consumer,
            connections=connections(self.report, dict(os.environ)),
        )

    def mi_assignments(self) -> list[tuple[str, str]]:
        return sorted(
            (a["properties"]["scope"], a["properties"]["roleDefinitionId"])
            for a in self.arm.assignments.values()
            if a["properties"]["principalId"] == self.arm.principal_id
        )

    def stop(self) -> None:
        self.arm.server.shutdown()
        self.arm.server.server_close()


@pytest.fixture
def case(azure: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    _fake, seeded, _tls = azure
    monkeypatch.setenv("AZURE_CLIENT_ID", seeded.scanner_client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", seeded.scanner_secret)
    monkeypatch.setenv("AZURE_TENANT_ID", seeded.tenant.tenant_id)
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    made = Case(azure)
    yield made
    made.stop()


def _apply(plan: Any, where: Path) -> tuple[Engine, Any]:
    where.mkdir(parents=True, exist_ok=True)
    path = where / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    engine = Engine(plan, where / "plan.journal.jsonl", plan_path=path)
    return engine, engine.apply()


def test_github_consumer_gets_a_federated_credential_on_the_managed_identity_with_the_apps_roles(
    case: Case, tmp_path: Path
) -> None:
    plan = make_migrate_plan(case.request())
    assert [s.id for s in plan.steps] == [
        "t1.mi-federated",
        "t1.mi-role-0",
        "t1.mi-role-1",
        "t1.graph-note",
        "t1.verify",
        "t1.consumer",
        "t1.remove-secret",
    ]
    fic_step = plan.step("t1.mi-federated")
    assert fic_step.api_call.startswith(f"PUT {MI_ID}/federatedIdentityCredentials/gh-acme-app")
    assert "Directory.Read.All" in plan.step("t1.graph-note").api_call
    engine, result = _apply(plan, tmp_path)
    assert result.ran == [s.id for s in plan.steps if not s.manual]
    (fic,) = case.arm.fics[MI_ID.lower()].values()
    assert fic["name"] == "gh-acme-app"
    assert fic["properties"] == {
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:acme/app:ref:refs/heads/main",
        "audiences": ["api://AzureADTokenExchange"],
    }
    assert case.mi_assignments() == sorted(
        [(f"/subscriptions/{SUB}", READER), (f"/subscriptions/{SUB}/resourceGroups/{GROUP}", CONTRIBUTOR)]
    )
    puts = [p for m, p in case.arm.writes() if m == "PUT"]
    assert len(puts) == 3 and puts[0].endswith("/federatedIdentityCredentials/gh-acme-app")
    (out,) = consumer_outputs(plan)
    login = yaml.safe_load(out["snippet"])["jobs"]["deploy"]["steps"][0]
    assert login["uses"] == "azure/login@v2"
    assert login["with"] == {"client-id": case.arm.client_id, "tenant-id": case.tenant, "subscription-id": SUB}
    texts = [plan.to_json(), (tmp_path / "plan.journal.jsonl").read_text(), out["snippet"]]
    assert all(case.secret_value not in t for t in texts)

    # idempotent: reapplying and re-planning write nothing
    writes = len(case.arm.writes())
    assert engine.apply().ran == []
    again = make_migrate_plan(case.request())
    assert again.step("t1.mi-federated").api_call == "none: the credential exists"
    _apply(again, tmp_path / "again")
    assert len(case.arm.writes()) == writes

    # rollback removes the credential and the role assignments this plan created, nothing else
    engine.rollback()
    assert case.arm.fics[MI_ID.lower()] == {}
    assert case.mi_assignments() == []
    assert len(case.arm.assignments) == 3


def test_kubernetes_consumer_gets_a_service_account_annotated_with_the_identity_client_id(case: Case) -> None:
    plan = make_migrate_plan(
        case.request(consumer="k8s:oidc.prod.aks.example/ci/deployer", to=f"azure-mi:{SUB}/{GROUP}/{MI_NAME}")
    )
    assert plan.step("t1.mi-federated").params["subject"] == "system:serviceaccount:ci:deployer"
    assert plan.step("t1.mi-federated").params["issuer"] == "https://oidc.prod.aks.example"
    (out,) = consumer_outputs(plan)
    sa = yaml.safe_load(out["snippet"])
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == case.arm.client_id


def test_unknown_managed_identity_and_pattern_subject_are_refused(case: Case) -> None:
    with pytest.raises(PlanError, match="managed identity id-missing not found"):
        make_migrate_plan(case.request(to="azure-mi:id-missing"))
    with pytest.raises(PlanError, match="one exact subject"):
        make_migrate_plan(case.request(consumer="github:acme/app"))
    assert case.arm.writes() == []


def test_azure_mi_as_a_consumer_points_to_the_target_form(case: Case) -> None:
    req = case.request(consumer=f"azure-mi:{MI_NAME}", to="azure-federated-credential")
    with pytest.raises(PlanError, match="pass it as --to azure-mi:<name>"):
        make_migrate_plan(req)


def test_existing_credential_name_with_another_subject_is_not_overwritten(case: Case) -> None:
    case.arm.fics[MI_ID.lower()]["gh-acme-app"] = {
        "id": f"{MI_ID}/federatedIdentityCredentials/gh-acme-app",
        "name": "gh-acme-app",
        "properties": {
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:acme/app:ref:refs/heads/other",
            "audiences": ["api://AzureADTokenExchange"],
        },
    }
    with pytest.raises(PlanError, match="exists on id-deploy with another issuer or subject"):
        make_migrate_plan(case.request())
