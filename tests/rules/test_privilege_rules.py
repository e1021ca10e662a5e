"""over-privileged and human-use."""

from __future__ import annotations

from typing import Any

import pytest
from nhiwarden.model import Credential, Privilege

from tests.rules.rules_builders import ago, grant, identity, key, of_rule, password, scan

OVER = "over-privileged"
HUMAN = "human-use"


def test_admin_grant_on_identity_with_static_key_is_critical() -> None:
    ident = identity(grants=[grant("admin")], credentials=[key("AKIAADMIN")])
    [finding] = of_rule(scan(ident), OVER)
    assert finding.severity == "critical"
    assert finding.evidence["static_credentials"] == ["AKIAADMIN"]
    assert "AdministratorAccess" in finding.message
    assert "AKIAADMIN" in finding.message


def test_admin_role_without_static_secret_is_high() -> None:
    role = identity("deploy", kind="aws-iam-role", grants=[grant("admin")], credentials=[])
    [finding] = of_rule(scan(role), OVER)
    assert finding.severity == "high"
    assert finding.message == "deploy holds admin rights through managed-policy AdministratorAccess"


def test_admin_with_only_a_disabled_key_is_high() -> None:
    ident = identity(grants=[grant("admin")], credentials=[key(enabled=False)])
    assert of_rule(scan(ident), OVER)[0].severity == "high"


def test_privilege_escalation_is_high_even_with_a_static_key() -> None:
    esc = grant(
        "privilege-escalation",
        "ci-deploy",
        source_kind="inline-policy",
        via="group/deployers",
        reason="iam:PassRole with ec2:RunInstances",
        permissions=["iam:PassRole", "ec2:RunInstances"],
    )
    [finding] = of_rule(scan(identity(grants=[esc])), OVER)
    assert finding.severity == "high"
    assert finding.evidence["grants"] == [
        {
            "privilege": "privilege-escalation",
            "source": "ci-deploy",
            "source_kind": "inline-policy",
            "via": "group/deployers",
            "resource_scope": None,
            "reason": "iam:PassRole with ec2:RunInstances",
            "permissions": ["iam:PassRole", "ec2:RunInstances"],
        }
    ]
    assert "via group/deployers" in finding.message


def test_one_finding_per_identity_listing_every_risky_grant_worst_first() -> None:
    grants = [
        grant("privilege-escalation", "esc", reason="iam:CreateAccessKey on *"),
        grant("read", "ReadOnlyAccess", reason="read"),
        grant("admin", "AdministratorAccess"),
    ]
    [finding] = of_rule(scan(identity(grants=grants, credentials=[])), OVER)
    assert [g["source"] for g in finding.evidence["grants"]] == ["AdministratorAccess", "esc"]
    assert finding.evidence["privilege"] == "admin"
    assert "and 1 more grant" in finding.message


@pytest.mark.parametrize("privilege", [Privilege.WRITE, Privilege.READ])
def test_write_or_read_grants_are_not_over_privileged(privilege: Privilege) -> None:
    assert of_rule(scan(identity(grants=[grant(privilege)])), OVER) == []


def test_grant_controls_are_added_to_the_finding() -> None:
    binding = grant(
        "admin",
        "cluster-admin",
        source_kind="cluster-role-binding",
        reason="cluster-admin",
        controls=["CIS-K8S-5.1.2"],
    )
    sa = identity("worker", kind="k8s-service-account", provider="kubernetes", grants=[binding], credentials=[])
    [finding] = of_rule(scan(sa), OVER)
    assert {"CIS-K8S-5.1.1", "CIS-K8S-5.1.2", "OWASP-NHI5"} <= set(finding.controls)
    assert any(c.framework == "CIS-K8S" and c.control == "5.1.2" for c in finding.compliance)


def test_severity_override_wins_over_critical() -> None:
    ident = identity(grants=[grant("admin")])
    config = {"rules": {OVER: {"severity": "medium"}}}
    assert of_rule(scan(ident, config=config), OVER)[0].severity == "medium"


def test_disabled_identity_is_not_over_privileged() -> None:
    assert of_rule(scan(identity(enabled=False, grants=[grant("admin")])), OVER) == []


def test_console_password_next_to_access_key_is_human_use() -> None:
    ident = identity(credentials=[password(), key("AKIAHUMAN")])
    [finding] = of_rule(scan(ident), HUMAN)
    assert finding.severity == "high"
    assert finding.credential is not None and finding.credential.kind == "password"
    assert finding.message == "svc-ci has a console password for sign-in and also has access key AKIAHUMAN"
    assert finding.evidence["non_interactive_credentials"] == ["AKIAHUMAN"]


def test_password_on_identity_marked_non_human_is_human_use() -> None:
    ident = identity(credentials=[password()], attributes={"non_human": True})
    [finding] = of_rule(scan(ident), HUMAN)
    assert finding.evidence["non_human_attribute"] is True


@pytest.mark.parametrize(
    ("credentials", "attributes"),
    [
        ([password()], {}),
        ([password(enabled=False), key()], {}),
        ([key()], {"non_human": True}),
        ([password(expires=ago(1)), key()], {}),
    ],
    ids=["password-only", "disabled-password", "no-password", "expired-password"],
)
def test_not_human_use(credentials: list[Credential], attributes: dict[str, Any]) -> None:
    assert of_rule(scan(identity(credentials=credentials, attributes=attributes)), HUMAN) == []
