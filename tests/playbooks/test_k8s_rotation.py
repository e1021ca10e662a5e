"""Replacing a legacy service-account token by a bound TokenRequest token, against the fake kube-apiserver."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, PlanRequest, StateChanged, StepFailed, connections, make_plan
from nhiwarden.report import Report, ScanInfo

CONTEXT = "fake"
CLOCK = {"now": datetime.now(UTC)}


@dataclass
class Cluster:
    server: Any
    kubeconfig: Path
    admin: str

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        return httpx.get(f"{self.server.url}{path}", headers={"Authorization": f"Bearer {token or self.admin}"})


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


@dataclass
class Target:
    ns: str
    token: str
    finding: Finding
    report: Report


@pytest.fixture
def target(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Target:
    from nhiwarden.sandbox.kubernetes.estate import Seeder

    CLOCK["now"] = datetime.now(UTC)
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    ns = f"pay-{uuid.uuid4().hex[:6]}"
    token = "legacy-canary-" + uuid.uuid4().hex
    seed = Seeder(cluster.server.store, datetime.now(UTC))
    seed.namespace(ns)
    seed.service_account(ns, "worker", 300, secrets_=["worker-token"])
    seed.legacy_token(ns, "worker-token", "worker", 200, token=token)
    seed.flush()
    uid = f"k8s:{CONTEXT}:ns/{ns}:sa/worker"
    cred = Credential(uid=f"{uid}:legacy-token/worker-token", kind="k8s-legacy-token", id="worker-token", static=True)
    identity = Identity(
        uid=uid, provider="kubernetes", kind="k8s-service-account", scope=CONTEXT, name="worker", credentials=[cred]
    )
    finding = Finding(
        id=fingerprint("static-credential", uid, cred.uid),
        rule_id="static-credential",
        severity=Severity.MEDIUM,
        title="static",
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred),
        message="legacy token",
    )
    now = datetime.now(UTC)
    report = Report(
        scan=ScanInfo(id="s", started_at=now, finished_at=now, as_of=now), identities=[identity], findings=[finding]
    )
    return Target(ns, token, finding, report)


def plan_for(t: Target, deliver: str | None = None) -> Any:
    return make_plan(
        PlanRequest(
            playbook="rotate",
            report=t.report,
            finding_ids=[t.finding.id],
            deliver=deliver or f"k8s-secret:{t.ns}/worker-credentials",
            connections=connections(t.report, dict(os.environ)),
        )
    )


def secret(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    r = cluster.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    return r.json() if r.status_code == 200 else None


def decoded(obj: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


def test_rotation_delivers_a_bound_token_and_invalidates_the_legacy_one(
    cluster: Cluster, target: Target, tmp_path: Path
) -> None:
    plan = plan_for(target)
    cluster.server.clear_log()

    result = Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()

    assert result.ran == ["t1.create", "t1.deliver", "t1.verify", "t1.deactivate"]
    writes = [(r.method, r.resource or r.path) for r in cluster.server.requests if r.method != "GET"]
    assert writes == [
        ("POST", "secrets"),  # the Opaque Secret the new token is bound to
        ("POST", "serviceaccounts/token"),  # TokenRequest
        ("POST", "secrets"),  # delivery
        ("POST", "tokenreviews"),  # verification: TokenReview
        ("PATCH", "secrets"),  # legacy-token-invalid-since on the old token
    ]
    delivered = decoded(secret(cluster, target.ns, "worker-credentials") or {})
    bound = secret(cluster, target.ns, delivered["token_ref"])
    assert bound is not None and bound["type"] == "Opaque"
    claims = json.loads(base64.urlsafe_b64decode(delivered["token"].split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{target.ns}:worker"
    old = secret(cluster, target.ns, "worker-token") or {}
    assert "kubernetes.io/legacy-token-invalid-since" in old["metadata"]["labels"]
    assert cluster.get("/api/v1/namespaces", token=target.token).status_code == 401
    journal = (tmp_path / "j").read_text()
    assert delivered["token"] not in journal and target.token not in journal


def test_legacy_token_is_deleted_only_after_the_hold_and_only_if_unused(
    cluster: Cluster, target: Target, tmp_path: Path
) -> None:
    plan = plan_for(target)
    now = datetime.now(UTC)
    Engine(plan, tmp_path / "j", now=now).apply()
    CLOCK["now"] = now + timedelta(days=2)
    assert cluster.get("/api/v1/namespaces", token=target.token).status_code == 401  # a consumer still tries it

    with pytest.raises(StateChanged, match="no use since"):
        Engine(plan, tmp_path / "j", now=now + timedelta(days=8)).apply(stage="delete")
    assert secret(cluster, target.ns, "worker-token") is not None


def test_unused_legacy_token_is_deleted_in_the_delete_stage(cluster: Cluster, target: Target, tmp_path: Path) -> None:
    plan = plan_for(target)
    now = datetime.now(UTC)
    Engine(plan, tmp_path / "j", now=now).apply()

    assert Engine(plan, tmp_path / "j", now=now + timedelta(days=8)).apply(stage="delete").ran == ["t1.delete"]
    assert secret(cluster, target.ns, "worker-token") is None


def test_failed_verification_revokes_the_new_token_and_restores_everything(
    cluster: Cluster, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_for(target)
    monkeypatch.setenv("NHIWARDEN_FAULT", "t1.verify:before:fail")

    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j").apply()

    names = [s["metadata"]["name"] for s in cluster.get(f"/api/v1/namespaces/{target.ns}/secrets").json()["items"]]
    assert sorted(names) == ["worker-token"]
    old = secret(cluster, target.ns, "worker-token") or {}
    assert "kubernetes.io/legacy-token-invalid-since" not in (old["metadata"].get("labels") or {})
    assert cluster.get("/api/v1/namespaces", token=target.token).status_code == 200


def test_verification_fails_closed_when_token_review_is_forbidden(
    cluster: Cluster, target: Target, tmp_path: Path
) -> None:
    plan = plan_for(target)
    cluster.server.deny("create", "tokenreviews")
    try:
        with pytest.raises(StepFailed, match="TokenReview is forbidden"):
            Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()
    finally:
        cluster.server.denied.clear()

    names = [s["metadata"]["name"] for s in cluster.get(f"/api/v1/namespaces/{target.ns}/secrets").json()["items"]]
    assert sorted(names) == ["worker-token"]  # the new token's bound Secret is gone: the token is revoked
    old = secret(cluster, target.ns, "worker-token") or {}
    assert "kubernetes.io/legacy-token-invalid-since" not in (old["metadata"].get("labels") or {})


def test_verification_records_the_token_review_in_the_journal(cluster: Cluster, target: Target, tmp_path: Path) -> None:
    plan = plan_for(target)

    Engine(plan, tmp_path / "j", sleep=lambda _s: None).apply()

    journal = (tmp_path / "j").read_text()
    assert '"verified_by":"TokenReview"' in journal and f"system:serviceaccount:{target.ns}:worker" in journal
    assert "jwt-claims" not in journal


def test_a_legacy_token_mounted_by_a_pod_is_not_planned(cluster: Cluster, target: Target) -> None:
    from nhiwarden.sandbox.kubernetes.estate import Seeder

    seed = Seeder(cluster.server.store, datetime.now(UTC))
    seed.pod(target.ns, "api-0", "worker", secret_volume="worker-token")
    seed.flush()

    with pytest.raises(PlanError, match="mounted by Pod/api-0"):
        plan_for(target)


def test_token_can_be_delivered_into_vault_kv(
    cluster: Cluster, target: Target, tmp_path: Path, cloud_env: dict[str, str], bao: Any
) -> None:
    path = f"k8s/{target.ns}/worker"
    plan = plan_for(target, deliver=f"vault-kv:secret/{path}")

    Engine(plan, tmp_path / "j").apply()

    r = httpx.get(f"{bao.addr}/v1/secret/data/{path}", headers={"X-Vault-Token": bao.root_token})
    data = r.json()["data"]["data"]
    assert data["token"].count(".") == 2 and secret(cluster, target.ns, data["token_ref"]) is not None


def offboard_plan(t: Target) -> Any:
    identity = t.report.identities[0]
    finding = Finding(
        id=fingerprint("dormant-identity", identity.uid),
        rule_id="dormant-identity",
        severity=Severity.MEDIUM,
        title="dormant",
        identity=IdentityRef.of(identity),
        message="unused for 200 days",
    )
    report = t.report.model_copy(update={"findings": [finding]})
    return make_plan(
        PlanRequest(
            playbook="offboard",
            report=report,
            finding_ids=[finding.id],
            connections=connections(report, dict(os.environ)),
        )
    )


def bindings(cluster: Cluster, ns: str) -> dict[str, list[str]]:
    out = {}
    for path in (
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    ):
        for item in cluster.get(path).json()["items"]:
            if item["metadata"]["name"].startswith(ns):
                out[item["metadata"]["name"]] = sorted(s["name"] for s in item.get("subjects") or [])
    return out


def test_offboarding_removes_only_the_accounts_bindings_and_rollback_restores_them(
    cluster: Cluster, target: Target, tmp_path: Path
) -> None:
    from nhiwarden.sandbox.kubernetes.estate import Seeder, sa_subject

    seed = Seeder(cluster.server.store, datetime.now(UTC))
    seed.service_account(target.ns, "other", 300)
    seed.binding(
        f"{target.ns}-shared", "edit", [sa_subject(target.ns, "worker"), sa_subject(target.ns, "other")], ns=target.ns
    )
    seed.binding(f"{target.ns}-admin", "cluster-admin", [sa_subject(target.ns, "worker")])
    seed.binding(f"{target.ns}-other", "view", [sa_subject(target.ns, "other")])
    seed.flush()
    before = bindings(cluster, target.ns)
    plan = offboard_plan(target)
    engine = Engine(plan, tmp_path / "j")

    assert engine.apply(stage="disable").ran == ["t1.disable"]
    assert bindings(cluster, target.ns) == {f"{target.ns}-shared": ["other"], f"{target.ns}-other": ["other"]}

    engine.rollback()
    assert bindings(cluster, target.ns) == before

    Engine(plan, tmp_path / "k").apply(stage="disable")
    Engine(plan, tmp_path / "k", now=datetime.now(UTC) + timedelta(days=8)).apply(stage="delete")
    assert cluster.get(f"/api/v1/namespaces/{target.ns}/serviceaccounts/worker").status_code == 404
