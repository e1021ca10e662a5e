"""Static cloud/database keys held in Vault KV -> the matching dynamic secrets engine, on a real OpenBao.

OpenBao ships the ``database`` engine (builtin, with its database plugins in the catalog) but not the
``aws``, ``gcp`` or ``azure`` engines (``plugin not found in the catalog``): the database migration is
applied end to end (mount, connection, role with bounded TTLs; no database is reachable, so the
connection is written with ``verify_connection: false`` and no credential is issued), and the cloud
migrations must say in the plan that the engine is not available and leave the server unchanged.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, StateChanged, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan

from .helpers import report_for

ADMIN_PASSWORD = "canary-admin-pw-" + uuid.uuid4().hex  # the engine's admin password: never planned
STORED_SECRET = "canary-static-" + uuid.uuid4().hex  # the static value in KV: never read by the plan

FIELDS = {
    "aws": {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": STORED_SECRET},
    "gcp": {"private_key_id": "k1", "client_email": "ci@p.iam.gserviceaccount.com", "private_key": STORED_SECRET},
    "azure": {"client_id": "c1", "tenant_id": "t1", "client_secret": STORED_SECRET},
    "database": {"db_user": "app", "db_host": "db.internal", "db_password": STORED_SECRET},
}
KIND = {"aws": "aws-access-key", "gcp": "gcp-sa-key", "azure": "azure-client-secret", "database": "database-password"}


@dataclass
class KvKey:
    cloud: str
    path: str
    mount: str  # the engine mount this test uses (unique per test)
    report: Any
    finding_id: str
    env: dict[str, str]
    http: httpx.Client
    identity: Identity

    def request(self, **extra: Any) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            engine_mount=self.mount,
            connections=connections(self.report, self.env),
            env=self.env,
            **extra,
        )

    def mounts(self) -> dict[str, Any]:
        return dict(self.http.get("sys/mounts").json()["data"])


def kv_key(bao: Any, cloud: str, monkeypatch: pytest.MonkeyPatch) -> KvKey:
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token, "NHIWARDEN_DB_PASSWORD": ADMIN_PASSWORD}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    monkeypatch.delenv("NHIWARDEN_ENGINE_CONFIG", raising=False)
    http = httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": bao.root_token}, timeout=10)
    suffix = uuid.uuid4().hex[:6]
    path = f"ci/{suffix}/{cloud}-app"
    assert http.post(f"secret/data/{path}", json={"data": FIELDS[cloud]}).status_code == 200
    # what the Vault provider reports for it (providers/vault/discover.py, KV classification)
    uid = f"vault:{bao.addr}:kv/secret/{path}"
    cred = Credential(
        uid=f"{uid}:{KIND[cloud]}",
        kind=KIND[cloud],
        id=f"secret/{path}",
        name=f"{cloud} credential in secret/{path}",
        static=True,
        locations=[f"vault:{bao.addr}:secret/{path}"],
        attributes={"cloud": cloud, "fields": sorted(FIELDS[cloud]), "kv_version": 1},
    )
    identity = Identity(
        uid=uid,
        provider="vault",
        kind="vault-kv-secret",
        scope=bao.addr,
        name=f"secret/{path}",
        credentials=[cred],
        attributes={"mount": "secret/", "path": path, "cloud": cloud},
    )
    report, fid = report_for(identity, cred, "static-credential", {"vault": {"addr": bao.addr}})
    return KvKey(cloud, path, f"{cloud}-{suffix}", report, fid, env, http, identity)


def _apply(plan: Any, tmp_path: Path) -> tuple[Engine, Any]:
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    engine = Engine(plan, tmp_path / "plan.journal.jsonl", plan_path=path)
    return engine, engine.apply()


DB_CONFIG = {
    "plugin_name": "postgresql-database-plugin",
    "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/app?sslmode=disable",
    "username": "vault-admin",
    "grant_role": "app_rw",  # the database role holding the static user's privileges
    "verify_connection": False,  # no database in the sandbox
}


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_cloud_key_in_kv_plans_a_note_when_openbao_has_no_such_engine_and_changes_nothing(
    bao: Any, cloud: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = kv_key(bao, cloud, monkeypatch)
    catalog = key.http.get("sys/plugins/catalog").json()["data"]
    assert cloud not in catalog["secret"]  # what makes this the "not available" case
    plan = make_migrate_plan(key.request(engine_config={"role_arns": ["arn:aws:iam::123456789012:role/ci"]}))
    (step,) = plan.steps
    assert step.action == "migrate.note" and step.stage == "notify"
    assert step.api_call.startswith(f"none: engine {cloud} not available on this server: keep rotating via the rotate")
    assert f"secret/{key.path}" in step.params["note"]
    assert [c.observe for c in plan.preconditions] == ["vaultfed.secrets-engine"]
    before = key.mounts()
    _, result = _apply(plan, tmp_path)
    assert result.ran == [step.id]
    assert key.mounts() == before
    assert consumer_outputs(plan) == []


def test_database_password_in_kv_becomes_a_database_engine_role_bounded_by_ttls(
    bao: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = kv_key(bao, "database", monkeypatch)
    plan = make_migrate_plan(key.request(engine_config=DB_CONFIG, role_name="app-dyn"))
    ids = [s.id for s in plan.steps]
    assert ids == [
        "t1.engine-mount",
        "t1.engine-config-0",
        "t1.engine-role",
        "t1.verify",
        "t1.consumer",
        "t1.destroy-kv",
    ]
    config = plan.step("t1.engine-config-0")
    assert config.params["secret_env"] == {"password": "NHIWARDEN_DB_PASSWORD"}
    assert "<from $NHIWARDEN_DB_PASSWORD at apply>" in config.api_call
    assert plan.step("t1.destroy-kv").manual and plan.step("t1.destroy-kv").rollback is None

    engine, result = _apply(plan, tmp_path)
    assert result.ran == ids[:-1]
    mount = key.mounts()[f"{key.mount}/"]
    assert mount["type"] == "database"
    tune = key.http.get(f"sys/mounts/{key.mount}/tune").json()["data"]
    assert (tune["default_lease_ttl"], tune["max_lease_ttl"]) == (3600, 14400)
    conn = key.http.get(f"{key.mount}/config/app-dyn").json()["data"]
    assert conn["plugin_name"] == "postgresql-database-plugin"
    assert conn["allowed_roles"] == ["app-dyn"]
    assert conn["connection_details"] == {"connection_url": DB_CONFIG["connection_url"], "username": "vault-admin"}
    role = key.http.get(f"{key.mount}/roles/app-dyn").json()["data"]
    assert (role["db_name"], role["default_ttl"], role["max_ttl"]) == ("app-dyn", 3600, 14400)
    assert role["creation_statements"][0].startswith('CREATE ROLE "{{name}}" WITH LOGIN PASSWORD')
    assert role["creation_statements"][1] == 'GRANT "app_rw" TO "{{name}}";'
    # the consumer reads short-lived credentials through Vault Agent: valid JSON/YAML naming the creds path
    (out,) = consumer_outputs(plan)
    agent = yaml.safe_load(out["snippet"])
    assert out["role_arn"] == f"{key.mount}/creds/app-dyn"
    assert f'secret "{key.mount}/creds/app-dyn"' in agent["template"][0]["contents"]
    # the static KV copy stays until the final stage; no secret anywhere
    assert key.http.get(f"secret/metadata/{key.path}").status_code == 200
    texts = [plan.to_json(), (tmp_path / "plan.journal.jsonl").read_text(), out["snippet"]]
    assert all(ADMIN_PASSWORD not in t and STORED_SECRET not in t for t in texts)

    # idempotent: reapplying and re-planning change nothing
    assert engine.apply().ran == []
    again = make_migrate_plan(key.request(engine_config=DB_CONFIG, role_name="app-dyn"))
    assert again.step("t1.engine-mount").api_call == "none: the mount exists"
    (tmp_path / "again").mkdir()
    _, rerun = _apply(again, tmp_path / "again")
    assert rerun.ran[:3] == ["t1.engine-mount", "t1.engine-config-0", "t1.engine-role"]
    ensured = [e["outputs"] for e in _journal(tmp_path / "again") if e["step"] in rerun.ran[:3]]
    assert ensured == [{"created": False}] * 3

    # rollback removes what the first plan created (the mount, with its config and role)
    engine.rollback()
    assert f"{key.mount}/" not in key.mounts()
    assert key.http.get(f"secret/metadata/{key.path}").status_code == 200


def _journal(where: Path) -> list[dict[str, Any]]:
    lines = (where / "plan.journal.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("event") == "completed"]


def test_database_plugin_missing_from_the_catalog_is_a_plan_note(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kv_key(bao, "database", monkeypatch)
    plan = make_migrate_plan(key.request(engine_config={**DB_CONFIG, "plugin_name": "oracle-database-plugin"}))
    (step,) = plan.steps
    assert "engine database not available on this server: keep rotating via the rotate playbook" in step.api_call
    assert "oracle-database-plugin is not in the plugin catalog" in step.api_call


def test_engine_settings_can_come_from_the_environment(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kv_key(bao, "database", monkeypatch)
    key.env["NHIWARDEN_ENGINE_CONFIG"] = json.dumps(DB_CONFIG)
    plan = make_migrate_plan(key.request())
    assert plan.step("t1.engine-config-0").params["body"]["connection_url"] == DB_CONFIG["connection_url"]


def test_database_engine_without_admin_connection_is_refused(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kv_key(bao, "database", monkeypatch)
    with pytest.raises(PlanError, match="needs the admin connection"):
        make_migrate_plan(key.request())


def test_existing_role_with_other_settings_is_not_overwritten(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kv_key(bao, "database", monkeypatch)
    key.http.post(f"sys/mounts/{key.mount}", json={"type": "database"})
    key.http.post(
        f"{key.mount}/roles/app-dyn", json={"db_name": "other", "creation_statements": ["x"], "max_ttl": "768h"}
    )
    with pytest.raises(PlanError, match="roles/app-dyn exists with other settings"):
        make_migrate_plan(key.request(engine_config=DB_CONFIG, role_name="app-dyn"))
    key.http.delete(f"sys/mounts/{key.mount}")


def test_missing_admin_password_fails_the_step_and_rolls_back_the_mount(
    bao: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = kv_key(bao, "database", monkeypatch)
    plan = make_migrate_plan(key.request(engine_config=DB_CONFIG, role_name="app-dyn"))
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    env = {k: v for k, v in key.env.items() if k != "NHIWARDEN_DB_PASSWORD"}
    with pytest.raises(Exception, match="set NHIWARDEN_DB_PASSWORD"):
        Engine(plan, tmp_path / "j.jsonl", plan_path=path, env=env).apply()
    assert f"{key.mount}/" not in key.mounts()


def test_database_engine_without_a_role_to_grant_is_refused(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kv_key(bao, "database", monkeypatch)
    config = {k: v for k, v in DB_CONFIG.items() if k != "grant_role"}
    with pytest.raises(PlanError, match="engine_config grant_role"):
        make_migrate_plan(key.request(engine_config=config))


def test_aws_engine_writes_point_at_the_configured_iam_and_sts_endpoints_with_bounded_sts_ttls(moto_url: str) -> None:
    """Where a server ships the aws engine (HashiCorp Vault), these are the writes the plan makes."""
    from nhiwarden.playbooks.builders.migrate_vault import engine_plan

    cfg = {
        "role_arns": ["arn:aws:iam::123456789012:role/ci"],
        "iam_endpoint": moto_url,
        "sts_endpoint": moto_url,
        "root_from_env": True,
    }
    plan = engine_plan("aws", "aws", "ci", cfg, 3600, 14400)
    root, lease = plan.config
    assert (root.path, root.body) == (
        "aws/config/root",
        {"region": "us-east-1", "iam_endpoint": moto_url, "sts_endpoint": moto_url},
    )
    assert root.secret_env == {
        "access_key": "NHIWARDEN_ENGINE_AWS_ACCESS_KEY_ID",
        "secret_key": "NHIWARDEN_ENGINE_AWS_SECRET_ACCESS_KEY",
    }
    assert "<from $NHIWARDEN_ENGINE_AWS_SECRET_ACCESS_KEY at apply>" in root.call()
    assert lease.body == {"lease": "3600s", "lease_max": "14400s"}
    assert (plan.role.path, plan.role.body) == (
        "aws/roles/ci",
        {
            "credential_type": "assumed_role",
            "role_arns": ["arn:aws:iam::123456789012:role/ci"],
            "default_sts_ttl": 3600,
            "max_sts_ttl": 14400,
        },
    )
    assert plan.creds_path == "aws/sts/ci" and 'secret "aws/sts/ci"' in plan.template


def _fresh_report(key: KvKey, where: Path, *, usage_source: str | None, as_of: datetime) -> Path:
    from nhiwarden.report import Report, ScanInfo

    cred = key.identity.credentials[0].model_copy(update={"last_used_source": usage_source, "last_used_at": None})
    identity = key.identity.model_copy(update={"credentials": [cred]})
    report = Report(
        scan=ScanInfo(id="scan-later", started_at=as_of, finished_at=as_of, as_of=as_of), identities=[identity]
    )
    report.summarize()
    path = where / f"fresh-{uuid.uuid4().hex[:4]}.json"
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def test_kv_copy_is_destroyed_only_after_the_window_and_with_a_usage_signal(
    bao: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = kv_key(bao, "database", monkeypatch)
    start = datetime.now(UTC)
    plan = make_migrate_plan(key.request(engine_config=DB_CONFIG, role_name="app-dyn"))
    path, journal = tmp_path / "plan.json", tmp_path / "plan.journal.jsonl"
    path.write_text(plan.to_json(), encoding="utf-8")
    Engine(plan, journal, plan_path=path, now=start).apply()
    later = start + timedelta(days=8)
    # the Vault provider reports no usage signal for KV secrets: a missing signal is never a verdict
    blind = _fresh_report(key, tmp_path, usage_source=None, as_of=later)
    with pytest.raises(StateChanged, match="unused since"):
        Engine(plan, journal, plan_path=path, now=later, env={**key.env, "NHIWARDEN_FRESH_REPORT": str(blind)}).apply(
            "delete"
        )
    assert key.http.get(f"secret/metadata/{key.path}").status_code == 200
    quiet = _fresh_report(key, tmp_path, usage_source="audit-log", as_of=later)
    result = Engine(
        plan, journal, plan_path=path, now=later, env={**key.env, "NHIWARDEN_FRESH_REPORT": str(quiet)}
    ).apply("delete")
    assert result.ran == ["t1.destroy-kv"]
    assert key.http.get(f"secret/metadata/{key.path}").status_code == 404
    key.http.delete(f"sys/mounts/{key.mount}")


def test_cli_defaults_kv_findings_to_the_dynamic_engine_and_prints_the_unavailable_note(
    bao: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import nhiwarden.playbooks.migrate  # noqa: F401 - in-process: registers the migration actions
    from nhiwarden.cli.app import main

    monkeypatch.setenv("COLUMNS", "250")
    key = kv_key(bao, "aws", monkeypatch)
    scan, plan_path = tmp_path / "scan.json", tmp_path / "plan.json"
    scan.write_text(key.report.to_json(), encoding="utf-8")
    assert main(["plan", "migrate", "-r", str(scan), "--finding", key.finding_id, "-o", str(plan_path)]) == 0
    plan = json.loads(plan_path.read_text())
    assert [s["action"] for s in plan["steps"]] == ["migrate.note"]
    out = capsys.readouterr()
    assert "engine aws not available on this server" in " ".join(out.out.split())
    assert STORED_SECRET not in out.out + out.err + plan_path.read_text()


def test_planning_needs_only_read_on_sys_mounts_and_the_plugin_catalog(
    bao: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = kv_key(bao, "gcp", monkeypatch)
    policy = 'path "sys/mounts" { capabilities = ["read"] }\npath "sys/plugins/catalog" { capabilities = ["read"] }'
    key.http.put("sys/policies/acl/migrate-plan", json={"policy": policy})
    token = key.http.post("auth/token/create", json={"policies": ["migrate-plan"], "ttl": "10m"}).json()["auth"]
    key.env["VAULT_TOKEN"] = token["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token["client_token"])
    plan = make_migrate_plan(key.request())
    (step,) = plan.steps
    assert "engine gcp not available on this server" in step.api_call
    assert token["client_token"] not in plan.to_json()
