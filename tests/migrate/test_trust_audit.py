"""The federation trust audit: each provider's raw trust shape -> FederationTrust -> federation-trust-too-broad."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from nhiwarden.config import Config
from nhiwarden.findings import Finding, Severity
from nhiwarden.model import FederationTrust, Identity, Inventory, ScopeResult
from nhiwarden.providers.aws.trust import trusts_from_policy
from nhiwarden.providers.azure.trust import trust_from_credential
from nhiwarden.providers.gcp.trust import trust_for_member, trust_from_provider
from nhiwarden.providers.vault.trust import trust_from_role
from nhiwarden.rules.engine import evaluate

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
GH = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
RULE = "federation-trust-too-broad"


def findings_for(provider: str, trusts: list[FederationTrust], config: Config | None = None) -> list[Finding]:
    identity = Identity(
        uid=f"{provider}:x:role/deploy",
        provider=provider,
        kind=f"{provider}-role",
        scope="x",
        name="deploy",
        trusts=trusts,
    )
    inventory = Inventory(scopes=[ScopeResult(provider=provider, scope="x", identities=[identity])])
    return [f for f in evaluate(inventory, as_of=AS_OF, config=config or Config()) if f.rule_id == RULE]


def aws_policy(condition: dict[str, Any] | None, principal: str = GH) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": principal},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


# -- AWS ------------------------------------------------------------------------------------------


def test_aws_role_trusting_github_without_sub_condition_is_flagged_high() -> None:
    trusts = trusts_from_policy(
        aws_policy({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
        role_arn="arn:aws:iam::123456789012:role/deploy",
    )
    assert trusts[0].issuer == "https://token.actions.githubusercontent.com"
    assert trusts[0].subjects is None and trusts[0].audiences == ["sts.amazonaws.com"]
    (finding,) = findings_for("aws", trusts)
    assert finding.severity == Severity.HIGH
    assert "no subject condition" in finding.message
    assert "OWASP-NHI6" in finding.controls


def test_aws_role_with_org_wide_sub_wildcard_is_flagged_medium() -> None:
    trusts = trusts_from_policy(
        aws_policy(
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
            }
        )
    )
    (finding,) = findings_for("aws", trusts)
    assert finding.severity == Severity.MEDIUM
    assert "every repository of acme" in finding.message


def test_aws_role_with_any_repository_wildcard_is_flagged_high() -> None:
    trusts = trusts_from_policy(aws_policy({"StringLike": {"token.actions.githubusercontent.com:sub": ["repo:*"]}}))
    (finding,) = findings_for("aws", trusts)
    assert finding.severity == Severity.HIGH


def test_aws_sub_condition_with_if_exists_does_not_pin_the_subject() -> None:
    trusts = trusts_from_policy(
        aws_policy({"StringLikeIfExists": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}})
    )
    assert trusts[0].subjects is None
    assert findings_for("aws", trusts)


def test_aws_role_pinned_to_one_repository_is_not_flagged() -> None:
    trusts = trusts_from_policy(
        aws_policy(
            {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": "repo:acme/app:environment:prod",
                }
            }
        )
    )
    assert trusts[0].subjects == ["repo:acme/app:environment:prod"]
    assert findings_for("aws", trusts) == []


def test_aws_branch_wildcard_inside_one_repository_is_not_flagged() -> None:
    trusts = trusts_from_policy(
        aws_policy({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/*"}})
    )
    assert findings_for("aws", trusts) == []


def test_aws_string_equals_star_is_a_literal_not_a_wildcard() -> None:
    trusts = trusts_from_policy(
        aws_policy({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}})
    )
    assert findings_for("aws", trusts) == []


def test_aws_eks_irsa_trust_with_namespace_wildcard_is_flagged() -> None:
    eks = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
    broad = trusts_from_policy(
        aws_policy({"StringLike": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:*:*"}}, eks)
    )
    narrow = trusts_from_policy(
        aws_policy(
            {"StringEquals": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:ci:runner"}}, eks
        )
    )
    assert findings_for("aws", broad)[0].severity == Severity.HIGH
    assert findings_for("aws", narrow) == []


def test_aws_service_and_saml_trusts_are_not_federation_trusts() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:saml-provider/okta"},
                "Action": "sts:AssumeRoleWithSAML",
            },
        ],
    }
    assert trusts_from_policy(doc) == []


def test_aws_url_encoded_trust_policy_is_read() -> None:
    import json
    from urllib.parse import quote

    raw = quote(json.dumps(aws_policy(None)))
    assert trusts_from_policy(raw)[0].subjects is None


# -- AWS IAM Roles Anywhere ----------------------------------------------------------------------

ANCHOR = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0f4b9c2e-1111-2222-3333-444455556666"


def ra_policy(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
    }
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_aws_roles_anywhere_trust_without_subject_or_anchor_is_flagged_high() -> None:
    (trust,) = trusts_from_policy(ra_policy(None), role_arn="arn:aws:iam::123456789012:role/onprem")
    assert trust.issuer == "rolesanywhere.amazonaws.com"
    assert trust.subjects is None and trust.conditions == {}
    (finding,) = findings_for("aws", [trust])
    assert finding.severity == Severity.HIGH
    assert "no x509Subject or aws:SourceArn condition" in finding.message


def test_aws_roles_anywhere_trust_planned_by_migrate_pinned_to_subject_and_anchor_is_not_flagged() -> None:
    from nhiwarden.playbooks.builders.migrate_aws import ra_trust_policy

    policy = ra_trust_policy(ANCHOR, (("CN", "onprem-01.acme.example"), ("O", "Acme")), "svc-onprem")
    (trust,) = trusts_from_policy(policy)
    assert trust.subjects == ["CN=onprem-01.acme.example", "O=Acme"]
    assert trust.conditions == {"aws:SourceArn": [ANCHOR]}
    assert findings_for("aws", [trust]) == []


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        ({"ArnEquals": {"aws:SourceArn": ANCHOR}}, "no x509Subject condition"),
        ({"StringEquals": {"aws:PrincipalTag/x509Subject/CN": "onprem-01"}}, "no aws:SourceArn condition"),
        (
            {"StringLike": {"aws:PrincipalTag/x509Subject/CN": "*"}, "ArnLike": {"aws:SourceArn": ANCHOR}},
            "no x509Subject condition",
        ),
        (
            {
                "StringEquals": {"aws:PrincipalTag/x509Subject/CN": "onprem-01"},
                "ArnLike": {"aws:SourceArn": "arn:aws:rolesanywhere:*:123456789012:trust-anchor/*"},
            },
            "no aws:SourceArn condition",
        ),
    ],
)
def test_aws_roles_anywhere_trust_pinning_only_subject_or_only_anchor_is_flagged_medium(
    condition: dict[str, Any], why: str
) -> None:
    (finding,) = findings_for("aws", trusts_from_policy(ra_policy(condition)))
    assert finding.severity == Severity.MEDIUM and why in finding.message


def test_aws_roles_anywhere_if_exists_conditions_pin_nothing() -> None:
    condition = {
        "StringEqualsIfExists": {"aws:PrincipalTag/x509Subject/CN": "onprem-01"},
        "ArnEqualsIfExists": {"aws:SourceArn": ANCHOR},
    }
    (trust,) = trusts_from_policy(ra_policy(condition))
    assert trust.subjects is None
    assert findings_for("aws", [trust])[0].severity == Severity.HIGH


# -- GCP ------------------------------------------------------------------------------------------

GCP_PROVIDER: dict[str, Any] = {
    "name": "projects/123456/locations/global/workloadIdentityPools/ci/providers/github",
    "displayName": "github",
    "state": "ACTIVE",
    "disabled": False,
    "attributeMapping": {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository"},
    "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
}


def test_gcp_provider_without_attribute_condition_is_flagged_high() -> None:
    trust = trust_from_provider(GCP_PROVIDER)
    assert trust.expression is None and trust.issuer == "https://token.actions.githubusercontent.com"
    (finding,) = findings_for("gcp", [trust])
    assert finding.severity == Severity.HIGH and "attributeCondition" in finding.message


def test_gcp_provider_with_attribute_condition_is_not_flagged() -> None:
    trust = trust_from_provider({**GCP_PROVIDER, "attributeCondition": "assertion.repository == 'acme/app'"})
    assert trust.expression == "assertion.repository == 'acme/app'"
    assert findings_for("gcp", [trust]) == []


def test_gcp_disabled_provider_is_not_flagged() -> None:
    assert findings_for("gcp", [trust_from_provider({**GCP_PROVIDER, "disabled": True})]) == []


def test_gcp_member_pinning_one_repository_narrows_a_provider_without_condition() -> None:
    pool = "projects/123456/locations/global/workloadIdentityPools/ci"
    narrow = trust_for_member(GCP_PROVIDER, f"principalSet://iam.googleapis.com/{pool}/attribute.repository/acme/app")
    wide = trust_for_member(GCP_PROVIDER, f"principalSet://iam.googleapis.com/{pool}/*")
    assert narrow is not None and narrow.conditions == {"repository": ["acme/app"]}
    assert findings_for("gcp", [narrow]) == []
    assert wide is not None and findings_for("gcp", [wide])
    assert trust_for_member(GCP_PROVIDER, "serviceAccount:x@p.iam.gserviceaccount.com") is None


# -- Azure ----------------------------------------------------------------------------------------


def fic(**extra: Any) -> dict[str, Any]:
    return {
        "id": "9d8f6a0e-0000-4000-8000-000000000001",
        "name": "github-prod",
        "issuer": "https://token.actions.githubusercontent.com",
        "audiences": ["api://AzureADTokenExchange"],
        "description": None,
        **extra,
    }


def test_azure_federated_credential_with_exact_subject_is_not_flagged() -> None:
    trust = trust_from_credential(fic(subject="repo:acme/app:environment:prod"))
    assert trust.subjects == ["repo:acme/app:environment:prod"]
    assert findings_for("azure", [trust]) == []


def test_azure_flexible_credential_matching_every_repository_of_an_org_is_flagged() -> None:
    trust = trust_from_credential(
        fic(
            subject=None,
            claimsMatchingExpression={"value": "claims['sub'] matches 'repo:acme/*'", "languageVersion": 1},
        )
    )
    assert trust.subjects == ["repo:acme/*"] and trust.expression
    (finding,) = findings_for("azure", [trust])
    assert finding.severity == Severity.MEDIUM


def test_azure_flexible_credential_matching_branches_of_one_repository_is_not_flagged() -> None:
    trust = trust_from_credential(
        fic(
            subject=None,
            claimsMatchingExpression={
                "value": "claims['sub'] matches 'repo:acme/app:ref:refs/heads/*'",
                "languageVersion": 1,
            },
        )
    )
    assert findings_for("azure", [trust]) == []


def test_azure_plain_subject_with_star_is_literal() -> None:
    assert findings_for("azure", [trust_from_credential(fic(subject="repo:acme/*"))]) == []


def test_azure_arm_user_assigned_identity_credential_shape_is_read() -> None:
    arm = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"
        "/federatedIdentityCredentials/k8s",
        "name": "k8s",
        "properties": {
            "issuer": "https://oidc.prod-aks.azure.com/tenant/issuer/",
            "subject": "system:serviceaccount:ci:runner",
            "audiences": ["api://AzureADTokenExchange"],
        },
    }
    trust = trust_from_credential(arm, owner="user-assigned-identity")
    assert trust.subjects == ["system:serviceaccount:ci:runner"]
    assert findings_for("azure", [trust]) == []


# -- Vault ----------------------------------------------------------------------------------------

VAULT_ROLE: dict[str, Any] = {
    "role_type": "jwt",
    "bound_audiences": ["https://github.com/acme"],
    "bound_subject": "",
    "bound_claims": None,
    "bound_claims_type": "string",
    "user_claim": "sub",
    "token_ttl": 900,
}


def vault_trust(**overrides: Any) -> FederationTrust:
    return trust_from_role(
        {**VAULT_ROLE, **overrides},
        issuer="https://token.actions.githubusercontent.com",
        source="auth/jwt/role/deploy",
    )


def without_vault_rule() -> Config:
    return Config.model_validate({"rules": {"vault-auth-role-wildcard-binding": {"enabled": False}}})


def test_vault_jwt_role_with_glob_bound_claim_is_flagged_when_the_vault_rule_is_off() -> None:
    trust = vault_trust(bound_claims={"sub": "repo:acme/*"}, bound_claims_type="glob")
    assert trust.subjects == ["repo:acme/*"]
    (finding,) = findings_for("vault", [trust], without_vault_rule())
    assert finding.severity == Severity.MEDIUM


def test_vault_jwt_role_is_left_to_the_vault_rule_when_it_is_enabled() -> None:
    trust = vault_trust(bound_claims={"sub": "repo:acme/*"}, bound_claims_type="glob")
    assert findings_for("vault", [trust]) == []


def test_vault_jwt_role_with_string_bound_claims_is_not_flagged() -> None:
    trust = vault_trust(bound_claims={"sub": "repo:acme/*"}, bound_claims_type="string")
    assert findings_for("vault", [trust], without_vault_rule()) == []


def test_vault_jwt_role_without_any_binding_is_flagged_high() -> None:
    (finding,) = findings_for("vault", [vault_trust()], without_vault_rule())
    assert finding.severity == Severity.HIGH


def test_vault_jwt_role_pinned_by_exact_repository_claim_is_not_flagged() -> None:
    trust = vault_trust(bound_claims={"repository": "acme/app"})
    assert findings_for("vault", [trust], without_vault_rule()) == []


@pytest.mark.parametrize(
    ("pattern", "broad"),
    [
        ("repo:acme/app:ref:refs/heads/main", False),
        ("repo:acme/app:*", False),
        ("repo:acme/*", True),
        ("repo:acme*", True),
        ("project_path:group/*:ref_type:branch:ref:main", True),
        ("project_path:group/app:ref_type:branch:ref:*", False),
        ("system:serviceaccount:ci:*", True),
        ("*", True),
        ("spiffe://example.org/ns/ci/sa/runner", False),
    ],
)
def test_subject_pattern_breadth(pattern: str, broad: bool) -> None:
    from nhiwarden.rules.builtin.federation import pattern_breadth

    assert (pattern_breadth(pattern) is not None) is broad
