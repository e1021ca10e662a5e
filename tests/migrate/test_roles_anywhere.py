"""IAM Roles Anywhere for on-premises consumers (``--to aws-roles-anywhere --consumer x509:CN=...``).

moto 5 does not implement ``rolesanywhere`` (no backend, no URL routes), so IAM (the role, its trust
policy and the carried-over permissions) runs on moto, and the three Roles Anywhere calls the plan
makes (CreateTrustAnchor, CreateProfile, their List/Delete/ListTagsForResource) are served by
``FakeRolesAnywhere`` below through ``AWS_ENDPOINT_URL_ROLESANYWHERE`` (the real REST-JSON routes of
the service model, signed requests required). Without it the plan is refused with the reason.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan, parse_consumer

from .helpers import report_for

ACCOUNT = "123456789012"
REGION = "us-east-1"
READ_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


class FakeRolesAnywhere:
    """Trust anchors and profiles over the service's REST-JSON routes (what moto lacks)."""

    def __init__(self) -> None:
        self.anchors: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, s in self.log if m != "GET" and s < 300]

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.split("/") if p]
        now = "2026-11-29T09:00:00Z"
        if parts == ["trustanchors"] and method == "POST":
            source = body.get("source") or {}
            pem = (source.get("sourceData") or {}).get("x509CertificateData")
            if source.get("sourceType") != "CERTIFICATE_BUNDLE" or not _is_ca(pem):
                return 400, _error("ValidationException", "Invalid certificate bundle")
            tid = str(uuid.uuid4())
            arn = f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT}:trust-anchor/{tid}"
            anchor = {
                "trustAnchorId": tid,
                "trustAnchorArn": arn,
                "name": body["name"],
                "source": source,
                "enabled": bool(body.get("enabled")),
                "createdAt": now,
                "updatedAt": now,
            }
            self.anchors[tid] = anchor
            self.tags[arn] = list(body.get("tags") or [])
            return 201, {"trustAnchor": anchor}
        if parts == ["trustanchors"]:
            return 200, {"trustAnchors": list(self.anchors.values())}
        if len(parts) == 2 and parts[0] == "trustanchor":
            found = self.anchors.get(parts[1])
            if found is None:
                return 404, _error("ResourceNotFoundException", "Trust anchor not found")
            if method == "DELETE":
                del self.anchors[parts[1]]
            return 200, {"trustAnchor": found}
        if parts == ["profiles"] and method == "POST":
            if any(p["name"] == body["name"] for p in self.profiles.values()):
                return 409, _error("ConflictException", "Profile name exists")
            pid = str(uuid.uuid4())
            arn = f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT}:profile/{pid}"
            profile = {
                "profileId": pid,
                "profileArn": arn,
                "name": body["name"],
                "roleArns": list(body.get("roleArns") or []),
                "durationSeconds": int(body.get("durationSeconds") or 3600),
                "enabled": bool(body.get("enabled")),
                "createdAt": now,
                "updatedAt": now,
            }
            self.profiles[pid] = profile
            self.tags[arn] = list(body.get("tags") or [])
            return 201, {"profile": profile}
        if parts == ["profiles"]:
            return 200, {"profiles": list(self.profiles.values())}
        if len(parts) == 2 and parts[0] == "profile":
            found = self.profiles.get(parts[1])
            if found is None:
                return 404, _error("ResourceNotFoundException", "Profile not found")
            if method == "DELETE":
                del self.profiles[parts[1]]
            return 200, {"profile": found}
        if parts == ["ListTagsForResource"]:
            return 200, {"tags": self.tags.get(query.get("resourceArn", ""), [])}
        return 404, _error("ResourceNotFoundException", f"no route {method} {path}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def _handle(self, method: str) -> None:
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not str(self.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 Credential="):
                    status, body = 403, _error("AccessDeniedException", "missing signature")
                else:
                    with fake.lock:
                        status, body = fake.route(method, split.path, query, json.loads(raw) if raw else {})
                fake.log.append((method, split.path, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status >= 400:
                    self.send_header("x-amzn-ErrorType", body["__type"])
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _error(kind: str, message: str) -> dict[str, str]:
    return {"__type": kind, "message": message}


def _is_ca(pem: str | None) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(str(pem).encode())
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except Exception:
        return False


@pytest.fixture(scope="module")
def roles_anywhere() -> Iterator[FakeRolesAnywhere]:
    fake = FakeRolesAnywhere()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import trustme

    where = tmp_path_factory.mktemp("ra-ca")
    ca = trustme.CA()
    (where / "ca.pem").write_bytes(ca.cert_pem.bytes())
    (where / "leaf.pem").write_bytes(ca.issue_cert("host.example").cert_chain_pems[0].bytes())
    return where / "ca.pem", where / "leaf.pem"


@dataclass
class OnPremUser:
    name: str
    key_id: str
    secret: str
    policy_arn: str
    iam: Any
    report: Any
    finding_id: str
    env: dict[str, str]

    def request(
        self, ca: Path | None, consumer: str = "x509:CN=host.example,O=Acme,OU=Ops", **extra: Any
    ) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            to="aws-roles-anywhere",
            consumer=consumer,
            ca_cert_path=str(ca) if ca else None,
            connections=connections(self.report, self.env),
            env=self.env,
            **extra,
        )


@pytest.fixture
def onprem(
    aws_env: dict[str, str], moto_url: str, roles_anywhere: FakeRolesAnywhere, monkeypatch: pytest.MonkeyPatch
) -> OnPremUser:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROLESANYWHERE", roles_anywhere.url)
    env = {**aws_env, "AWS_ENDPOINT_URL_ROLESANYWHERE": roles_anywhere.url}
    iam = boto3.client("iam", endpoint_url=moto_url, region_name=REGION)
    name = f"onprem-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=f"{name}-read", PolicyDocument=json.dumps(READ_S3))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    iam.put_user_policy(UserName=name, PolicyName="extra", PolicyDocument=json.dumps(READ_S3))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    uid = f"aws:{ACCOUNT}:user/{name}"
    cred = Credential(uid=f"{uid}:key/{key['AccessKeyId']}", kind="aws-access-key", id=key["AccessKeyId"], static=True)
    identity = Identity(uid=uid, provider="aws", kind="aws-iam-user", scope=ACCOUNT, name=name, credentials=[cred])
    report, fid = report_for(identity, cred, "static-credential", {"aws": {"endpoint_url": moto_url, "region": REGION}})
    return OnPremUser(name, key["AccessKeyId"], key["SecretAccessKey"], arn, iam, report, fid, env)


def _apply(plan: Any, where: Path) -> tuple[Engine, Any]:
    where.mkdir(parents=True, exist_ok=True)
    path = where / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    engine = Engine(plan, where / "plan.journal.jsonl", plan_path=path)
    return engine, engine.apply()


def test_x509_consumer_is_parsed_into_an_exact_certificate_subject() -> None:
    consumer = parse_consumer("x509:CN=host.example, O=Acme,OU=Ops")
    assert consumer.kind == "x509"
    assert consumer.x509_subject == (("CN", "host.example"), ("O", "Acme"), ("OU", "Ops"))
    for bad in ("x509:O=Acme", "x509:CN=*.example", "x509:CN=a,CN=b", "x509:EMAIL=a@b", "x509:CN="):
        with pytest.raises(PlanError):
            parse_consumer(bad)


def test_plan_names_the_exact_roles_anywhere_and_iam_calls(
    onprem: OnPremUser, ca_pem: tuple[Path, Path], roles_anywhere: FakeRolesAnywhere
) -> None:
    plan = make_migrate_plan(onprem.request(ca_pem[0]))
    assert [s.id for s in plan.steps] == [
        "t1.anchor",
        "t1.role",
        "t1.permissions",
        "t1.profile",
        "t1.verify",
        "t1.consumer",
        "t1.deactivate",
        "t1.delete",
    ]
    anchor = plan.step("t1.anchor")
    assert anchor.api_call.startswith("rolesanywhere:CreateTrustAnchor name=nhiwarden-")
    assert "sourceType: CERTIFICATE_BUNDLE" in anchor.api_call and "sha256 " in anchor.api_call
    role = plan.step("t1.role")
    assert role.api_call.startswith(
        f"iam:CreateRole RoleName={onprem.name}-federated trust: rolesanywhere.amazonaws.com"
    )
    assert "x509Subject/CN = host.example, x509Subject/O = Acme, x509Subject/OU = Ops (StringEquals)" in role.api_call
    (statement,) = role.params["trust_policy"]["Statement"]
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": "${t1.anchor.trust_anchor_arn}"}
    profile = plan.step("t1.profile")
    assert profile.api_call == (
        f"rolesanywhere:CreateProfile name={onprem.name}-federated-profile "
        f"roleArns=[arn:aws:iam::{ACCOUNT}:role/{onprem.name}-federated] durationSeconds=3600 enabled=true"
    )
    assert roles_anywhere.writes() == [] and onprem.secret not in plan.to_json()


def test_apply_creates_anchor_role_with_subject_pinned_trust_and_profile_then_rolls_back(
    onprem: OnPremUser, ca_pem: tuple[Path, Path], roles_anywhere: FakeRolesAnywhere, tmp_path: Path
) -> None:
    plan = make_migrate_plan(onprem.request(ca_pem[0]))
    engine, result = _apply(plan, tmp_path)
    assert result.ran == ["t1.anchor", "t1.role", "t1.permissions", "t1.profile", "t1.verify", "t1.consumer"]
    (anchor,) = [a for a in roles_anywhere.anchors.values() if a["name"] == plan.step("t1.anchor").params["name"]]
    assert anchor["enabled"] and anchor["source"]["sourceData"]["x509CertificateData"] == ca_pem[0].read_text()
    # the IAM part, live on moto: the exact trust policy and the user's permissions
    iam = onprem.iam
    role_name = f"{onprem.name}-federated"
    live = iam.get_role(RoleName=role_name)["Role"]
    assert live["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": f"NhiwardenRolesAnywhere{onprem.name.replace('-', '')}",
            "Effect": "Allow",
            "Principal": {"Service": "rolesanywhere.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalTag/x509Subject/CN": "host.example",
                    "aws:PrincipalTag/x509Subject/O": "Acme",
                    "aws:PrincipalTag/x509Subject/OU": "Ops",
                },
                "ArnEquals": {"aws:SourceArn": anchor["trustAnchorArn"]},
            },
        }
    ]
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]]
    assert attached == [onprem.policy_arn]
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["user-extra"]
    (profile,) = [p for p in roles_anywhere.profiles.values() if p["name"] == f"{role_name}-profile"]
    assert profile["roleArns"] == [live["Arn"]] and profile["durationSeconds"] == 3600 and profile["enabled"]
    # the host's config names the created ARNs (substituted at apply); the plan's copy shows placeholders
    (out,) = consumer_outputs(plan)
    assert "<trust-anchor-arn>" in out["snippet"]
    journal = (tmp_path / "plan.journal.jsonl").read_text()
    consumer_done = [json.loads(line) for line in journal.splitlines() if '"t1.consumer"' in line][-1]
    assert consumer_done["outputs"]["names"] == {
        "<profile-arn>": profile["profileArn"],
        "<trust-anchor-arn>": anchor["trustAnchorArn"],
    }
    config = yaml.safe_load(out["snippet"])
    assert config["role-arn"] == live["Arn"] and "aws_signing_helper credential-process" in config["credential_process"]
    assert onprem.secret not in journal and onprem.secret not in plan.to_json()
    # the old key stays active until the final stages
    assert iam.list_access_keys(UserName=onprem.name)["AccessKeyMetadata"][0]["Status"] == "Active"

    # re-planning after the migration changes nothing
    again = make_migrate_plan(onprem.request(ca_pem[0]))
    assert again.step("t1.anchor").api_call == "none: an enabled trust anchor holds this CA certificate"
    assert again.step("t1.profile").api_call == "none: the profile exists for the role"
    writes = len(roles_anywhere.writes())
    _apply(again, tmp_path / "again")
    assert len(roles_anywhere.writes()) == writes

    engine.rollback()
    assert anchor["trustAnchorId"] not in roles_anywhere.anchors
    assert profile["profileId"] not in roles_anywhere.profiles
    assert role_name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_non_ca_certificate_and_missing_certificate_are_refused(onprem: OnPremUser, ca_pem: tuple[Path, Path]) -> None:
    with pytest.raises(PlanError, match="not a CA"):
        make_migrate_plan(onprem.request(ca_pem[1]))
    with pytest.raises(PlanError, match="needs the issuing CA certificate"):
        make_migrate_plan(onprem.request(None))


