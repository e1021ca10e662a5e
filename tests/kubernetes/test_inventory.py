"""Turning projected objects into identities: usage facts and the effective automount setting."""

from __future__ import annotations

from typing import Any

import pytest
from nhiwarden.providers.kubernetes.inventory import (
    ClusterData,
    build_identities,
    project_pod,
    project_secret,
    project_service_account,
)

from tests.kubernetes.conftest import NOW


def sa(name: str = "app", automount: bool | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns", "uid": "u-1", "creationTimestamp": "2025-01-01T00:00:00Z"}
    }
    if automount is not None:
        obj["automountServiceAccountToken"] = automount
    return project_service_account(obj)


def pod(automount: bool | None = None, sa_name: str = "app") -> dict[str, Any]:
    spec: dict[str, Any] = {"serviceAccountName": sa_name, "containers": []}
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return project_pod({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})


def identity(account: dict[str, Any], pods: list[dict[str, Any]] | None, **kw: Any) -> Any:
    data = ClusterData(
        service_accounts=[account],
        secrets=kw.get("secrets", []),
        pods=pods,
        workloads=[],
        bindings=[],
        tracking_since=kw.get("tracking_since"),
    )
    [ident] = build_identities("ctx", data, as_of=NOW)
    return ident


@pytest.mark.parametrize(
    ("account_setting", "pod_setting", "mounted"),
    [(None, None, True), (False, None, False), (False, True, True), (True, False, False), (None, False, False)],
)
def test_pod_setting_wins_over_the_account_which_defaults_to_true(
    account_setting: bool | None, pod_setting: bool | None, mounted: bool
) -> None:
    ident = identity(sa(automount=account_setting), [pod(pod_setting)])
    assert ident.attributes["token_mounted_by"] == (["Pod/p"] if mounted else [])


def test_unknown_pod_usage_leaves_account_usage_unknown() -> None:
    ident = identity(sa(), None)
    assert ident.last_used_source is None and ident.attributes["usage_confidence"] == "unknown"


def test_account_without_pods_or_tokens_is_never_used_with_weak_confidence() -> None:
    ident = identity(sa(), [pod(sa_name="other")])
    assert (ident.last_used_at, ident.last_used_source) == (None, "pods+workloads")
    assert ident.attributes["usage_confidence"] == "weak"


def test_secret_projection_never_keeps_data() -> None:
    kept = project_secret(
        {
            "metadata": {
                "name": "t",
                "namespace": "ns",
                "annotations": {
                    "kubernetes.io/service-account.name": "app",
                    "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                },
            },
            "type": "kubernetes.io/service-account-token",
            "data": {"token": "c2VjcmV0"},
        }
    )
    assert "data" not in kept and "c2VjcmV0" not in repr(kept)
    assert kept["annotations"] == {"kubernetes.io/service-account.name": "app"}


def test_token_of_a_recreated_account_with_another_uid_is_ignored() -> None:
    secret = project_secret(
        {
            "metadata": {
                "name": "t",
                "namespace": "ns",
                "annotations": {
                    "kubernetes.io/service-account.name": "app",
                    "kubernetes.io/service-account.uid": "old-uid",
                },
            },
            "type": "kubernetes.io/service-account-token",
        }
    )
    assert identity(sa(), [], secrets=[secret]).credentials == []
