"""The Kubernetes rules as pure functions of hand-built identities (no server)."""

from __future__ import annotations

from typing import Any

from nhiwarden.config import Config
from nhiwarden.findings import Finding, Severity
from nhiwarden.model import Grant, Identity, Inventory, Privilege, ScopeResult
from nhiwarden.rules.engine import evaluate

from tests.kubernetes.conftest import NOW


def account(name: str, *, grants: list[Grant] = (), **attrs: Any) -> Identity:  # type: ignore[assignment]
    ns, sa = name.split("/")
    base: dict[str, Any] = {
        "is_default": sa == "default",
        "used_by_pods": 0,
        "used_by_workloads": [],
        "token_mounted_by": [],
        "direct_bindings": [],
        "bindings_to_missing_roles": [],
        "automount_service_account_token": None,
    }
    base.update(attrs)
    return Identity(
        uid=f"k8s:c:ns/{ns}:sa/{sa}",
        provider="kubernetes",
        kind="k8s-service-account",
        scope="c",
        name=name,
        system=sa == "default",
        grants=list(grants),
        attributes=base,
    )


def findings(*identities: Identity, rule: str) -> list[Finding]:
    inv = Inventory(scopes=[ScopeResult(provider="kubernetes", scope="c", identities=list(identities))])
    return [f for f in evaluate(inv, as_of=NOW, config=Config()) if f.rule_id == rule]


def grant(privilege: Privilege, via: str | None = None, controls: list[str] = ()) -> Grant:  # type: ignore[assignment]
    return Grant(
        privilege=privilege,
        source="b (ClusterRole r)",
        source_kind="ClusterRoleBinding",
        via=via,
        reason="r",
        controls=list(controls),
    )


def test_unused_default_account_reachable_only_through_a_read_group_binding_is_fine() -> None:
    ident = account("ns/default", grants=[grant(Privilege.READ, via="group/system:serviceaccounts")])
    assert findings(ident, rule="k8s-default-service-account") == []


def test_default_account_made_admin_through_a_group_is_high_with_the_grant_controls() -> None:
    admin = grant(Privilege.ADMIN, via="group/system:serviceaccounts:ns", controls=["CIS-K8S-5.1.1"])
    [f] = findings(account("ns/default", grants=[admin]), rule="k8s-default-service-account")
    assert f.severity is Severity.HIGH and {"CIS-K8S-5.1.5", "CIS-K8S-5.1.1"} <= set(f.controls)


def test_default_account_bound_directly_is_flagged_even_unused() -> None:
    [f] = findings(account("ns/default", grants=[grant(Privilege.READ)]), rule="k8s-default-service-account")
    assert f.severity is Severity.MEDIUM and f.evidence["direct_grants"] == ["b (ClusterRole r)"]


def test_mounted_token_is_fine_for_an_account_with_its_own_binding_but_not_for_default() -> None:
    own = account("ns/app", token_mounted_by=["Deployment/app"], direct_bindings=["ns/app-binding"])
    default = account("ns/default", token_mounted_by=["Pod/p"], direct_bindings=["ns/x"])
    assert [f.identity.name for f in findings(own, default, rule="k8s-token-automount")] == ["ns/default"]


def test_binding_to_a_missing_role_does_not_count_as_needing_the_token() -> None:
    ident = account(
        "ns/app", token_mounted_by=["Pod/p"], direct_bindings=["ns/stale"], bindings_to_missing_roles=["ns/stale"]
    )
    assert len(findings(ident, rule="k8s-token-automount")) == 1
    assert len(findings(ident, rule="k8s-binding-to-missing-role")) == 1
