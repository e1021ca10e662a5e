"""RBAC resolution as pure functions: matching, narrowing, subjects, aggregation, levels."""

from __future__ import annotations

from typing import Any

import pytest
from nhiwarden.model import Privilege
from nhiwarden.providers.kubernetes.rbac import (
    SubjectRef,
    assess,
    cluster_role_rules,
    is_default_discovery_binding,
    rule_allows,
    subject_ref,
)


def r(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def level(*rules: dict[str, Any], ns: str | None = "team", name: str = "") -> tuple[Privilege, list[str]]:
    a = assess(list(rules), role_name=name, namespaces=ns, privileged_namespaces=["kube-system"])
    return a.privilege, a.permissions


@pytest.mark.parametrize(
    ("rule", "verb", "resource", "allowed"),
    [
        (r([""], ["pods/*"], ["create"]), "create", "pods/exec", True),
        (r([""], ["*/exec"], ["create"]), "create", "pods/exec", True),
        (r([""], ["pods"], ["create"]), "create", "pods/exec", False),
        (r(["*"], ["*"], ["get"]), "get", "secrets", True),
        (r(["apps"], ["secrets"], ["get"]), "get", "secrets", False),
    ],
)
def test_rule_matching_follows_rbac_wildcards_and_subresources(
    rule: dict[str, Any], verb: str, resource: str, allowed: bool
) -> None:
    assert rule_allows(rule, verb, "", resource) is allowed


def test_reading_named_secrets_only_is_not_escalation() -> None:
    assert level(r([""], ["secrets"], ["get"], resourceNames=["app-config"]))[0] is Privilege.READ
    assert level(r([""], ["secrets"], ["list"])) == (Privilege.PRIVILEGE_ESCALATION, ["secrets get/list/watch"])


def test_creating_pods_is_escalation_only_where_namespaces_are_privileged() -> None:
    create = r([""], ["pods"], ["create"])
    assert level(create, ns="team")[0] is Privilege.WRITE
    assert level(create, ns="kube-system")[0] is Privilege.PRIVILEGE_ESCALATION
    assert level(create, ns=None)[0] is Privilege.PRIVILEGE_ESCALATION


def test_star_on_star_is_admin_even_inside_a_namespace() -> None:
    assert level(r(["*"], ["*"], ["*"]))[0] is Privilege.ADMIN
    assert level(r([""], ["configmaps"], ["get"]), name="cluster-admin")[0] is Privilege.ADMIN


def test_read_only_rules_are_read() -> None:
    assert level(r([""], ["pods", "services"], ["get", "list", "watch"])) == (Privilege.READ, [])


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ({"kind": "ServiceAccount", "name": "a"}, SubjectRef("sa", "team", "a")),
        (
            {"kind": "User", "name": "system:serviceaccount:ci:bot"},
            SubjectRef("sa", "ci", "bot", via="user/system:serviceaccount:ci:bot"),
        ),
        (
            {"kind": "Group", "name": "system:serviceaccounts"},
            SubjectRef("group-all", via="group/system:serviceaccounts"),
        ),
        (
            {"kind": "Group", "name": "system:serviceaccounts:ci"},
            SubjectRef("group-ns", "ci", via="group/system:serviceaccounts:ci"),
        ),
        ({"kind": "User", "name": "alice@example.com"}, None),
        ({"kind": "Group", "name": "system:masters"}, None),
    ],
)
def test_binding_subjects_resolve_to_service_accounts(subject: dict[str, str], expected: SubjectRef | None) -> None:
    assert subject_ref(subject, "team") == expected


def test_aggregated_role_unions_own_rules_with_matching_roles() -> None:
    roles = [
        {
            "metadata": {"name": "agg"},
            "rules": [r([""], ["pods"], ["get"])],
            "aggregationRule": {
                "clusterRoleSelectors": [{"matchExpressions": [{"key": "agg", "operator": "In", "values": ["yes"]}]}]
            },
        },
        {"metadata": {"name": "a", "labels": {"agg": "yes"}}, "rules": [r([""], ["secrets"], ["list"])]},
        {"metadata": {"name": "b", "labels": {"agg": "no"}}, "rules": [r([""], ["nodes"], ["get"])]},
    ]
    assert cluster_role_rules(roles)["agg"] == [r([""], ["pods"], ["get"]), r([""], ["secrets"], ["list"])]


def test_bootstrap_discovery_bindings_are_ignored_but_custom_ones_are_not() -> None:
    discovery = {
        "metadata": {"name": "system:discovery"},
        "roleRef": {"name": "system:discovery"},
        "subjects": [{"kind": "Group", "name": "system:authenticated"}],
    }
    custom = {
        "metadata": {"name": "everyone-admin"},
        "roleRef": {"name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:authenticated"}],
    }
    assert is_default_discovery_binding(discovery) and not is_default_discovery_binding(custom)
