"""Which projects a scan covers (organisation, folder, explicit list) and the ``doctor`` checks."""

from __future__ import annotations

from typing import Any

import pytest
from nhiwarden.errors import ScopeError
from nhiwarden.model import Scope
from nhiwarden.providers.gcp import GcpProvider
from nhiwarden.sandbox.gcp import FakeGcp
from nhiwarden.sandbox.gcp.seed import PROD_FOLDER, TEAM_FOLDER

from .conftest import NOW, Sleeps


def scope_ids(settings: dict[str, Any]) -> list[str]:
    provider = GcpProvider(settings, as_of=NOW, sleep=Sleeps())
    try:
        return [s.id for s in provider.scopes()]
    finally:
        provider.close()


def test_folder_covers_projects_in_its_subfolders(settings: dict[str, Any]) -> None:
    base = {**settings, "organization": None}
    assert scope_ids({**base, "folder": PROD_FOLDER}) == ["acme-data-staging", "acme-payments-prod"]
    assert scope_ids({**base, "folder": f"folders/{TEAM_FOLDER}"}) == ["acme-payments-prod"]


def test_projects_with_an_organisation_scan_only_the_named_ones_with_their_ancestry(
    settings: dict[str, Any],
) -> None:
    provider = GcpProvider({**settings, "projects": ["acme-data-staging"]}, as_of=NOW)
    [scope] = provider.scopes()
    provider.close()
    assert scope.id == "acme-data-staging" and scope.params["number"] == "733018264159"
    assert scope.params["ancestors"] == ["folders/268401937755", "organizations/584732910456"]


def test_search_calls_are_paged_and_counted(settings: dict[str, Any]) -> None:
    provider = GcpProvider(settings, as_of=NOW)
    provider.scopes()
    provider.close()
    assert provider.listing_calls == {
        "SearchFolders": 1,
        "SearchProjects": 2,
    }  # 2 folders, 4 ACTIVE projects, pages of 2


def test_denied_project_search_fails_the_listing_with_a_permission_error(
    fake: FakeGcp, settings: dict[str, Any]
) -> None:
    fake.store.inject("/v3/projects:search", 403, times=1)
    provider = GcpProvider(settings, as_of=NOW, sleep=Sleeps())
    with pytest.raises(ScopeError) as err:
        provider.scopes()
    assert err.value.kind == "permission"
    assert "cannot search projects under organizations/584732910456" in err.value.reason


def test_doctor_reports_each_permission_per_project(settings: dict[str, Any]) -> None:
    provider = GcpProvider(settings, as_of=NOW, sleep=Sleeps())
    ok = {c.check: c.ok for c in provider.doctor(Scope(provider="gcp", id="acme-payments-prod"))}
    assert ok == {
        "credentials": True,
        "iam.serviceAccounts.list": True,
        "resourcemanager.projects.getIamPolicy": True,
        "iam.workloadIdentityPools.list": True,
        "policyanalyzer.serviceAccountLastAuthenticationActivities.query": True,
    }
    staging = {c.check: c for c in provider.doctor(Scope(provider="gcp", id="acme-data-staging"))}
    pa = staging["policyanalyzer.serviceAccountLastAuthenticationActivities.query"]
    assert not pa.ok and "SERVICE_DISABLED" not in pa.detail and "has not been used" in pa.detail
    denied = {c.check: c.ok for c in provider.doctor(Scope(provider="gcp", id="acme-sandbox-dev"))}
    assert denied["iam.serviceAccounts.list"] is False
    provider.close()