def test_oidc_consumer_is_refused_for_roles_anywhere_and_x509_for_oidc_roles(
    onprem: OnPremUser, ca_pem: tuple[Path, Path]
) -> None:
    with pytest.raises(PlanError, match="roles-anywhere trusts x509 consumers"):
        make_migrate_plan(onprem.request(ca_pem[0], consumer="github:acme/app@main"))
    req = onprem.request(ca_pem[0])
    req.to = "aws-role"
    with pytest.raises(PlanError, match="migrate with --to aws-roles-anywhere"):
        make_migrate_plan(req)


def test_without_a_roles_anywhere_endpoint_moto_cannot_serve_it_and_the_plan_says_why(
    onprem: OnPremUser, ca_pem: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_ROLESANYWHERE")
    onprem.env.pop("AWS_ENDPOINT_URL_ROLESANYWHERE")
    with pytest.raises(PlanError, match="rolesanywhere:list_trust_anchors"):
        make_migrate_plan(onprem.request(ca_pem[0]))


def test_cli_plans_and_applies_roles_anywhere_with_the_ca_from_the_environment(
    onprem: OnPremUser,
    ca_pem: tuple[Path, Path],
    roles_anywhere: FakeRolesAnywhere,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nhiwarden.playbooks.migrate  # noqa: F401 - in-process: registers the migration actions
    from nhiwarden.cli.app import main

    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("NHIWARDEN_CA_CERT", str(ca_pem[0]))
    scan, plan_path = tmp_path / "scan.json", tmp_path / "plan.json"
    scan.write_text(onprem.report.to_json(), encoding="utf-8")
    args = ["plan", "migrate", "-r", str(scan), "--finding", onprem.finding_id, "--to", "aws-roles-anywhere"]
    assert main([*args, "--consumer", "x509:CN=host.example,O=Acme", "-o", str(plan_path)]) == 0
    assert main(["apply", str(plan_path)]) == 0
    role = onprem.iam.get_role(RoleName=f"{onprem.name}-federated")["Role"]
    conditions = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert conditions["StringEquals"] == {
        "aws:PrincipalTag/x509Subject/CN": "host.example",
        "aws:PrincipalTag/x509Subject/O": "Acme",
    }
    assert [p["roleArns"] for p in roles_anywhere.profiles.values() if p["name"] == f"{role['RoleName']}-profile"] == [
        [role["Arn"]]
    ]
    out = capsys.readouterr()
    assert "credential_process" in out.out and onprem.secret not in out.out + out.err + plan_path.read_text()
