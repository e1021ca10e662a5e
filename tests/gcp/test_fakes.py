"""The fakes answer real Google clients the way Google does: GAPIC REST and gRPC, paging, error shapes."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from nhiwarden.sandbox.gcp import FakeGcp, SeededOrg


@pytest.fixture(scope="module")
def creds(key_file: Path) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_file(
        str(key_file), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )


@pytest.fixture(scope="module")
def session(creds: service_account.Credentials) -> AuthorizedSession:
    return AuthorizedSession(creds)


def test_gapic_rest_resource_manager_client_pages_through_the_search(fake: FakeGcp, creds: object) -> None:
    from google.cloud import resourcemanager_v3

    client = resourcemanager_v3.ProjectsClient(
        credentials=creds, transport="rest", client_options={"api_endpoint": fake.rest.url}
    )
    fake.store.clear_log()
    projects = list(client.search_projects(request={"query": "state:ACTIVE"}))
    assert "acme-payments-prod" in {p.project_id for p in projects}
    assert all(p.state.name == "ACTIVE" for p in projects)
    assert len(fake.store.requests("rest", "/v3/projects:search")) > 1  # small pages, followed by the pager
    policy = client.get_iam_policy(
        request={"resource": "projects/acme-payments-prod", "options": {"requested_policy_version": 3}}
    )
    assert "roles/editor" in {b.role for b in policy.bindings}


def test_gapic_grpc_iam_client_lists_keys_without_exposure_fields(fake: FakeGcp, org: SeededOrg, creds: object) -> None:
    from google.cloud import iam_admin_v1
    from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
    from nhiwarden.providers.gcp.grpc_auth import AuthInterceptor

    def authorize(headers: dict[str, str]) -> None:
        creds.before_request(
            __import__("google.auth.transport.requests").auth.transport.requests.Request(), "POST", "x", headers
        )  # type: ignore[attr-defined]

    channel = grpc.intercept_channel(grpc.insecure_channel(fake.grpc.address), AuthInterceptor(authorize))
    client = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))
    name = "projects/acme-payments-prod/serviceAccounts/ci-deployer@acme-payments-prod.iam.gserviceaccount.com"
    keys = client.list_service_account_keys(name=name).keys
    assert org.keys["exposed"] in {k.name.rsplit("/", 1)[-1] for k in keys}
    assert {k.key_type.name for k in keys} == {"USER_MANAGED", "SYSTEM_MANAGED"}
    assert not hasattr(keys[0], "disable_reason")  # the reason the provider lists keys over REST
    accounts = list(client.list_service_accounts(request={"name": "projects/acme-payments-prod", "page_size": 100}))
    assert len(accounts) == 10  # the pager followed next_page_token across 2-item pages
    with pytest.raises(exceptions.PermissionDenied) as err:
        client.list_service_accounts(request={"name": "projects/acme-sandbox-dev"})
    assert err.value.reason == "IAM_PERMISSION_DENIED"
    channel.close()


def test_grpc_call_without_a_token_is_unauthenticated(fake: FakeGcp) -> None:
    from google.cloud import iam_admin_v1
    from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

    client = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=grpc.insecure_channel(fake.grpc.address)))
    with pytest.raises(exceptions.Unauthenticated):
        client.list_service_accounts(request={"name": "projects/acme-payments-prod"}, retry=None)


def test_rest_errors_use_the_google_envelope_and_429_carries_retry_after(
    fake: FakeGcp, session: AuthorizedSession
) -> None:
    url = (
        f"{fake.rest.url}/v1/projects/acme-payments-prod/locations/global/activityTypes/"
        "serviceAccountLastAuthentication/activities:query"
    )
    fake.store.inject("activities:query", 429, times=1, retry_after=9)
    throttled = session.get(url)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    assert throttled.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    disabled = session.get(url.replace("acme-payments-prod", "acme-data-staging"))
    body = disabled.json()["error"]
    assert disabled.status_code == 403 and body["status"] == "PERMISSION_DENIED"
    assert body["details"][0]["reason"] == "SERVICE_DISABLED"
    fake.store.inject("activities:query", 503, times=1)
    assert session.get(url).json()["error"]["status"] == "UNAVAILABLE"
    missing = session.get(f"{fake.rest.url}/v1/projects/acme-payments-prod/serviceAccounts/nobody@x.com/keys")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    assert requests.get(url, timeout=5).status_code == 401  # no token


def test_activity_filter_selects_one_account_and_page_size_is_capped(fake: FakeGcp, session: AuthorizedSession) -> None:
    base = f"{fake.rest.url}/v1/projects/acme-payments-prod/locations/global/activityTypes"
    name = (
        "//iam.googleapis.com/projects/acme-payments-prod/serviceAccounts/"
        "token-broker@acme-payments-prod.iam.gserviceaccount.com"
    )
    one = session.get(
        f"{base}/serviceAccountLastAuthentication/activities:query",
        params={"filter": f'activities.full_resource_name="{name}"'},
    ).json()
    assert [a["fullResourceName"] for a in one["activities"]] == [name]
    assert one["activities"][0]["activity"]["serviceAccount"]["projectNumber"] == "481529637201"
    assert (
        session.get(f"{base}/serviceAccountLastAuthentication/activities:query", params={"pageSize": 1001}).status_code
        == 400
    )


def test_conditional_policy_needs_version_3(fake: FakeGcp, session: AuthorizedSession) -> None:
    url = f"{fake.rest.url}/v3/projects/acme-payments-prod:getIamPolicy"
    assert session.post(url, json={}).status_code == 400
    assert session.post(url, json={"options": {"requestedPolicyVersion": 3}}).json()["version"] == 3
