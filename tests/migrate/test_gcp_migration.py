"""Migrating a GCP service-account key to Workload Identity Federation, against the sandbox fake.

The shared fake serves the read APIs a scan needs; this module adds, in the test process, the REST
endpoints a migration writes (workload identity pools and providers, service-account getIamPolicy /
setIamPolicy with etags) to the same server and store, so requests and end state are asserted.
"""

from __future__ import annotations

import json
import os
import re
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
POOLS = re.compile(r"^/v1/projects/(?P<n>\d+)/locations/global/workloadIdentityPools(?:/(?P<pool>[^/]+))?$")
PROVIDERS = re.compile(
    r"^/v1/projects/(?P<n>\d+)/locations/global/workloadIdentityPools/(?P<pool>[^/]+)/providers(?:/(?P<id>[^/]+))?$"
)
SA_POLICY = re.compile(
    r"^/v1/projects/(?P<p>[^/]+)/serviceAccounts/(?P<email>[^/:]+):(?P<verb>getIamPolicy|setIamPolicy)$"
)


@dataclass
class Gcp:
    fake: Any
    credentials: Path
    wif: dict[str, dict[str, Any]]


def extend(fake: Any, wif: dict[str, dict[str, Any]]) -> None:
    from nhiwarden.sandbox.gcp.errors import ApiError, not_found
    from nhiwarden.sandbox.gcp.store import Binding

    base = fake.rest.httpd.RequestHandlerClass
    store = fake.store

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
            if (m := PROVIDERS.match(path)) or (m := POOLS.match(path)):
                is_provider = "id" in m.groupdict()
                child = m["id"] if is_provider else m["pool"]
                if method == "POST" and child is None:
                    new_id = query["workloadIdentityPoolProviderId" if is_provider else "workloadIdentityPoolId"]
                    name = f"{path[len('/v1/') :]}/{new_id}"
                    if name in wif:
                        raise ApiError(409, f"Requested entity already exists: {name}")
                    wif[name] = {"name": name, "state": "ACTIVE", **(body or {})}
                    return {"name": f"{name}/operations/op-1", "done": True, "response": wif[name]}
                name = path[len("/v1/") :]
                if name not in wif:
                    raise not_found(f"Requested entity was not found: {name}")
                if method == "DELETE":
                    wif.pop(name)
                    for other in [k for k in wif if k.startswith(name + "/")]:
                        wif.pop(other)
                    return {"name": f"{name}/operations/op-2", "done": True}
                return dict(wif[name])
            if method == "POST" and (m := SA_POLICY.match(path)):
                with store.lock:
                    account = store.projects[m["p"]].accounts[m["email"]]
                    etag = f"BwX{len(json.dumps([b.to_json() for b in account.policy])):06d}"
                    if m["verb"] == "setIamPolicy":
                        policy = (body or {})["policy"]
                        if policy.get("etag") not in (None, etag):
                            raise ApiError(409, "There were concurrent policy changes.")
                        account.policy = [Binding(b["role"], list(b["members"])) for b in policy.get("bindings", [])]
                        etag = f"BwX{len(json.dumps([b.to_json() for b in account.policy])):06d}"
                    out: dict[str, Any] = {"version": 1, "etag": etag}
                    if account.policy:
                        out["bindings"] = [b.to_json() for b in account.policy]
                    return out
            return dict(super()._route(method, path, query, body))

    fake.rest.httpd.RequestHandlerClass = Handler


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcp]:
    from nhiwarden.sandbox.gcp.fake import FakeGcp
    from nhiwarden.sandbox.gcp.store import Project, Store

    store = Store()
    store.add_project(Project(project_id=PROJECT, number=NUMBER, parent="organizations/1"))
    fake = FakeGcp(store)
    wif: dict[str, dict[str, Any]] = {}
    extend(fake, wif)
    with fake:
        creds = fake.write_credentials(tmp_path_factory.mktemp("gcp-migrate") / "scanner.json")
        yield Gcp(fake, creds, wif)


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
    gcp.wif.clear()
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
    assert account.policy() == []


def test_a_failed_verification_rolls_everything_back(account: Account, tmp_path: Path) -> None:
    plan = make_migrate_plan(account.request())
    with pytest.raises(StepFailed):
        Engine(plan, tmp_path / "j.jsonl", env={**os.environ, "NHIWARDEN_FAULT": "t1.verify:before:fail"}).apply()
    assert account.gcp.wif == {} and account.policy() == []


def test_an_existing_provider_with_another_condition_is_never_changed(account: Account) -> None:
    account.gcp.wif[POOL] = {"name": POOL, "state": "ACTIVE"}
    account.gcp.wif[PROVIDER] = {
        "name": PROVIDER,
        "state": "ACTIVE",
        "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
        "attributeMapping": {"google.subject": "assertion.sub"},
    }
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
