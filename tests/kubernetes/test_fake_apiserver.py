"""The fake kube-apiserver behaves like the real one for the unmodified official client.

Each test drives the server through ``kubernetes.client`` over HTTP with a generated kubeconfig and pins
one behaviour the provider or playbooks rely on: selectors, paging, Status errors, dryRun, TokenRequest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from nhiwarden.sandbox.kubernetes import FakeApiServer, Fault, KubeContext, Store, write_kubeconfig
from nhiwarden.sandbox.kubernetes.estate import Seeder
from nhiwarden.sandbox.kubernetes.resources import BY_PATH

from tests.kubernetes.conftest import NOW

PARTIAL = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    store = Store(clock=NOW)
    s = Seeder(store, NOW)
    for ns in ("a", "b"):
        s.namespace(ns)
    for i in range(7):
        s.service_account(
            "a", f"sa{i}", 10, labels={"tier": ["web", "db", "cache"][i % 3], **({"x": "1"} if i % 2 else {})}
        )
    s.legacy_token("a", "sa1-token", "sa1", 10, token="fake-secret-token-value-123456", last_used=1)
    s.add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": s.meta("Secret", "a", "plain", 5),
            "data": {"k": "dg=="},
        }
    )
    s.pod("a", "p0", "sa1")
    s.pod("a", "p1", None)
    s.pod("b", "p2", None)
    s.flush()
    with FakeApiServer(store, clock=lambda: NOW) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: FakeApiServer, tmp_path_factory: pytest.TempPathFactory) -> client.ApiClient:
    token = server.add_token("tester")
    path = write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig", [KubeContext("fake", server.url, token)])
    return no_retry_client(path, "fake")


def no_retry_client(path: Path, context: str) -> client.ApiClient:
    """The official client, minus urllib3's own silent retry of 429s (so the tests see each answer)."""
    cfg = type.__call__(client.Configuration)
    config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg, persist_config=False)
    cfg.retries = False
    return client.ApiClient(configuration=cfg)


@pytest.fixture(autouse=True)
def _reset(server: FakeApiServer) -> Iterator[None]:
    yield
    server.faults.clear()
    server.denied.clear()


def raw(resp: Any) -> dict[str, Any]:
    return dict(json.loads(resp.data))


def status_of(exc: ApiException) -> dict[str, Any]:
    return dict(json.loads(exc.body))


def names(page: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in page["items"]]


def test_list_is_a_kind_list_sorted_by_namespace_and_name_with_items_lacking_kind(api: client.ApiClient) -> None:
    page = raw(client.CoreV1Api(api).list_pod_for_all_namespaces(_preload_content=False))
    assert page["kind"] == "PodList" and page["apiVersion"] == "v1"
    assert page["metadata"]["resourceVersion"].isdigit()
    assert names(page) == ["p0", "p1", "p2"]
    assert "kind" not in page["items"][0]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["sa0", "sa3", "sa6"]),
        ("tier==web,x", ["sa3"]),
        ("tier!=web,x", ["sa1", "sa5"]),
        ("tier in (db, cache),!x", ["sa2", "sa4"]),
        ("tier notin (web),x=1", ["sa1", "sa5"]),
    ],
)
def test_label_selectors_filter_like_the_apiserver(api: client.ApiClient, selector: str, expected: list[str]) -> None:
    page = raw(
        client.CoreV1Api(api).list_namespaced_service_account("a", label_selector=selector, _preload_content=False)
    )
    assert names(page) == expected


