"""Migrating a GCP service-account key to Workload Identity Federation, against the sandbox fake.

The shipped fake serves the REST endpoints a migration writes (workload identity pools and providers,
with Google's soft delete; service-account getIamPolicy / setIamPolicy with etags) over its store, so
requests and end state are asserted.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, StepFailed, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan
from nhiwarden.providers.gcp.trust import trust_for_member
from nhiwarden.rules.builtin.federation import judge

from .helpers import report_for

PROJECT = "acme-payments"
NUMBER = "123456789"


@dataclass
class Gcp:
    fake: Any
    credentials: Path

    @property
    def project(self) -> Any:
        return self.fake.store.projects[PROJECT]

    @property
    def wif(self) -> dict[str, dict[str, Any]]:
        """The live (not soft-deleted) pools and providers, by resource name, as the REST API shows them."""
        from nhiwarden.sandbox.gcp.wif_api import pool_json, provider_json

        out: dict[str, dict[str, Any]] = {}
        with self.fake.store.lock:
            for pool in self.project.pools.values():
                if pool.state != "ACTIVE":
                    continue
                out[self.project.pool_name(pool.pool_id)] = pool_json(self.project, pool)
                for provider in pool.providers.values():
                    if provider.state == "ACTIVE":
                        body = provider_json(self.project, pool, provider)
                        out[body["name"]] = body
        return out

    def deleted(self) -> list[str]:
        """Soft-deleted pools and providers (Google keeps them 30 days, their ids not reusable)."""
        with self.fake.store.lock:
            return sorted(
                [f"pool/{p.pool_id}" for p in self.project.pools.values() if p.state == "DELETED"]
                + [
                    f"provider/{p.pool_id}/{v.provider_id}"
                    for p in self.project.pools.values()
                    for v in p.providers.values()
                    if v.state == "DELETED"
                ]
            )


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcp]:
    from nhiwarden.sandbox.gcp.fake import FakeGcp
    from nhiwarden.sandbox.gcp.store import Project, Store

    store = Store()
    store.add_project(Project(project_id=PROJECT, number=NUMBER, parent="organizations/1"))
    with FakeGcp(store) as fake:
        creds = fake.write_credentials(tmp_path_factory.mktemp("gcp-migrate") / "scanner.json")
        yield Gcp(fake, creds)


@dataclass
class Account:
    email: str
    key_id: str
    gcp: Gcp
    report: Any
    finding_id: str

    def request(self, consumer: str = "github:acme/app@main", **extra: Any) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            consumer=consumer,
            connections=connections(self.report, dict(os.environ)),
            **extra,
        )

    def policy(self) -> list[dict[str, Any]]:
        store = self.gcp.fake.store
        with store.lock:
            return [b.to_json() for b in store.projects[PROJECT].accounts[self.email].policy]

    def writes(self) -> list[tuple[str, str]]:
        return [
            (r.method, r.path.split("/")[-1].split(":")[-1])
            for r in self.gcp.fake.store.log
            if r.api == "rest" and r.method != "GET" and not r.path.endswith(":getIamPolicy")
        ]


@pytest.fixture
def account(gcp: Gcp, monkeypatch: pytest.MonkeyPatch) -> Account:
    from nhiwarden.sandbox.gcp.store import Key, ServiceAccount

    monkeypatch.delenv("NHIWARDEN_FAULT", raising=False)
    with gcp.fake.store.lock:
        gcp.project.pools.clear()  # each test starts from a project without pools (none soft-deleted)
    email = f"ci-{uuid.uuid4().hex[:6]}@{PROJECT}.iam.gserviceaccount.com"
    key_id = uuid.uuid4().hex + "00000000"
    sa = ServiceAccount(email=email, unique_id=str(uuid.uuid4().int)[:21])
    sa.keys.append(Key(key_id=key_id, created=datetime.now(UTC) - timedelta(days=200)))
    with gcp.fake.store.lock:
        gcp.fake.store.projects[PROJECT].add(sa)
        gcp.fake.store.log.clear()
    uid = f"gcp:{PROJECT}:sa/{email}"
    cred = Credential(uid=f"{uid}:key/{key_id}", kind="gcp-sa-key", id=key_id, static=True)
    identity = Identity(
        uid=uid, provider="gcp", kind="gcp-service-account", scope=PROJECT, name=email, credentials=[cred]
    )
    report, fid = report_for(identity, cred, "static-credential", {"gcp": gcp.fake.settings(gcp.credentials)})
    return Account(email, key_id, gcp, report, fid)


POOL = f"projects/{NUMBER}/locations/global/workloadIdentityPools/nhiwarden-ci"
PROVIDER = f"{POOL}/providers/gh-acme-app"
MEMBER = f"principal://iam.googleapis.com/{POOL}/subject/repo:acme/app:ref:refs/heads/main"


def test_key_migrates_to_a_pool_provider_with_condition_and_one_principal_binding(
    account: Account, tmp_path: Path
) -> None:
    plan = make_migrate_plan(account.request())
    result = Engine(plan, tmp_path / "j.jsonl").apply()
    assert result.ran == ["t1.pool", "t1.provider", "t1.bind", "t1.verify", "t1.consumer"]
    provider = account.gcp.wif[PROVIDER]
    assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider["attributeCondition"] == "assertion.sub == 'repo:acme/app:ref:refs/heads/main'"
    assert account.policy() == [{"role": "roles/iam.workloadIdentityUser", "members": [MEMBER]}]
    trust = trust_for_member(provider, MEMBER)
    assert trust is not None and judge(trust) is None
    (out,) = consumer_outputs(plan)
    step = yaml.safe_load(out["snippet"])["jobs"]["deploy"]["steps"][0]
    assert step["with"] == {"workload_identity_provider": PROVIDER, "service_account": account.email}
    assert account.writes() == [("POST", "workloadIdentityPools"), ("POST", "providers"), ("POST", "setIamPolicy")]


def test_repository_consumer_binds_the_repository_principal_set(account: Account, tmp_path: Path) -> None:
    Engine(make_migrate_plan(account.request("github:acme/app")), tmp_path / "j.jsonl").apply()
    assert account.gcp.wif[PROVIDER]["attributeCondition"] == "assertion.repository == 'acme/app'"
    member = f"principalSet://iam.googleapis.com/{POOL}/attribute.repository/acme/app"
    assert account.policy() == [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]


def test_reapplying_changes_nothing_and_rollback_removes_binding_provider_and_pool(
    account: Account, tmp_path: Path
) -> None:
    plan = make_migrate_plan(account.request())
    engine = Engine(plan, tmp_path / "j.jsonl")
    engine.apply()
    again = make_migrate_plan(account.request())
    Engine(again, tmp_path / "j2.jsonl").apply()
    assert account.writes() == [("POST", "workloadIdentityPools"), ("POST", "providers"), ("POST", "setIamPolicy")]
    engine.rollback()
    assert account.gcp.wif == {}
    assert account.gcp.deleted() == ["pool/nhiwarden-ci", "provider/nhiwarden-ci/gh-acme-app"]
    assert account.policy() == []


def test_a_failed_verification_rolls_everything_back(account: Account, tmp_path: Path) -> None:
    plan = make_migrate_plan(account.request())
    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j.jsonl", env={**os.environ, "NHIWARDEN_FAULT": "t1.verify:before:fail"}).apply()
    assert account.gcp.wif == {} and account.policy() == []


def test_an_existing_provider_with_another_condition_is_never_changed(account: Account) -> None:
    from nhiwarden.sandbox.gcp.store import WorkloadIdentityPool, WorkloadIdentityPoolProvider

    pool = account.gcp.project.add_pool(WorkloadIdentityPool("nhiwarden-ci"))
    pool.add(
        WorkloadIdentityPoolProvider(
            "gh-acme-app",
            oidc={"issuerUri": "https://token.actions.githubusercontent.com"},
            attribute_mapping={"google.subject": "assertion.sub"},
        )
    )
    with pytest.raises(PlanError, match="exists with another issuer"):
        make_migrate_plan(account.request())


def test_plan_retires_the_key_only_in_separate_later_stages(account: Account) -> None:
    plan = make_migrate_plan(account.request())
    later = [(s.id, s.stage, s.manual, s.not_before) for s in plan.steps if s.manual]
    assert later == [
        ("t1.deactivate", "deactivate", True, {"after": "t1.verify", "days": 7}),
        ("t1.delete", "delete", True, {"after": "t1.deactivate", "days": 7}),
    ]
    assert plan.step("t1.deactivate").requires[0].observe == "usage.unused-in-report"


def test_applying_again_after_a_rollback_restores_the_soft_deleted_pool_and_provider(
    account: Account, tmp_path: Path
) -> None:
    plan = make_migrate_plan(account.request())
    engine = Engine(plan, tmp_path / "j.jsonl")
    engine.apply()
    engine.rollback()
    Engine(make_migrate_plan(account.request()), tmp_path / "j2.jsonl").apply()
    assert PROVIDER in account.gcp.wif


# -- GKE consumers: Workload Identity (no pool, one KSA member on the service account) ------------

GKE = "gke:acme-gke-prod/payments/api"
GKE_MEMBER = "serviceAccount:acme-gke-prod.svc.id.goog[payments/api]"


def test_gke_consumer_binds_exactly_its_kubernetes_service_account_and_creates_no_pool(
    account: Account, tmp_path: Path
) -> None:
    plan = make_migrate_plan(account.request(GKE))
    result = Engine(plan, tmp_path / "j.jsonl").apply()
    assert result.ran == ["t1.bind", "t1.verify", "t1.consumer"]
    assert account.policy() == [{"role": "roles/iam.workloadIdentityUser", "members": [GKE_MEMBER]}]
    assert account.gcp.wif == {} and account.gcp.deleted() == []
    assert account.writes() == [("POST", "setIamPolicy")]
    assert [s.id for s in plan.steps if s.manual] == ["t1.deactivate", "t1.delete"]


def test_gke_consumer_snippet_is_the_annotated_kubernetes_service_account(account: Account) -> None:
    (out,) = consumer_outputs(make_migrate_plan(account.request(GKE)))
    manifest = yaml.safe_load(out["snippet"])
    assert manifest == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "api",
            "namespace": "payments",
            "annotations": {"iam.gke.io/gcp-service-account": account.email},
        },
    }
    assert out["role_arn"] == account.email


def test_gke_reapply_changes_nothing_and_rollback_removes_only_that_member(account: Account, tmp_path: Path) -> None:
    from nhiwarden.sandbox.gcp.store import Binding

    other = "serviceAccount:acme-gke-prod.svc.id.goog[payments/worker]"
    with account.gcp.fake.store.lock:
        sa = account.gcp.project.accounts[account.email]
        sa.policy.append(Binding("roles/iam.workloadIdentityUser", [other]))
        account.gcp.fake.store.log.clear()
    engine = Engine(make_migrate_plan(account.request(GKE)), tmp_path / "j.jsonl")
    engine.apply()
    Engine(make_migrate_plan(account.request(GKE)), tmp_path / "j2.jsonl").apply()
    assert account.writes() == [("POST", "setIamPolicy")]
    assert account.policy() == [{"role": "roles/iam.workloadIdentityUser", "members": sorted([other, GKE_MEMBER])}]
    engine.rollback()
    assert account.policy() == [{"role": "roles/iam.workloadIdentityUser", "members": [other]}]


def test_gke_workload_identity_member_is_not_flagged_by_the_trust_audit(account: Account, tmp_path: Path) -> None:
    from nhiwarden.config import Config
    from nhiwarden.model import Inventory, ScopeResult
    from nhiwarden.providers.gcp import GcpProvider
    from nhiwarden.rules.builtin.federation import RULE_ID
    from nhiwarden.rules.engine import evaluate

    Engine(make_migrate_plan(account.request(GKE)), tmp_path / "j.jsonl").apply()
    now = datetime.now(UTC)
    provider = GcpProvider(account.gcp.fake.settings(account.gcp.credentials, projects=[PROJECT]), as_of=now)
    try:
        results = []
        for scope in provider.scopes():
            result = ScopeResult(provider="gcp", scope=scope.id, name=scope.name)
            provider.discover(scope, result)
            results.append(result)
    finally:
        provider.close()
    (sa,) = [i for r in results for i in r.identities if i.name == account.email]
    read = [
        (r.api, r.method) for r in account.gcp.fake.store.log if r.path.endswith(f"serviceAccounts/{account.email}")
    ]
    assert ("grpc", "GetIamPolicy") in read  # the scan saw the policy holding the GKE member
    assert sa.trusts == []
    findings = evaluate(Inventory(scopes=results), as_of=now, config=Config())
    assert [f for f in findings if f.rule_id == RULE_ID and f.identity.uid == sa.uid] == []


def test_gke_consumer_is_refused_for_targets_other_than_gcp_wif(account: Account) -> None:
    with pytest.raises(PlanError, match="gke: consumers"):
        make_migrate_plan(account.request(GKE, to="aws-role"))
