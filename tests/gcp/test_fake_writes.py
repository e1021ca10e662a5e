"""The shipped fake's write APIs (used by the playbooks): behaviour and error shapes as Google's.

Driven with the real clients (google-cloud-iam over gRPC, google-auth's AuthorizedSession over REST)
through the provider's API layer, so status codes arrive exactly as the playbooks see them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from nhiwarden.providers.gcp.api import ApiFailure, GcpApi
from nhiwarden.sandbox.gcp import FakeGcp, Key, Project, ServiceAccount, Store

PROJECT, NUMBER = "acme-writes", "400000000001"
EMAIL = f"ci@{PROJECT}.iam.gserviceaccount.com"
ACCOUNT = f"projects/{PROJECT}/serviceAccounts/{EMAIL}"
POOLS = f"v1/projects/{PROJECT}/locations/global/workloadIdentityPools"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeGcp, GcpApi]]:
    store = Store()
    project = store.add_project(Project(PROJECT, NUMBER, "organizations/1"))
    account = project.add(ServiceAccount(EMAIL, "100000000000000000009"))
    created = datetime(2026, 1, 1, tzinfo=UTC)
    account.keys.append(Key("a" * 40, created=created, key_type="SYSTEM_MANAGED"))
    account.keys.append(
        Key(
            "b" * 40,
            created=created,
            disabled=True,
            disable_reason="SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED",
        )
    )
    with FakeGcp(store) as fake:
        creds = fake.write_credentials(tmp_path_factory.mktemp("writes") / "key.json")
        api = GcpApi(
            credentials_file=str(creds),
            grpc_endpoint=fake.grpc.address,
            rest_endpoint=fake.rest.url,
            sleep=lambda _s: None,
            attempts=1,
        )
        yield fake, api
        api.close()


def grpc(api: GcpApi, fn: Any) -> Any:
    return api.grpc(None, "test", fn)


def rest(api: GcpApi, method: str, path: str, **kw: Any) -> dict[str, Any]:
    return api.rest(None, "test", method, f"{api.endpoints.iam}/{path}", **kw)


def token_for(info: dict[str, Any]) -> str:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call]
    creds.refresh(Request())
    return str(creds.token)


def refused(info: dict[str, Any]) -> str:
    from google.auth import exceptions

    with pytest.raises(exceptions.RefreshError) as err:
        token_for(info)
    return str(err.value)


# --- keys and accounts (gRPC) ----------------------------------------------------------------------


def test_created_key_obtains_tokens_until_disabled_or_deleted_and_a_disabled_account_none(
    env: tuple[FakeGcp, GcpApi],
) -> None:
    fake, api = env
    key = grpc(api, lambda c: c.create_service_account_key(request={"name": ACCOUNT}, retry=None))
    info = json.loads(bytes(key.private_key_data))
    assert info["type"] == "service_account" and info["client_email"] == EMAIL
    assert info["private_key_id"] == key.name.rsplit("/", 1)[-1] and info["token_uri"] == f"{fake.rest.url}/token"
    assert key.key_type.name == "USER_MANAGED" and key.key_origin.name == "GOOGLE_PROVIDED"
    assert key.valid_before_time.year == 9999
    assert token_for(info).startswith("ya29.")
    assert info["private_key"] in fake.store.canaries

    grpc(api, lambda c: c.disable_service_account_key(name=key.name, retry=None))
    assert "Invalid JWT Signature" in refused(info)
    grpc(api, lambda c: c.enable_service_account_key(name=key.name, retry=None))
    assert token_for(info)

    grpc(api, lambda c: c.disable_service_account(request={"name": ACCOUNT}, retry=None))
    assert grpc(api, lambda c: c.get_service_account(name=ACCOUNT, retry=None)).disabled
    assert "account not found" in refused(info)
    grpc(api, lambda c: c.enable_service_account(request={"name": ACCOUNT}, retry=None))
    assert not grpc(
        api, lambda c: c.get_service_account(name=f"projects/-/serviceAccounts/{EMAIL}", retry=None)
    ).disabled

    grpc(api, lambda c: c.delete_service_account_key(name=key.name, retry=None))
    assert "Invalid JWT Signature" in refused(info)
    with pytest.raises(ApiFailure) as err:
        grpc(api, lambda c: c.delete_service_account_key(name=key.name, retry=None))
    assert (err.value.code, err.value.status) == (404, "NOT_FOUND")


def test_the_eleventh_user_managed_key_fails_the_precondition(env: tuple[FakeGcp, GcpApi]) -> None:
    _fake, api = env
    made = []
    try:
        for _ in range(9):  # one user-managed key exists already
            made.append(grpc(api, lambda c: c.create_service_account_key(request={"name": ACCOUNT}, retry=None)).name)
        with pytest.raises(ApiFailure) as err:
            grpc(api, lambda c: c.create_service_account_key(request={"name": ACCOUNT}, retry=None))
        assert (err.value.code, err.value.status) == (400, "FAILED_PRECONDITION")
    finally:
        for name in made:
            grpc(api, lambda c, n=name: c.delete_service_account_key(name=n, retry=None))


def test_system_managed_keys_cannot_be_deleted_and_exposed_keys_cannot_be_enabled(
    env: tuple[FakeGcp, GcpApi],
) -> None:
    _fake, api = env
    for name, fn in (
        (f"{ACCOUNT}/keys/{'a' * 40}", lambda c, n: c.delete_service_account_key(name=n, retry=None)),
        (f"{ACCOUNT}/keys/{'b' * 40}", lambda c, n: c.enable_service_account_key(name=n, retry=None)),
    ):
        with pytest.raises(ApiFailure) as err:
            grpc(api, lambda c, n=name, f=fn: f(c, n))
        assert err.value.status == "FAILED_PRECONDITION"


def test_unknown_account_is_not_found_and_a_denied_project_permission_denied(env: tuple[FakeGcp, GcpApi]) -> None:
    fake, api = env
    with pytest.raises(ApiFailure) as err:
        grpc(api, lambda c: c.get_service_account(name=f"projects/{PROJECT}/serviceAccounts/nobody@x", retry=None))
    assert err.value.code == 404
    fake.store.projects[PROJECT].denied = True
    try:
        with pytest.raises(ApiFailure) as err:
            grpc(api, lambda c: c.create_service_account_key(request={"name": ACCOUNT}, retry=None))
    finally:
        fake.store.projects[PROJECT].denied = False
    assert err.value.code == 403 and "iam.serviceAccountKeys.create" in err.value.message


# --- service-account IAM policy ---------------------------------------------------------------------


def test_set_iam_policy_checks_the_etag_and_both_apis_see_the_same_policy(env: tuple[FakeGcp, GcpApi]) -> None:
    _fake, api = env
    path = f"v1/projects/{PROJECT}/serviceAccounts/{EMAIL}"
    before = rest(api, "POST", f"{path}:getIamPolicy", body={})
    member = f"principalSet://iam.googleapis.com/projects/{NUMBER}/locations/global/workloadIdentityPools/p/*"
    new = {"etag": before["etag"], "bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]}
    after = rest(api, "POST", f"{path}:setIamPolicy", body={"policy": new})
    assert after["etag"] != before["etag"] and after["bindings"][0]["members"] == [member]
    with pytest.raises(ApiFailure) as err:
        rest(api, "POST", f"{path}:setIamPolicy", body={"policy": new})  # the etag read before is stale now
    assert (err.value.code, err.value.status) == (409, "ABORTED")
    with pytest.raises(ApiFailure) as err:
        bad = {"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": ["repo:acme/app"]}]}
        rest(api, "POST", f"{path}:setIamPolicy", body={"policy": bad})
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    policy = grpc(api, lambda c: c.get_iam_policy(request={"resource": ACCOUNT}, retry=None))
    assert base64.b64encode(policy.etag).decode() == after["etag"]
    assert [list(b.members) for b in policy.bindings] == [[member]]
    cleared = grpc(
        api,
        lambda c: c.set_iam_policy(request={"resource": ACCOUNT, "policy": {"etag": policy.etag}}, retry=None),
    )
    assert list(cleared.bindings) == []


# --- workload identity pools and providers (REST) ---------------------------------------------------

GITHUB = {"issuerUri": "https://token.actions.githubusercontent.com"}
MAPPING = {"google.subject": "assertion.sub"}


def test_pools_and_providers_are_created_listed_paged_soft_deleted_and_undeleted(env: tuple[FakeGcp, GcpApi]) -> None:
    fake, api = env
    for pool in ("p-one", "p-two", "p-three"):
        op = rest(api, "POST", POOLS, params={"workloadIdentityPoolId": pool}, body={"displayName": pool})
        assert (
            op["done"] and op["response"]["name"] == f"projects/{NUMBER}/locations/global/workloadIdentityPools/{pool}"
        )
    op = rest(
        api,
        "POST",
        f"{POOLS}/p-one/providers",
        params={"workloadIdentityPoolProviderId": "github"},
        body={"oidc": GITHUB, "attributeMapping": MAPPING, "attributeCondition": "assertion.sub == 'x'"},
    )
    provider = op["response"]
    assert provider["state"] == "ACTIVE" and provider["attributeCondition"] == "assertion.sub == 'x'"
    assert "disabled" not in provider  # unset fields are omitted, as in Google's JSON
    assert rest(api, "GET", f"{POOLS}/p-one/providers/github")["oidc"] == GITHUB

    first = rest(api, "GET", POOLS)
    assert len(first["workloadIdentityPools"]) == 2 and first["nextPageToken"]
    names = [
        p["name"].rsplit("/", 1)[-1]
        for p in api.rest_pages(None, "t", f"{api.endpoints.iam}/{POOLS}", {}, "workloadIdentityPools")
    ]
    assert names == ["p-one", "p-three", "p-two"]

    deleted = rest(api, "DELETE", f"{POOLS}/p-two")["response"]
    assert deleted["state"] == "DELETED" and deleted["expireTime"]
    assert rest(api, "GET", f"{POOLS}/p-two")["state"] == "DELETED"
    listed = [p["name"] for p in api.rest_pages(None, "t", f"{api.endpoints.iam}/{POOLS}", {}, "workloadIdentityPools")]
    assert not any(n.endswith("/p-two") for n in listed)
    shown = api.rest_pages(None, "t", f"{api.endpoints.iam}/{POOLS}", {"showDeleted": "true"}, "workloadIdentityPools")
    assert any(p["name"].endswith("/p-two") for p in shown)
    with pytest.raises(ApiFailure) as err:
        rest(api, "POST", POOLS, params={"workloadIdentityPoolId": "p-two"}, body={})
    assert (err.value.code, err.value.status) == (409, "ALREADY_EXISTS")
    assert rest(api, "POST", f"{POOLS}/p-two:undelete", body={})["response"]["state"] == "ACTIVE"
    with fake.store.lock:
        fake.store.projects[PROJECT].pools.clear()


@pytest.mark.parametrize(
    ("pool_id", "body", "status"),
    [
        ("gcp-reserved", {}, 400),
        ("ab", {}, 400),
        ("Upper-Case", {}, 400),
    ],
)
def test_invalid_pool_ids_are_rejected(
    env: tuple[FakeGcp, GcpApi], pool_id: str, body: dict[str, Any], status: int
) -> None:
    _fake, api = env
    with pytest.raises(ApiFailure) as err:
        rest(api, "POST", POOLS, params={"workloadIdentityPoolId": pool_id}, body=body)
    assert err.value.code == status and err.value.status == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    "body",
    [
        {"attributeMapping": MAPPING},  # no issuer kind
        {"oidc": {"issuerUri": "http://insecure.example"}, "attributeMapping": MAPPING},
        {"oidc": GITHUB, "attributeMapping": {"attribute.repository": "assertion.repository"}},  # no google.subject
    ],
)
def test_invalid_providers_are_rejected(env: tuple[FakeGcp, GcpApi], body: dict[str, Any]) -> None:
    _fake, api = env
    rest(api, "POST", POOLS, params={"workloadIdentityPoolId": "validation"}, body={})
    try:
        with pytest.raises(ApiFailure) as err:
            rest(
                api,
                "POST",
                f"{POOLS}/validation/providers",
                params={"workloadIdentityPoolProviderId": "bad1"},
                body=body,
            )
        assert err.value.code == 400
    finally:
        rest(api, "DELETE", f"{POOLS}/validation")
        _fake.store.projects[PROJECT].pools.clear()


def test_missing_pool_is_not_found_and_denied_pools_name_the_permission(env: tuple[FakeGcp, GcpApi]) -> None:
    fake, api = env
    with pytest.raises(ApiFailure) as err:
        rest(api, "GET", f"{POOLS}/nope/providers")
    assert (err.value.code, err.value.status) == (404, "NOT_FOUND")
    fake.store.projects[PROJECT].pools_denied = True
    try:
        with pytest.raises(ApiFailure) as err:
            rest(api, "GET", POOLS)
    finally:
        fake.store.projects[PROJECT].pools_denied = False
    assert err.value.code == 403 and "iam.workloadIdentityPools.list" in err.value.message


def test_rest_key_and_account_writes_behave_like_the_grpc_ones(env: tuple[FakeGcp, GcpApi]) -> None:
    _fake, api = env
    path = f"v1/projects/{PROJECT}/serviceAccounts/{EMAIL}"
    created = rest(api, "POST", f"{path}/keys", body={"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"})
    info = json.loads(base64.b64decode(created["privateKeyData"]))
    key_path = f"v1/{created['name']}"
    assert created["keyType"] == "USER_MANAGED" and info["private_key_id"] == created["name"].rsplit("/", 1)[-1]
    assert "privateKeyData" not in rest(api, "GET", key_path)
    assert token_for(info)
    assert rest(api, "POST", f"{key_path}:disable", body={}) == {}
    assert rest(api, "GET", key_path)["disabled"] is True
    assert "Invalid JWT Signature" in refused(info)
    rest(api, "POST", f"{key_path}:enable", body={})
    rest(api, "POST", f"{path}:disable", body={})
    assert rest(api, "GET", path)["disabled"] is True
    rest(api, "POST", f"{path}:enable", body={})
    assert "disabled" not in rest(api, "GET", path)
    accounts = list(
        api.rest_pages(None, "t", f"{api.endpoints.iam}/v1/projects/{PROJECT}/serviceAccounts", {}, "accounts")
    )
    assert [a["email"] for a in accounts] == [EMAIL]
    assert rest(api, "DELETE", key_path) == {}
    with pytest.raises(ApiFailure) as err:
        rest(api, "GET", key_path)
    assert err.value.code == 404