def test_field_selector_on_secret_type_and_pod_service_account(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    secrets = raw(
        core.list_secret_for_all_namespaces(
            field_selector="type=kubernetes.io/service-account-token", _preload_content=False
        )
    )
    pods = raw(
        core.list_pod_for_all_namespaces(field_selector="spec.serviceAccountName=default", _preload_content=False)
    )
    assert names(secrets) == ["sa1-token"]
    assert names(pods) == ["p1", "p2"]


def test_unknown_field_selector_is_a_400_status_naming_the_allowed_fields(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_service_account_for_all_namespaces(field_selector="spec.foo=bar")
    body = status_of(err.value)
    assert err.value.status == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    assert body["message"].startswith(
        '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_limit_and_continue_page_through_every_item_once(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    seen, token, pages = [], None, 0
    while True:
        kwargs: dict[str, Any] = {"limit": 3, "_preload_content": False}
        if token:
            kwargs["_continue"] = token
        page = raw(core.list_namespaced_service_account("a", **kwargs))
        pages += 1
        seen += names(page)
        token = page["metadata"].get("continue")
        if pages == 1:
            assert page["metadata"]["remainingItemCount"] == 5
        if not token:
            break
    assert seen == ["default", *[f"sa{i}" for i in range(7)]] and pages == 3


def test_expired_continue_token_is_410_with_a_fresh_token(server: FakeApiServer, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = raw(core.list_namespaced_service_account("a", limit=2, _preload_content=False))
    server.store.compact()
    with pytest.raises(ApiException) as err:
        core.list_namespaced_service_account("a", limit=2, _continue=first["metadata"]["continue"])
    body = status_of(err.value)
    assert err.value.status == 410 and body["reason"] == "Expired"
    assert body["message"].startswith("The provided continue parameter is too old")
    assert body["metadata"]["continue"]


def test_missing_object_is_a_404_status_with_details(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).read_namespaced_service_account("ghost", "a")
    body = status_of(err.value)
    assert err.value.status == 404
    assert body["reason"] == "NotFound" and body["message"] == 'serviceaccounts "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "", "kind": "serviceaccounts"}


def test_creating_an_existing_name_is_409_already_exists(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_service_account("a", {"metadata": {"name": "sa0"}})
    assert err.value.status == 409 and status_of(err.value)["reason"] == "AlreadyExists"


def test_update_with_a_stale_resource_version_is_409_conflict(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    current = raw(core.read_namespaced_service_account("sa2", "a", _preload_content=False))
    current["metadata"]["labels"] = {"changed": "yes"}
    core.replace_namespaced_service_account("sa2", "a", current)
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service_account("sa2", "a", current)  # same, now stale, resourceVersion
    assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"


def test_failing_json_patch_test_op_is_422_and_changes_nothing(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    patch = [
        {"op": "test", "path": "/metadata/labels/tier", "value": "nope"},
        {"op": "replace", "path": "/metadata/labels/tier", "value": "x"},
    ]
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service_account("sa4", "a", patch)
    assert err.value.status == 422
    assert (
        raw(core.read_namespaced_service_account("sa4", "a", _preload_content=False))["metadata"]["labels"]["tier"]
        == "db"
    )


def test_too_many_requests_is_429_with_retry_after(server: FakeApiServer, api: client.ApiClient) -> None:
    server.inject(Fault(status=429, verb="list", resource="pods", retry_after=7))
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_pod_for_all_namespaces()
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "7"
    assert status_of(err.value)["details"]["retryAfterSeconds"] == 7
    assert client.CoreV1Api(api).list_pod_for_all_namespaces().items  # one-shot fault is gone


def test_denied_verb_is_403_status_naming_user_verb_and_resource(server: FakeApiServer, api: client.ApiClient) -> None:
    server.deny("list", "secrets")
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_secret_for_all_namespaces()
    body = status_of(err.value)
    assert err.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'secrets is forbidden: User "tester" cannot list resource "secrets" in API group "" at the cluster scope'
    )


def test_unknown_bearer_token_is_401(server: FakeApiServer, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", [KubeContext("bad", server.url, "not-a-known-token")])
    api = no_retry_client(path, "bad")
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401


def test_dry_run_create_and_delete_validate_but_persist_nothing(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = raw(
        core.create_namespaced_service_account(
            "a", {"metadata": {"name": "dry"}}, dry_run="All", _preload_content=False
        )
    )
    assert created["metadata"]["name"] == "dry"
    with pytest.raises(ApiException):
        core.read_namespaced_service_account("dry", "a")
    core.delete_namespaced_secret("plain", "a", dry_run="All")
    assert core.read_namespaced_secret("plain", "a").metadata.name == "plain"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service_account("missing-ns", {"metadata": {"name": "x"}}, dry_run="All")
    assert err.value.status == 404


def test_delete_returns_a_success_status_and_removes_the_object(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_secret("b", {"metadata": {"name": "gone"}, "type": "Opaque"})
    body = raw(core.delete_namespaced_secret("gone", "b", _preload_content=False))
    assert body["kind"] == "Status" and body["status"] == "Success" and body["details"]["name"] == "gone"
    with pytest.raises(ApiException):
        core.read_namespaced_secret("gone", "b")


def test_deleting_a_service_account_deletes_its_legacy_token_secrets(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account("b", {"metadata": {"name": "tmp"}})
    core.create_namespaced_secret(
        "b",
        {
            "metadata": {"name": "tmp-token", "annotations": {"kubernetes.io/service-account.name": "tmp"}},
            "type": "kubernetes.io/service-account-token",
        },
    )
    core.delete_namespaced_service_account("tmp", "b")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_secret("tmp-token", "b")
    assert err.value.status == 404


def test_partial_object_metadata_list_returns_labels_but_never_secret_data(server: FakeApiServer) -> None:
    status, headers, body = server.handle(
        "GET",
        "/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token",
        {"authorization": f"Bearer {next(iter(server.tokens))}", "accept": PARTIAL},
        b"",
    )
    page = json.loads(body)
    assert status == 200 and headers["Content-Type"].startswith("application/json;as=PartialObjectMetadataList")
    assert page["kind"] == "PartialObjectMetadataList"
    item = page["items"][0]
    assert item["kind"] == "PartialObjectMetadata" and "data" not in item and "type" not in item
    assert item["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"]
    assert b"fake-secret-token-value" not in body and b"ZmFrZS1zZWNyZXQ" not in body


def test_token_request_defaults_to_an_hour_and_names_the_account(api: client.ApiClient) -> None:
    resp = raw(
        client.CoreV1Api(api).create_namespaced_service_account_token(
            "sa0", "a", {"spec": {"audiences": ["vault"]}}, _preload_content=False
        )
    )
    assert resp["kind"] == "TokenRequest" and resp["spec"]["expirationSeconds"] == 3600
    payload = resp["status"]["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "system:serviceaccount:a:sa0" and claims["aud"] == ["vault"]
    assert claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize(
    ("spec", "status", "message"),
    [
        ({"expirationSeconds": 60}, 422, "may not specify a duration less than 10 minutes"),
        (
            {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p1"}},
            400,
            'cannot bind token for serviceaccount "sa0" to pod running with serviceaccount "default"',
        ),
        ({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "nope"}}, 404, 'pods "nope" not found'),
        (
            {"boundObjectRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}},
            400,
            "cannot bind token to object of type ConfigMap",
        ),
    ],
)
def test_token_request_validation_matches_the_apiserver(
    api: client.ApiClient, spec: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_service_account_token("sa0", "a", {"spec": spec})
    assert err.value.status == status and message in status_of(err.value)["message"]


def test_token_request_with_a_wrong_pod_uid_is_409(api: client.ApiClient) -> None:
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "p0", "uid": "00000000-0000-0000-0000-000000000000"}
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_service_account_token("sa1", "a", {"spec": {"boundObjectRef": ref}})
    assert err.value.status == 409


def test_token_request_for_a_missing_account_is_404(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_service_account_token("ghost", "a", {"spec": {}})
    assert err.value.status == 404


def test_aggregated_cluster_role_gets_the_rules_of_matching_roles(api: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role(
        {"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]}}
    )
    rbac.create_cluster_role(
        {
            "metadata": {"name": "part", "labels": {"agg": "yes"}},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        }
    )
    agg = raw(rbac.read_cluster_role("agg", _preload_content=False))
    assert agg["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]


def test_request_log_records_verb_resource_query_and_status(server: FakeApiServer, api: client.ApiClient) -> None:
    server.clear_log()
    client.CoreV1Api(api).list_pod_for_all_namespaces(limit=2, field_selector="status.phase=Running")
    [record] = server.calls("list", "pods")
    assert record.query == {"limit": "2", "fieldSelector": "status.phase=Running"}
    assert record.status == 200 and record.user == "tester" and record.namespace is None


def test_legacy_token_authenticates_and_marks_the_secret_last_used(server: FakeApiServer, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", [KubeContext("legacy", server.url, "fake-secret-token-value-123456")])
    api = no_retry_client(path, "legacy")
    client.CoreV1Api(api).list_namespace()
    assert server.requests[-1].user == "system:serviceaccount:a:sa1"
    secret = server.store.get(
        BY_PATH[("", "v1", "secrets")],
        "a",
        "sa1-token",
    )
    assert secret is not None
    assert secret["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"] == NOW.strftime("%Y-%m-%d")


def test_list_newer_than_the_store_is_a_504_too_large_resource_version(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace(resource_version="999999999")
    assert err.value.status == 504 and "Too large resource version" in status_of(err.value)["message"]
    assert client.CoreV1Api(api).list_namespace(resource_version="0").items
