"""TokenReview on the fake kube-apiserver answers as the real authenticator does, through the official client.

A token the fake issued with TokenRequest, or a legacy Secret token not marked invalid, authenticates as
``system:serviceaccount:<ns>:<name>``; anything else (unknown, expired, revoked by deleting its bound object
or account, wrong audience, invalidated legacy token) does not, and the review says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from nhiwarden.sandbox.kubernetes import FakeApiServer, KubeContext, Store, write_kubeconfig
from nhiwarden.sandbox.kubernetes.estate import Seeder

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLOCK = {"now": NOW}
LEGACY = "legacy-review-canary-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    store = Store(clock=NOW)
    seed = Seeder(store, NOW)
    seed.namespace("pay")
    seed.service_account("pay", "worker", 30, secrets_=["worker-token"])
    seed.service_account("pay", "other", 30)
    seed.legacy_token("pay", "worker-token", "worker", 20, token=LEGACY)
    seed.flush()
    with FakeApiServer(store, clock=lambda: CLOCK["now"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: FakeApiServer) -> str:
    return server.add_token("cluster-admin")


@pytest.fixture(scope="module")
def api(server: FakeApiServer, admin: str, tmp_path_factory: pytest.TempPathFactory) -> client.ApiClient:
    path = write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig", [KubeContext("fake", server.url, admin)])
    cfg = type.__call__(client.Configuration)
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(path), context="fake", client_configuration=cfg, persist_config=False
    )
    cfg.retries = False
    return client.ApiClient(configuration=cfg)


@pytest.fixture(autouse=True)
def _reset(server: FakeApiServer) -> Iterator[None]:
    CLOCK["now"] = NOW
    yield
    CLOCK["now"] = NOW
    server.denied.clear()


def core(api: client.ApiClient) -> Any:
    """The core API, untyped: the tests send plain dicts, as the client accepts."""
    return client.CoreV1Api(api)


def authn(api: client.ApiClient) -> Any:
    return client.AuthenticationV1Api(api)


def review(api: client.ApiClient, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token, **({"audiences": audiences} if audiences else {})}
    resp = authn(api).create_token_review({"spec": spec}, _preload_content=False)
    assert resp.status == 201
    body: dict[str, Any] = json.loads(resp.data)
    assert body["kind"] == "TokenReview" and body["apiVersion"] == "authentication.k8s.io/v1"
    return dict(body["status"])


def bound_token(api: client.ApiClient, sa: str = "worker", **spec: Any) -> tuple[str, str]:
    """A TokenRequest token bound to a new Opaque Secret; returns (token, secret name)."""
    secret = core(api).create_namespaced_secret(
        "pay", {"metadata": {"generateName": f"{sa}-bound-"}, "type": "Opaque"}, _preload_content=False
    )
    meta = json.loads(secret.data)["metadata"]
    ref = {"apiVersion": "v1", "kind": "Secret", "name": meta["name"], "uid": meta["uid"]}
    resp = core(api).create_namespaced_service_account_token(
        sa, "pay", {"spec": {"boundObjectRef": ref, **spec}}, _preload_content=False
    )
    return str(json.loads(resp.data)["status"]["token"]), str(meta["name"])


def sa_uid(api: client.ApiClient, name: str) -> str:
    return str(core(api).read_namespaced_service_account(name, "pay").metadata.uid)


def test_token_from_token_request_authenticates_as_the_service_account(api: client.ApiClient) -> None:
    token, _ = bound_token(api)

    status = review(api, token)

    assert status["authenticated"] is True
    user = status["user"]
    assert user["username"] == "system:serviceaccount:pay:worker" and user["uid"] == sa_uid(api, "worker")
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:pay", "system:authenticated"]
    assert user["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]


def test_unknown_token_is_not_authenticated_and_the_review_says_why(api: client.ApiClient) -> None:
    status = review(api, "not-a-token-the-cluster-knows")

    assert "authenticated" not in status  # omitempty: false is not serialized
    assert status["user"] == {} and "invalid bearer token" in status["error"]


def test_deleting_the_bound_secret_revokes_the_token(server: FakeApiServer, api: client.ApiClient) -> None:
    token, secret = bound_token(api)
    assert review(api, token)["authenticated"] is True

    core(api).delete_namespaced_secret(secret, "pay")

    status = review(api, token)
    assert "authenticated" not in status and "invalidated" in status["error"]
    assert httpx.get(f"{server.url}/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_is_rejected_once_it_expires(api: client.ApiClient) -> None:
    token, _ = bound_token(api, expirationSeconds=600)
    CLOCK["now"] = NOW + timedelta(seconds=601)

    status = review(api, token)

    assert "authenticated" not in status and "expired" in status["error"]


def test_deleting_the_service_account_revokes_its_tokens(api: client.ApiClient) -> None:
    core(api).create_namespaced_service_account("pay", {"metadata": {"name": "short-lived"}})
    token, _ = bound_token(api, sa="short-lived")
    assert review(api, token)["user"]["username"] == "system:serviceaccount:pay:short-lived"

    core(api).delete_namespaced_service_account("short-lived", "pay")

    assert "authenticated" not in review(api, token)


def test_token_for_another_audience_authenticates_only_for_that_audience(api: client.ApiClient) -> None:
    token, _ = bound_token(api, audiences=["vault"])

    default = review(api, token)
    assert "authenticated" not in default and 'token audiences ["vault"] is invalid' in default["error"]
    vault = review(api, token, audiences=["vault"])
    assert vault["authenticated"] is True and vault["audiences"] == ["vault"]
    assert vault["user"]["username"] == "system:serviceaccount:pay:worker"


def test_legacy_token_authenticates_until_it_is_marked_invalid(api: client.ApiClient) -> None:
    status = review(api, LEGACY)
    assert status["authenticated"] is True and status["user"]["username"] == "system:serviceaccount:pay:worker"

    core(api).patch_namespaced_secret(
        "worker-token", "pay", {"metadata": {"labels": {"kubernetes.io/legacy-token-invalid-since": "2026-03-01"}}}
    )
    try:
        status = review(api, LEGACY)
        assert "authenticated" not in status and "has been marked invalid" in status["error"]
        assert LEGACY not in json.dumps(status)
    finally:
        core(api).patch_namespaced_secret(
            "worker-token", "pay", {"metadata": {"labels": {"kubernetes.io/legacy-token-invalid-since": None}}}
        )


def test_review_of_a_legacy_token_records_its_use(api: client.ApiClient) -> None:
    CLOCK["now"] = NOW + timedelta(days=3)

    review(api, LEGACY)

    labels = core(api).read_namespaced_secret("worker-token", "pay").metadata.labels
    assert labels["kubernetes.io/legacy-token-last-used"] == "2026-03-04"


def test_forbidden_token_review_is_a_403_status_naming_the_api_group(
    server: FakeApiServer, api: client.ApiClient
) -> None:
    server.deny("create", "tokenreviews")

    with pytest.raises(ApiException) as err:
        authn(api).create_token_review({"spec": {"token": LEGACY}})

    body = json.loads(err.value.body or "{}")
    assert err.value.status == 403 and body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert body["message"].startswith('tokenreviews.authentication.k8s.io is forbidden: User "cluster-admin" ')
    assert (
        'cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope'
        in body["message"]
    )


def test_token_review_needs_a_token_and_is_create_only(server: FakeApiServer, admin: str) -> None:
    url = f"{server.url}/apis/authentication.k8s.io/v1/tokenreviews"
    headers = {"Authorization": f"Bearer {admin}"}

    empty = httpx.post(url, json={"kind": "TokenReview", "spec": {}}, headers=headers)
    listed = httpx.get(url, headers=headers)
    anonymous = httpx.post(url, json={"spec": {"token": LEGACY}})

    assert empty.status_code == 400 and empty.json()["message"] == "token is required for TokenReview in authentication"
    assert listed.status_code == 405 and listed.json()["reason"] == "MethodNotAllowed"
    assert anonymous.status_code == 401


def test_discovery_lists_the_authentication_group(server: FakeApiServer, admin: str) -> None:
    groups = httpx.get(f"{server.url}/apis", headers={"Authorization": f"Bearer {admin}"}).json()["groups"]

    assert "authentication.k8s.io" in {g["name"] for g in groups}
    resources = httpx.get(
        f"{server.url}/apis/authentication.k8s.io/v1", headers={"Authorization": f"Bearer {admin}"}
    ).json()["resources"]
    assert [(r["name"], r["verbs"]) for r in resources] == [("tokenreviews", ["create"])]
