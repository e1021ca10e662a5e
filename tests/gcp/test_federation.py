"""Workload Identity Federation discovery: pools, providers and the trusts they give service accounts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.config import Config
from nhiwarden.findings import Finding, Severity
from nhiwarden.model import Inventory, Scope, ScopeResult
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.providers.gcp.trust import trust_for_member
from nhiwarden.rules.builtin.federation import judge
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.gcp import (
    Binding,
    FakeGcp,
    Project,
    SeededOrg,
    ServiceAccount,
    Store,
    WorkloadIdentityPool,
    WorkloadIdentityPoolProvider,
)

from .conftest import NOW, Sleeps, discover

PAY = "acme-payments-prod"
PAY_NUMBER = "481529637201"
GITHUB = "https://token.actions.githubusercontent.com"
RULE = "federation-trust-too-broad"


def sa(name: str, project: str = PAY) -> str:
    return f"{name}@{project}.iam.gserviceaccount.com"


def scan_project(settings: dict[str, Any], project: str = PAY) -> ScopeResult:
    provider = GcpProvider({**settings, "organization": None, "projects": [project]}, as_of=NOW, sleep=Sleeps())
    try:
        return discover(provider, Scope(provider="gcp", id=project))
    finally:
        provider.close()


def federation_findings(result: ScopeResult) -> list[Finding]:
    return [f for f in evaluate(Inventory(scopes=[result]), as_of=NOW, config=Config()) if f.rule_id == RULE]


@pytest.fixture(scope="module")
def pay(fake: FakeGcp, key_file: Path, org: SeededOrg) -> ScopeResult:
    return scan_project(fake.settings(key_file))


def test_pools_and_providers_cost_one_listing_per_project_and_one_per_pool(pay: ScopeResult) -> None:
    assert pay.status == "ok" and pay.missing == []
    assert pay.api_calls["ListWorkloadIdentityPools"] == 1
    assert pay.api_calls["ListWorkloadIdentityPoolProviders"] == 2
    assert pay.attributes["workload_identity_pools"] == 2


def test_provider_without_condition_reached_through_the_whole_pool_is_flagged_high(pay: ScopeResult) -> None:
    deployer = next(i for i in pay.identities if i.name == sa("gh-actions-deployer"))
    [trust] = deployer.trusts
    assert trust.issuer == GITHUB and trust.expression is None and trust.subjects is None
    assert trust.conditions == {}
    assert trust.audiences == [
        f"//iam.googleapis.com/projects/{PAY_NUMBER}/locations/global/workloadIdentityPools/github-ci/providers/github-any"
    ]
    assert trust.attributes["member"].endswith("/workloadIdentityPools/github-ci/*")
    assert trust.attributes["attribute_mapping"]["attribute.repository"] == "assertion.repository"
    [finding] = [f for f in federation_findings(pay) if f.identity.name == sa("gh-actions-deployer")]
    assert finding.severity == Severity.HIGH
    assert "attributeCondition" in finding.message and GITHUB in finding.message


def test_provider_with_condition_and_a_pinned_member_is_not_flagged(pay: ScopeResult) -> None:
    release = next(i for i in pay.identities if i.name == sa("gh-release"))
    [trust] = release.trusts
    assert trust.expression == "assertion.repository == 'acme/payments' && assertion.ref == 'refs/heads/main'"
    assert trust.conditions == {"repository": ["acme/payments"]}
    assert trust.audiences == ["https://github.com/acme"]
    assert [f.identity.name for f in federation_findings(pay)] == [sa("gh-actions-deployer")]


def test_accounts_without_pool_members_have_no_trusts(pay: ScopeResult) -> None:
    trusted = {i.name for i in pay.identities if i.trusts}
    assert trusted == {sa("gh-actions-deployer"), sa("gh-release")}


@pytest.mark.parametrize("status", [403, 404])
def test_unreadable_pools_api_makes_the_scope_partial_not_an_error(fake: FakeGcp, key_file: Path, status: int) -> None:
    fake.store.inject(f"/v1/projects/{PAY}/locations/global/workloadIdentityPools", status)
    result = scan_project(fake.settings(key_file))
    assert result.status == "partial"
    [missing] = result.missing
    assert missing.startswith("federation: workload identity pools unavailable (")
    assert all(not i.trusts for i in result.identities)
    assert "ListWorkloadIdentityPoolProviders" not in result.api_calls
    assert len(result.identities) == 11  # everything else was discovered


def test_denied_pools_permission_is_named_in_the_partial_signal(fake: FakeGcp, key_file: Path) -> None:
    project = fake.store.projects[PAY]
    project.pools_denied = True
    try:
        result = scan_project(fake.settings(key_file))
    finally:
        project.pools_denied = False
    assert result.status == "partial"
    assert "iam.workloadIdentityPools.list" in result.missing[0]


def test_unreadable_providers_of_one_pool_make_the_scope_partial_and_keep_the_other_pools_trusts(
    fake: FakeGcp, key_file: Path
) -> None:
    fake.store.inject("/workloadIdentityPools/github-ci/providers", 403)
    result = scan_project(fake.settings(key_file))
    assert result.status == "partial"
    [missing] = result.missing
    assert missing.startswith("federation: providers of 1 workload identity pool(s) unavailable (")
    assert "github-ci" in missing
    trusted = {i.name for i in result.identities if i.trusts}
    assert trusted == {sa("gh-release")}


def test_attribute_member_values_are_literal_so_a_star_is_not_a_wildcard() -> None:
    provider = {
        "name": f"projects/{PAY_NUMBER}/locations/global/workloadIdentityPools/github-ci/providers/github-any",
        "state": "ACTIVE",
        "attributeMapping": {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository"},
        "oidc": {"issuerUri": GITHUB},
    }
    pool = f"projects/{PAY_NUMBER}/locations/global/workloadIdentityPools/github-ci"
    star = trust_for_member(provider, f"principalSet://iam.googleapis.com/{pool}/attribute.repository/*")
    assert star is not None and star.conditions == {"repository": ["*"]} and star.attributes["exact_conditions"]
    assert judge(star) is None
    whole = trust_for_member(provider, f"principalSet://iam.googleapis.com/{pool}/*")
    assert whole is not None and judge(whole) is not None


# --- pools of other projects, disabled pools ---------------------------------------------------------

APP, APP_NUMBER = "acme-app", "300000000001"
HUB, HUB_NUMBER = "acme-identity-hub", "300000000002"


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeGcp, dict[str, Any]]]:
    store = Store()
    app = store.add_project(Project(APP, APP_NUMBER, "organizations/1"))
    hub = store.add_project(Project(HUB, HUB_NUMBER, "organizations/1"))
    shared = hub.add_pool(WorkloadIdentityPool("shared-ci"))
    shared.add(
        WorkloadIdentityPoolProvider(
            "gitlab", attribute_mapping={"google.subject": "assertion.sub"}, oidc={"issuerUri": "https://gitlab.com"}
        )
    )
    off = app.add_pool(WorkloadIdentityPool("retired", disabled=True))
    off.add(
        WorkloadIdentityPoolProvider(
            "github", attribute_mapping={"google.subject": "assertion.sub"}, oidc={"issuerUri": GITHUB}
        )
    )
    gone = app.add_pool(WorkloadIdentityPool("gone", state="DELETED", expire_time=NOW + timedelta(days=20)))
    gone.add(
        WorkloadIdentityPoolProvider(
            "github", attribute_mapping={"google.subject": "assertion.sub"}, oidc={"issuerUri": GITHUB}
        )
    )
    for n in range(3):  # more pools than one 2-item page
        app.add_pool(WorkloadIdentityPool(f"unused-{n}"))
    runner = app.add(ServiceAccount(sa("runner", APP), "100000000000000000001", last_authenticated=NOW))
    runner.policy.append(
        Binding(
            "roles/iam.serviceAccountTokenCreator",
            [
                f"principalSet://iam.googleapis.com/{hub.pool_name('shared-ci')}/*",
                f"principalSet://iam.googleapis.com/{app.pool_name('retired')}/*",
                f"principalSet://iam.googleapis.com/{app.pool_name('gone')}/*",
                f"principalSet://iam.googleapis.com/{app.pool_name('never-existed')}/*",
            ],
        )
    )
    other = app.add(ServiceAccount(sa("other", APP), "100000000000000000002", last_authenticated=NOW))
    other.policy.append(
        Binding("roles/iam.workloadIdentityUser", [f"principalSet://iam.googleapis.com/{hub.pool_name('shared-ci')}/*"])
    )
    with FakeGcp(store) as server:
        creds = server.write_credentials(tmp_path_factory.mktemp("cross") / "key.json")
        yield server, server.settings(creds)


def test_pool_of_another_project_is_read_once_and_disabled_or_deleted_pools_grant_nothing(
    cross: tuple[FakeGcp, dict[str, Any]],
) -> None:
    _fake, settings = cross
    result = scan_project(settings, APP)
    assert result.status == "ok", result.missing
    assert result.api_calls["ListWorkloadIdentityPools"] == 2  # 4 active pools (the deleted one hidden), pages of 2
    # 4 active pools of this project, plus the other project's pool once for both accounts
    assert result.api_calls["ListWorkloadIdentityPoolProviders"] == 4 + 1
    runner = next(i for i in result.identities if i.name == sa("runner", APP))
    issuers = sorted((t.issuer, bool(t.attributes.get("disabled"))) for t in runner.trusts)
    assert issuers == [("https://gitlab.com", False), (GITHUB, True)]
    flagged = {f.identity.name for f in federation_findings(result)}
    assert flagged == {sa("runner", APP), sa("other", APP)}
    [finding] = [f for f in federation_findings(result) if f.identity.name == sa("runner", APP)]
    assert "gitlab.com" in finding.message and "more trust" not in finding.message
