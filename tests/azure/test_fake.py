"""The fake Azure servers answer like Azure: auth, audiences, api-version, $select and paging."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.azure.conftest import Tenant


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=tenant.estate.settings["ca_bundle"])
    with httpx.Client(verify=ctx) as client:
        yield client


def _token(tenant: Tenant, http: httpx.Client, resource: str) -> str:
    seeded = tenant.seeded
    response = http.post(
        f"{tenant.fake.authority}/{seeded.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": seeded.scanner_client_id,
            "client_secret": seeded.scanner_secret,
            "scope": f"{resource}/.default",
        },
    )
    assert response.status_code == 200
    token: str = response.json()["access_token"]
    return token


def test_graph_without_a_bearer_token_is_401_with_the_graph_envelope(tenant: Tenant, http: httpx.Client) -> None:
    response = http.get(f"{tenant.fake.graph}/v1.0/applications")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_a_token_for_arm_is_rejected_by_graph(tenant: Tenant, http: httpx.Client) -> None:
    token = _token(tenant, http, tenant.fake.arm)
    response = http.get(f"{tenant.fake.graph}/v1.0/applications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid audience."


def test_arm_requires_api_version(tenant: Tenant, http: httpx.Client) -> None:
    token = _token(tenant, http, tenant.fake.arm)
    response = http.get(f"{tenant.fake.arm}/subscriptions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_unknown_select_field_is_a_graph_400(tenant: Tenant, http: httpx.Client) -> None:
    token = _token(tenant, http, tenant.fake.graph)
    response = http.get(
        f"{tenant.fake.graph}/v1.0/applications",
        params={"$select": "id,secretText"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "Could not find a property named 'secretText'" in response.json()["error"]["message"]


def test_graph_pages_with_an_absolute_next_link_and_projects_selected_fields(
    tenant: Tenant, http: httpx.Client
) -> None:
    token = _token(tenant, http, tenant.fake.graph)
    headers = {"Authorization": f"Bearer {token}"}
    url: str | None = f"{tenant.fake.graph}/v1.0/servicePrincipals?$select=id,appId"
    seen: list[dict[str, str]] = []
    while url:
        page = http.get(url, headers=headers).json()
        assert len(page["value"]) <= 2
        seen.extend(page["value"])
        url = page.get("@odata.nextLink")
        assert url is None or url.startswith(tenant.fake.graph)
    assert len(seen) == len(tenant.seeded.tenant.service_principals)
    assert all(set(item) == {"id", "appId"} for item in seen)


def test_unknown_tenant_and_wrong_secret_give_aadsts_errors(tenant: Tenant, http: httpx.Client) -> None:
    seeded = tenant.seeded
    form = {
        "grant_type": "client_credentials",
        "client_id": seeded.scanner_client_id,
        "client_secret": "not-the-secret",
        "scope": f"{tenant.fake.graph}/.default",
    }
    wrong = http.post(f"{tenant.fake.authority}/{seeded.tenant.tenant_id}/oauth2/v2.0/token", data=form)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    other = http.post(f"{tenant.fake.authority}/contoso.invalid/oauth2/v2.0/token", data=form)
    assert other.status_code == 400 and other.json()["error_codes"] == [90002]


def test_secret_values_are_never_served(tenant: Tenant, http: httpx.Client) -> None:
    token = _token(tenant, http, tenant.fake.graph)
    body = http.get(f"{tenant.fake.graph}/v1.0/applications", headers={"Authorization": f"Bearer {token}"}).text
    assert all(canary not in body for canary in tenant.seeded.canaries)
    assert '"secretText": null' in body
