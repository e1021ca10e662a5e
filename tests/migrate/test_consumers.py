"""The --consumer syntax: the issuer and subject each form pins, and the refusal of malformed forms."""

from __future__ import annotations

import pytest
import yaml
from nhiwarden.playbooks import PlanError
from nhiwarden.playbooks.migrate import aws_snippet, parse_consumer


@pytest.mark.parametrize(
    ("spec", "issuer", "subject", "pattern"),
    [
        (
            "github:acme/app@main",
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:ref:refs/heads/main",
            False,
        ),
        (
            "github:acme/app@refs/tags/v1",
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:ref:refs/tags/v1",
            False,
        ),
        (
            "github:acme/app:prod",
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:environment:prod",
            False,
        ),
        ("github:acme/app", "https://token.actions.githubusercontent.com", "repo:acme/app:*", True),
        (
            "gitlab:group/sub/proj@main",
            "https://gitlab.com",
            "project_path:group/sub/proj:ref_type:branch:ref:main",
            False,
        ),
        ("gitlab:group/proj", "https://gitlab.com", "project_path:group/proj:*", True),
        (
            "k8s:oidc.eks.eu-west-1.amazonaws.com/id/ABC123/ci/runner",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123",
            "system:serviceaccount:ci:runner",
            False,
        ),
    ],
)
def test_consumer_forms_pin_issuer_and_subject(spec: str, issuer: str, subject: str, pattern: bool) -> None:
    c = parse_consumer(spec)
    assert (c.issuer, c.subject, c.subject_is_pattern) == (issuer, subject, pattern)


@pytest.mark.parametrize(
    "spec", ["github:acme", "github:acme/app@", "gitlab:proj", "k8s:issuer/ns", "azure-mi:", "s3:x", ""]
)
def test_malformed_consumers_are_refused(spec: str) -> None:
    with pytest.raises(PlanError, match="expected github:org/repo"):
        parse_consumer(spec)


def test_azure_managed_identity_consumer_is_parsed() -> None:
    assert parse_consumer("azure-mi:payments-worker").kind == "azure-mi"


@pytest.mark.parametrize("spec", ["github:acme/app@main", "gitlab:group/proj@main", "k8s:oidc.example.com/ci/runner"])
def test_aws_snippets_are_valid_yaml_naming_the_role(spec: str) -> None:
    arn = "arn:aws:iam::123456789012:role/svc-federated"
    doc = yaml.safe_load(aws_snippet(arn, "eu-west-1", parse_consumer(spec)))
    assert arn in yaml.safe_dump(doc)
    if spec.startswith("github"):
        assert doc["jobs"]["deploy"]["steps"][0]["with"]["role-to-assume"] == arn
    elif spec.startswith("gitlab"):
        assert doc["deploy"]["variables"]["AWS_ROLE_ARN"] == arn
        assert doc["deploy"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    else:
        assert doc["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn


def test_a_plan_request_from_the_cli_becomes_a_migrate_request() -> None:
    from datetime import UTC, datetime

    from nhiwarden.playbooks import PlanRequest
    from nhiwarden.playbooks.migrate import migrate_request_from
    from nhiwarden.report import Report, ScanInfo

    now = datetime.now(UTC)
    report = Report(scan=ScanInfo(id="s", started_at=now, finished_at=now, as_of=now))
    req = migrate_request_from(
        PlanRequest(playbook="migrate", report=report, finding_ids=["f1"], max_changes=2),
        to="aws-role",
        consumer="github:acme/app@main",
    )
    assert (req.finding_ids, req.max_changes, req.to, req.consumer) == (["f1"], 2, "aws-role", "github:acme/app@main")
