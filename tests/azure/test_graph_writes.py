"""The fake Graph's writes answer like Graph: client secrets, federated credentials, disabling a service principal.

Each test drives the HTTPS fake with httpx and the token authority's client-credentials flow, and pins
one behaviour the playbooks rely on: status codes, Graph error bodies, authorization by application
permission or ownership, and the token authority honouring the app's current secrets.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nhiwarden.sandbox.azure.estate import NewApp, add_application, grant_graph_permission

from tests.azure.conftest import Tenant

GH = "https://token.actions.githubusercontent.com"
AUD = ["api://AzureADTokenExchange"]


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=tenant.estate.settings["ca_bundle"])
    with httpx.Client(verify=ctx) as client:
        yield client


def token_response(tenant: Tenant, http: httpx.Client, client_id: str, secret: str, resource: str) -> httpx.Response:
    return http.post(
        f"{tenant.fake.authority}/{tenant.seeded.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": f"{resource}/.default",
        },
    )


def bearer(tenant: Tenant, http: httpx.Client, client_id: str, secret: str) -> dict[str, str]:
    response = token_response(tenant, http, client_id, secret, tenant.fake.graph)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin(tenant: Tenant, http: httpx.Client) -> dict[str, str]:
    """The scanner app, granted Application.ReadWrite.All (as a playbook runner would be)."""
    seeded = tenant.seeded
    grant_graph_permission(seeded.tenant, seeded.sp_ids["nhiwarden-scanner"], "Application.ReadWrite.All")
    return bearer(tenant, http, seeded.scanner_client_id, seeded.scanner_secret)


def new_app(tenant: Tenant, name: str, **kwargs: Any) -> NewApp:
    return add_application(tenant.seeded.tenant, name, secret_start=datetime.now(UTC) - timedelta(days=10), **kwargs)


def url(tenant: Tenant, path: str) -> str:
    return f"{tenant.fake.graph}/v1.0/{path}"


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"code", "message", "innerError"} and "request-id" in body["innerError"]
    return body


def test_add_password_returns_the_secret_once_and_it_gets_a_token(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    app = new_app(tenant, "rotating")

    response = http.post(
        url(tenant, f"applications/{app.object_id}/addPassword"),
        json={"passwordCredential": {"displayName": "rotated", "endDateTime": "2099-01-01T00:00:00Z"}},
        headers=admin,
    )

    assert response.status_code == 200
    made = response.json()
    assert made["displayName"] == "rotated" and made["endDateTime"] == "2099-01-01T00:00:00Z"
    assert len(made["secretText"]) == 40 and made["hint"] == made["secretText"][:3]
    listed = http.get(url(tenant, "applications?$select=id,appId,passwordCredentials&$top=999"), headers=admin)
    apps = listed.json()["value"]
    while "@odata.nextLink" in listed.json():
        listed = http.get(listed.json()["@odata.nextLink"], headers=admin)
        apps += listed.json()["value"]
    mine = next(a for a in apps if a["id"] == app.object_id)
    assert {p["keyId"] for p in mine["passwordCredentials"]} == {app.key_id, made["keyId"]}
    assert made["secretText"] not in listed.text and all(p["secretText"] is None for p in mine["passwordCredentials"])
    assert token_response(tenant, http, app.app_id, made["secretText"], tenant.fake.graph).status_code == 200
    assert token_response(tenant, http, app.app_id, app.secret, tenant.fake.graph).status_code == 200


def test_add_password_defaults_to_two_years_and_rejects_an_end_before_the_start(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    app = new_app(tenant, "defaults")
    path = url(tenant, f"applications/{app.object_id}/addPassword")

    made = http.post(path, json={"passwordCredential": {"displayName": "d"}}, headers=admin).json()
    bad = http.post(
        path,
        json={"passwordCredential": {"startDateTime": "2030-01-02T00:00:00Z", "endDateTime": "2030-01-01T00:00:00Z"}},
        headers=admin,
    )

    start = datetime.fromisoformat(made["startDateTime"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(made["endDateTime"].replace("Z", "+00:00")) - start == timedelta(days=730)
    assert bad.status_code == 400 and error(bad)["code"] == "Request_BadRequest"
    assert "endDateTime" in error(bad)["message"]


def test_removed_secret_no_longer_gets_a_token_and_removing_it_again_is_a_400(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    app = new_app(tenant, "removing")
    path = url(tenant, f"applications/{app.object_id}/removePassword")

    removed = http.post(path, json={"keyId": app.key_id}, headers=admin)
    again = http.post(path, json={"keyId": app.key_id}, headers=admin)

    assert removed.status_code == 204 and removed.content == b""
    denied = token_response(tenant, http, app.app_id, app.secret, tenant.fake.graph)
    assert denied.status_code == 401 and denied.json()["error_codes"] == [7000215]
    assert again.status_code == 400 and error(again)["code"] == "Request_BadRequest"
    assert "No credential found" in error(again)["message"]


def test_expired_secret_is_refused_by_the_token_authority(tenant: Tenant, http: httpx.Client) -> None:
    now = datetime.now(UTC)
    app = add_application(
        tenant.seeded.tenant, "expired", secret_start=now - timedelta(days=400), secret_end=now - timedelta(days=1)
    )

    response = token_response(tenant, http, app.app_id, app.secret, tenant.fake.graph)

    assert response.status_code == 401 and response.json()["error_codes"] == [7000222]
    assert app.secret not in response.text


def test_writes_without_an_application_permission_are_403_authorization_request_denied(
    tenant: Tenant, http: httpx.Client
) -> None:
    caller, target = new_app(tenant, "no-perms"), new_app(tenant, "target")
    headers = bearer(tenant, http, caller.app_id, caller.secret)

    response = http.post(
        url(tenant, f"applications/{target.object_id}/addPassword"), json={"passwordCredential": {}}, headers=headers
    )

    assert response.status_code == 403
    assert error(response) | {"innerError": None} == {
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
        "innerError": None,
    }


def test_owned_by_permission_allows_writes_only_on_apps_the_caller_owns(tenant: Tenant, http: httpx.Client) -> None:
    caller = new_app(tenant, "owner-bot")
    grant_graph_permission(tenant.seeded.tenant, caller.sp_id, "Application.ReadWrite.OwnedBy")
    owned, other = new_app(tenant, "owned", owners=[caller.sp_id]), new_app(tenant, "not-owned")
    headers = bearer(tenant, http, caller.app_id, caller.secret)
    body = {"passwordCredential": {"displayName": "x"}}

    mine = http.post(url(tenant, f"applications/{owned.object_id}/addPassword"), json=body, headers=headers)
    theirs = http.post(url(tenant, f"applications/{other.object_id}/addPassword"), json=body, headers=headers)

    assert mine.status_code == 200 and theirs.status_code == 403


def test_write_to_a_missing_application_is_404_resource_not_found(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    ghost = "00000000-0000-0000-0000-000000000001"

    response = http.post(url(tenant, f"applications/{ghost}/addPassword"), json={}, headers=admin)

    assert response.status_code == 404 and error(response)["code"] == "Request_ResourceNotFound"


def test_federated_credential_is_created_listed_unique_and_deleted(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    app = new_app(tenant, "federating")
    path = url(tenant, f"applications/{app.object_id}/federatedIdentityCredentials")
    body = {"name": "gh-main", "issuer": GH, "subject": "repo:acme/app:ref:refs/heads/main", "audiences": AUD}

    made = http.post(path, json=body, headers=admin)
    same_name = http.post(path, json={**body, "subject": "repo:acme/app:environment:prod"}, headers=admin)
    same_subject = http.post(path, json={**body, "name": "other"}, headers=admin)

    assert made.status_code == 201 and made.json()["subject"] == body["subject"] and made.json()["id"]
    assert same_name.status_code == 409
    assert error(same_name)["code"] == "Request_MultipleObjectsWithSameKeyValue"
    assert error(same_name)["message"] == "FederatedIdentityCredential with name gh-main already exists."
    assert same_subject.status_code == 400
    assert error(same_subject)["code"] == "InvalidFederatedIdentityCredentialValue"
    listed = http.get(path, headers=admin).json()["value"]
    assert [f["name"] for f in listed] == ["gh-main"]
    fic_id = made.json()["id"]
    assert http.get(f"{path}/{fic_id}", headers=admin).json()["issuer"] == GH

    deleted = http.delete(f"{path}/{fic_id}", headers=admin)
    again = http.delete(f"{path}/{fic_id}", headers=admin)

    assert deleted.status_code == 204 and http.get(path, headers=admin).json()["value"] == []
    assert again.status_code == 404 and error(again)["code"] == "Request_ResourceNotFound"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"audiences": []}, "audiences"),
        ({"audiences": ["a", "b"]}, "audiences"),
        ({"issuer": None}, "issuer"),
        ({"subject": ""}, "subject"),
        ({"name": "has space"}, "name"),
    ],
)
def test_invalid_federated_credential_is_a_400_naming_the_property(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str], change: dict[str, Any], field: str
) -> None:
    app = new_app(tenant, "invalid-fic")
    body = {"name": "ok-name", "issuer": GH, "subject": "repo:a/b:environment:x", "audiences": AUD, **change}

    response = http.post(
        url(tenant, f"applications/{app.object_id}/federatedIdentityCredentials"), json=body, headers=admin
    )

    assert response.status_code == 400 and f"'{field}'" in error(response)["message"]
    assert (tenant.seeded.tenant.application_by_app_id(app.app_id) or {})["federatedIdentityCredentials"] == []


def test_disabled_service_principal_cannot_get_tokens_until_enabled_again(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str]
) -> None:
    app = new_app(tenant, "to-disable")
    path = url(tenant, f"servicePrincipals/{app.sp_id}")

    disabled = http.patch(path, json={"accountEnabled": False}, headers=admin)
    refused = token_response(tenant, http, app.app_id, app.secret, tenant.fake.graph)
    http.patch(path, json={"accountEnabled": True}, headers=admin)

    assert disabled.status_code == 204
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert refused.json()["error_codes"] == [7000112]
    assert token_response(tenant, http, app.app_id, app.secret, tenant.fake.graph).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"appId": "x"}, "Request_BadRequest"),
        ({"nope": 1}, "BadRequest"),
        ({"accountEnabled": "no"}, "Request_BadRequest"),
    ],
)
def test_invalid_service_principal_update_is_a_400_and_changes_nothing(
    tenant: Tenant, http: httpx.Client, admin: dict[str, str], body: dict[str, Any], code: str
) -> None:
    app = new_app(tenant, "patch-me")

    response = http.patch(url(tenant, f"servicePrincipals/{app.sp_id}"), json=body, headers=admin)

    assert response.status_code == 400 and error(response)["code"] == code
    assert (tenant.seeded.tenant.service_principal_by_app_id(app.app_id) or {})["accountEnabled"] is True


def test_graph_write_with_an_arm_token_is_401_and_arm_stays_read_only(tenant: Tenant, http: httpx.Client) -> None:
    seeded = tenant.seeded
    arm = token_response(tenant, http, seeded.scanner_client_id, seeded.scanner_secret, tenant.fake.arm).json()
    headers = {"Authorization": f"Bearer {arm['access_token']}"}
    app = new_app(tenant, "audience")

    graph = http.post(url(tenant, f"applications/{app.object_id}/addPassword"), json={}, headers=headers)
    arm_write = http.put(
        f"{tenant.fake.arm}/subscriptions/{seeded.prod_subscription}?api-version=2022-12-01", headers=headers
    )

    assert graph.status_code == 401 and error(graph)["code"] == "InvalidAuthenticationToken"
    assert arm_write.status_code == 405
