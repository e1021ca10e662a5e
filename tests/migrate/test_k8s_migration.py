"""Migrating a legacy service-account token Secret to projected tokens, against the fake kube-apiserver."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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
from nhiwarden.report import Report, ScanInfo

from .helpers import report_for

CONTEXT = "fake"
CLOCK = {"now": datetime.now(UTC)}


@dataclass
class Cluster:
    server: Any
    kubeconfig: Path
    admin: str

    def http(self, method: str, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
        return httpx.request(
            method, f"{self.server.url}{path}", json=body, headers={"Authorization": f"Bearer {token or self.admin}"}
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from nhiwarden.sandbox.kubernetes.kubeconfig import KubeContext, write_kubeconfig
    from nhiwarden.sandbox.kubernetes.server import FakeApiServer
    from nhiwarden.sandbox.kubernetes.store import Store

    server = FakeApiServer(Store(), clock=lambda: CLOCK["now"])
    with server:
        admin = server.add_token("cluster-admin")
        path = write_kubeconfig(
            tmp_path_factory.mktemp("kube") / "kubeconfig", [KubeContext(CONTEXT, server.url, admin)]
        )
        yield Cluster(server, path, admin)


def deployment(name: str, sa: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": sa,
                    "containers": [
                        {
                            "name": "main",
                            "image": "registry.example/app:1",
                            "volumeMounts": [{"name": "sa-token", "mountPath": "/var/run/legacy"}],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "app"}},
                        {"name": "sa-token", "secret": {"secretName": secret}},
                    ],
                },
            },
        },
    }


@dataclass
class Legacy:
    ns: str
    token: str
    cred: Credential
    identity: Identity
    report: Report
    finding_id: str

    def request(self) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            consumer=f"k8s:https://kubernetes.default.svc/{self.ns}/worker",
            connections=connections(self.report, dict(os.environ)),
        )


@pytest.fixture
def legacy(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    from nhiwarden.sandbox.kubernetes.estate import Seeder

    CLOCK["now"] = datetime.now(UTC)
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    ns = f"pay-{uuid.uuid4().hex[:6]}"
    token = "legacy-canary-" + uuid.uuid4().hex
    seed = Seeder(cluster.server.store, datetime.now(UTC))
    seed.namespace(ns)
    seed.service_account(ns, "worker", 300, secrets_=["worker-token"])
    seed.legacy_token(ns, "worker-token", "worker", 200, token=token)
    seed.flush()
    cluster.http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("api", "worker", "worker-token"))
    cluster.http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("other", "worker", "unrelated"))
    uid = f"k8s:{CONTEXT}:ns/{ns}:sa/worker"
    cred = Credential(
        uid=f"{uid}:legacy-token/worker-token",
        kind="k8s-legacy-token",
        id="worker-token",
        static=True,
        last_used_source="label:kubernetes.io/legacy-token-last-used",
    )
    identity = Identity(
        uid=uid, provider="kubernetes", kind="k8s-service-account", scope=CONTEXT, name="worker", credentials=[cred]
    )
    report, fid = report_for(identity, cred, "static-credential", {})
    return Legacy(ns, token, cred, identity, report, fid)


def volumes(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    obj = cluster.http("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}").json()
    return list(obj["spec"]["template"]["spec"]["volumes"])


def test_workload_mounting_the_legacy_token_gets_a_projected_token_volume(
    cluster: Cluster, legacy: Legacy, tmp_path: Path
) -> None:
    plan = make_migrate_plan(legacy.request())
    cluster.server.clear_log()
    result = Engine(plan, tmp_path / "j.jsonl").apply()
    assert result.ran == ["t1.project-deployment-api", "t1.consumer", "t1.verify"]
    writes = [(r.method, r.resource or r.path) for r in cluster.server.requests if r.method != "GET"]
    assert writes == [("PATCH", "deployments")]
    config, token = volumes(cluster, legacy.ns, "api")
    assert config == {"name": "config", "configMap": {"name": "app"}}
    assert token["name"] == "sa-token" and "secret" not in token
    sources = token["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    assert {"key": "ca.crt", "path": "ca.crt"} in sources[1]["configMap"]["items"]
    assert volumes(cluster, legacy.ns, "other")[1] == {"name": "sa-token", "secret": {"secretName": "unrelated"}}
    (out,) = consumer_outputs(plan)
    doc = yaml.safe_load(out["snippet"])
    assert doc["projectedVolume"]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert f"kubectl create token worker -n {legacy.ns}" in doc["externalConsumers"]
    # the legacy token still works until the final stages
    assert cluster.http("GET", "/api/v1/namespaces", token=legacy.token).status_code != 401
    assert legacy.token not in plan.to_json() and legacy.token not in (tmp_path / "j.jsonl").read_text()


def test_reapplying_changes_nothing_and_rollback_restores_the_secret_volume(
    cluster: Cluster, legacy: Legacy, tmp_path: Path
) -> None:
    before = volumes(cluster, legacy.ns, "api")
    plan = make_migrate_plan(legacy.request())
    engine = Engine(plan, tmp_path / "j.jsonl")
    engine.apply()
    after = volumes(cluster, legacy.ns, "api")
    assert engine.apply().ran == []
    engine.rollback()
    assert volumes(cluster, legacy.ns, "api") == before
    assert after != before


def test_a_workload_edited_after_planning_is_not_clobbered(cluster: Cluster, legacy: Legacy, tmp_path: Path) -> None:
    plan = make_migrate_plan(legacy.request())
    patch = [{"op": "replace", "path": "/spec/template/spec/volumes/1/secret/secretName", "value": "worker-token-2"}]
    r = httpx.patch(
        f"{cluster.server.url}/apis/apps/v1/namespaces/{legacy.ns}/deployments/api",
        json=patch,
        headers={"Authorization": f"Bearer {cluster.admin}", "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200
    with pytest.raises(StateChanged):
        Engine(plan, tmp_path / "j.jsonl").apply()
    assert volumes(cluster, legacy.ns, "api")[1]["secret"]["secretName"] == "worker-token-2"


def test_a_workload_reading_the_token_from_env_blocks_the_plan(cluster: Cluster, legacy: Legacy) -> None:
    dep = deployment("envy", "worker", "none")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "worker-token", "key": "token"}}}
    ]
    cluster.http("POST", f"/apis/apps/v1/namespaces/{legacy.ns}/deployments", dep)
    with pytest.raises(PlanError, match="Deployment/envy reads it through env"):
        make_migrate_plan(legacy.request())


def _fresh(legacy: Legacy, tmp_path: Path, *, last_used: datetime, as_of: datetime) -> str:
    cred = legacy.cred.model_copy(update={"last_used_at": last_used})
    report = Report(
        scan=ScanInfo(id="later", started_at=as_of, finished_at=as_of, as_of=as_of),
        identities=[legacy.identity.model_copy(update={"credentials": [cred]})],
    )
    path = tmp_path / f"fresh-{uuid.uuid4().hex[:4]}.json"
    path.write_text(report.to_json())
    return str(path)


def test_legacy_token_is_invalidated_reversibly_then_deleted_when_unused(
    cluster: Cluster, legacy: Legacy, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    plan = make_migrate_plan(legacy.request())
    journal = tmp_path / "j.jsonl"
    Engine(plan, journal, now=start).apply()
    later = start + timedelta(days=8)
    env = {
        **os.environ,
        "NHIWARDEN_FRESH_REPORT": _fresh(legacy, tmp_path, last_used=start - timedelta(days=2), as_of=later),
    }
    assert Engine(plan, journal, now=later, env=env).apply("deactivate").ran == ["t1.deactivate"]
    labels = cluster.http("GET", f"/api/v1/namespaces/{legacy.ns}/secrets/worker-token").json()["metadata"]["labels"]
    assert labels["kubernetes.io/legacy-token-invalid-since"] == later.date().isoformat()
    assert cluster.http("GET", "/api/v1/namespaces", token=legacy.token).status_code == 401
    Engine(plan, journal, now=later + timedelta(days=8), env=env).apply("delete")
    assert cluster.http("GET", f"/api/v1/namespaces/{legacy.ns}/secrets/worker-token").status_code == 404
