"""Migrating an IAM user's access key to an OIDC-trusted role, end to end on moto (live state asserted)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from nhiwarden.model import Credential, Identity
from nhiwarden.playbooks import Engine, PlanError, StateChanged, StepFailed, connections
from nhiwarden.playbooks.migrate import MigrateRequest, consumer_outputs, make_migrate_plan
from nhiwarden.providers.aws.trust import trusts_from_policy
from nhiwarden.rules.builtin.federation import judge

from .helpers import report_for

ACCOUNT = "123456789012"
GH_HOST = "token.actions.githubusercontent.com"
GH_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GH_HOST}"
READ_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
PUT_LOGS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
GROUP_INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
}


@dataclass
class User:
    name: str
    key_id: str
    secret: str
    managed: list[str]
    group: str
    iam: Any
    report: Any
    finding_id: str
    env: dict[str, str]

    def request(self, consumer: str = "github:acme/app@main", **extra: Any) -> MigrateRequest:
        return MigrateRequest(
            playbook="migrate",
            report=self.report,
            finding_ids=[self.finding_id],
            to="aws-role",
            consumer=consumer,
            connections=connections(self.report, self.env),
            env=self.env,
            **extra,
        )

    def key_status(self) -> str | None:
        for k in self.iam.list_access_keys(UserName=self.name)["AccessKeyMetadata"]:
            if k["AccessKeyId"] == self.key_id:
                return str(k["Status"])
        return None


def _providers(iam: Any) -> list[str]:
    return [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


@pytest.fixture
def user(aws_env: dict[str, str], moto_url: str) -> User:
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    for arn in _providers(iam):  # each test starts without the GitHub provider
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    name = f"svc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    direct = iam.create_policy(PolicyName=f"{name}-read", PolicyDocument=json.dumps(READ_S3))["Policy"]["Arn"]
    via_group = iam.create_policy(PolicyName=f"{name}-logs", PolicyDocument=json.dumps(PUT_LOGS))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=direct)
    iam.put_user_policy(UserName=name, PolicyName="extra", PolicyDocument=json.dumps(PUT_LOGS))
    group = f"{name}-g"
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=via_group)
    iam.put_group_policy(GroupName=group, PolicyName="queue", PolicyDocument=json.dumps(GROUP_INLINE))
    iam.add_user_to_group(GroupName=group, UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    uid = f"aws:{ACCOUNT}:user/{name}"
    cred = Credential(uid=f"{uid}:key/{key['AccessKeyId']}", kind="aws-access-key", id=key["AccessKeyId"], static=True)
    identity = Identity(uid=uid, provider="aws", kind="aws-iam-user", scope=ACCOUNT, name=name, credentials=[cred])
    report, fid = report_for(
        identity, cred, "static-credential", {"aws": {"endpoint_url": moto_url, "region": "us-east-1"}}
    )
    return User(
        name, key["AccessKeyId"], key["SecretAccessKey"], sorted([direct, via_group]), group, iam, report, fid, aws_env
    )


def _role(iam: Any, name: str) -> dict[str, Any]:
    role = iam.get_role(RoleName=name)["Role"]
    attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
    inline = {
        p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
    }
    return {"arn": role["Arn"], "trust": role["AssumeRolePolicyDocument"], "managed": attached, "inline": inline}


def _apply(plan: Any, tmp_path: Path, name: str = "plan", **kw: Any) -> tuple[Engine, Any]:
    path = tmp_path / f"{name}.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    engine = Engine(plan, tmp_path / f"{name}.journal.jsonl", plan_path=path, **kw)
    return engine, engine.apply()


def test_migration_creates_provider_and_role_pinned_to_the_consumer_with_the_users_permissions(
    user: User, tmp_path: Path
) -> None:
    plan = make_migrate_plan(user.request())
    _, result = _apply(plan, tmp_path)
    role_name = f"{user.name}-federated"
    assert result.ran == ["t1.oidc-provider", "t1.role", "t1.permissions", "t1.verify", "t1.consumer"]

    assert _providers(user.iam) == [GH_ARN]
    provider = user.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=GH_ARN)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    role = _role(user.iam, role_name)
    assert role["trust"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NhiwardenMigratedFrom" + user.name.replace("-", ""),
                "Effect": "Allow",
                "Principal": {"Federated": GH_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GH_HOST}:aud": "sts.amazonaws.com",
                        f"{GH_HOST}:sub": "repo:acme/app:ref:refs/heads/main",
                    }
                },
            }
        ],
    }
    assert role["managed"] == user.managed
    assert role["inline"] == {"user-extra": PUT_LOGS, f"group-{user.group}-queue": GROUP_INLINE}
    # the trust the migration created passes the federation trust audit
    assert [judge(t) for t in trusts_from_policy(role["trust"])] == [None]
    # the old key is untouched until the verification window has passed
    assert user.key_status() == "Active"


def test_github_snippet_is_valid_yaml_naming_the_created_role(user: User, tmp_path: Path) -> None:
    snippet_file = tmp_path / "deploy.yml"
    plan = make_migrate_plan(user.request("github:acme/app:production", snippet_path=str(snippet_file)))
    _apply(plan, tmp_path)
    (out,) = consumer_outputs(plan)
    role_arn = user.iam.get_role(RoleName=f"{user.name}-federated")["Role"]["Arn"]
    assert out["role_arn"] == role_arn
    for text in (out["snippet"], snippet_file.read_text()):
        job = yaml.safe_load(text)["jobs"]["deploy"]
        assert job["permissions"]["id-token"] == "write"
        assert job["environment"] == "production"
        (step,) = job["steps"]
        assert step["uses"].startswith("aws-actions/configure-aws-credentials@")
        assert step["with"]["role-to-assume"] == role_arn
    trust = _role(user.iam, f"{user.name}-federated")["trust"]
    assert (
        trust["Statement"][0]["Condition"]["StringEquals"][f"{GH_HOST}:sub"] == "repo:acme/app:environment:production"
    )


def test_repository_without_ref_is_pinned_to_that_repository_only(user: User, tmp_path: Path) -> None:
    _apply(make_migrate_plan(user.request("github:acme/app")), tmp_path)
    cond = _role(user.iam, f"{user.name}-federated")["trust"]["Statement"][0]["Condition"]
    assert cond["StringLike"] == {f"{GH_HOST}:sub": "repo:acme/app:*"}
    assert cond["StringEquals"] == {f"{GH_HOST}:aud": "sts.amazonaws.com"}


def test_reapplying_and_replanning_change_nothing(user: User, tmp_path: Path) -> None:
    plan = make_migrate_plan(user.request())
    engine, _ = _apply(plan, tmp_path)
    role_name = f"{user.name}-federated"
    before = (_role(user.iam, role_name), _providers(user.iam))
    assert engine.apply().ran == []  # the journal says every step is done

    again = make_migrate_plan(user.request())
    engine2, result = _apply(again, tmp_path, "plan2")
    assert result.ran == ["t1.oidc-provider", "t1.role", "t1.permissions", "t1.verify", "t1.consumer"]
    outputs = [json.loads(line) for line in (tmp_path / "plan2.journal.jsonl").read_text().splitlines()]
    done = {e["step"]: e["outputs"] for e in outputs if e["event"] == "completed"}
    assert done["t1.oidc-provider"]["created"] is False and done["t1.oidc-provider"]["added_audience"] is False
    assert done["t1.role"]["created"] is False
    assert done["t1.permissions"] == {"attached": [], "put": [], "changed": False}
    assert (_role(user.iam, role_name), _providers(user.iam)) == before
    # rolling back the no-op plan leaves the first plan's role in place
    engine2.rollback()
    assert (_role(user.iam, role_name), _providers(user.iam)) == before


def test_rollback_removes_everything_the_migration_created(user: User, tmp_path: Path) -> None:
    plan = make_migrate_plan(user.request())
    engine, _ = _apply(plan, tmp_path)
    result = engine.rollback()
    assert set(result.rolled_back) >= {"t1.oidc-provider", "t1.role", "t1.permissions"}
    assert _providers(user.iam) == []
    with pytest.raises(user.iam.exceptions.NoSuchEntityException):
        user.iam.get_role(RoleName=f"{user.name}-federated")
    assert user.key_status() == "Active"
    assert [p["PolicyArn"] for p in user.iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"]]


def test_existing_provider_is_reused_and_survives_the_rollback(user: User, tmp_path: Path) -> None:
    # moto 5 does not implement AddClientIDToOpenIDConnectProvider: the provider already has the audience
    user.iam.create_open_id_connect_provider(
        Url=f"https://{GH_HOST}",
        ClientIDList=["sts.amazonaws.com", "https://github.com/acme"],
        ThumbprintList=["a" * 40],
    )
    plan = make_migrate_plan(user.request())
    assert plan.step("t1.oidc-provider").api_call == "none: the provider exists with this audience"
    engine, _ = _apply(plan, tmp_path)
    role = _role(user.iam, f"{user.name}-federated")
    assert role["trust"]["Statement"][0]["Principal"] == {"Federated": GH_ARN}
    engine.rollback()
    assert _providers(user.iam) == [GH_ARN]
    assert sorted(user.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=GH_ARN)["ClientIDList"]) == [
        "https://github.com/acme",
        "sts.amazonaws.com",
    ]


def test_a_failing_step_rolls_back_the_created_provider_and_role(
    user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make_migrate_plan(user.request())
    env = {**user.env, "NHIWARDEN_FAULT": "t1.verify:before:fail"}
    path = tmp_path / "p.json"
    path.write_text(plan.to_json())
    with pytest.raises(StepFailed, match=r"rolled back: t1\.permissions, t1\.role, t1\.oidc-provider"):
        Engine(plan, tmp_path / "p.journal.jsonl", plan_path=path, env=env).apply()
    assert _providers(user.iam) == []
    with pytest.raises(user.iam.exceptions.NoSuchEntityException):
        user.iam.get_role(RoleName=f"{user.name}-federated")


def test_role_with_same_name_and_other_trust_is_never_overwritten(user: User) -> None:
    user.iam.create_role(
        RoleName=f"{user.name}-federated",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    with pytest.raises(PlanError, match="another trust policy"):
        make_migrate_plan(user.request())


def test_old_key_is_deactivated_after_the_window_when_unused_then_deleted(user: User, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    plan = make_migrate_plan(user.request())
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    journal = tmp_path / "plan.journal.jsonl"
    Engine(plan, journal, plan_path=path, now=start).apply()
    with pytest.raises(PlanError, match="not due"):
        Engine(plan, journal, plan_path=path, now=start + timedelta(days=1)).apply("deactivate")
    assert user.key_status() == "Active"
    later = start + timedelta(days=8)
    assert Engine(plan, journal, plan_path=path, now=later).apply("deactivate").ran == ["t1.deactivate"]
    assert user.key_status() == "Inactive"
    Engine(plan, journal, plan_path=path, now=later + timedelta(days=8)).apply("delete")
    assert user.key_status() is None
    # the role survives the retirement of the key
    assert user.iam.get_role(RoleName=f"{user.name}-federated")["Role"]["Arn"]


def test_old_key_still_in_use_after_migration_is_not_deactivated(user: User, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    plan = make_migrate_plan(user.request())
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    journal = tmp_path / "plan.journal.jsonl"
    Engine(plan, journal, plan_path=path, now=start).apply()
    # a consumer still signs requests with the old key (moto records last use)
    boto3.client(
        "sts",
        endpoint_url=user.env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=user.key_id,
        aws_secret_access_key=user.secret,
    ).get_caller_identity()
    with pytest.raises(StateChanged, match="not used since the role was verified"):
        Engine(plan, journal, plan_path=path, now=start + timedelta(days=8)).apply("deactivate")
    assert user.key_status() == "Active"


def test_no_secret_in_plan_journal_or_snippet(user: User, tmp_path: Path) -> None:
    plan = make_migrate_plan(user.request())
    _apply(plan, tmp_path)
    texts = [
        plan.to_json(),
        (tmp_path / "plan.journal.jsonl").read_text(),
        *[o["snippet"] for o in consumer_outputs(plan)],
    ]
    assert all(user.secret not in t for t in texts)


def test_bad_consumer_is_refused_with_the_accepted_forms(user: User) -> None:
    with pytest.raises(PlanError, match="github:org/repo"):
        make_migrate_plan(user.request("github:acme"))


def test_crash_after_creating_the_role_resumes_and_the_role_is_still_rolled_back(user: User, tmp_path: Path) -> None:
    import subprocess
    import sys

    plan = make_migrate_plan(user.request())
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    journal = tmp_path / "plan.journal.jsonl"
    code = (
        "import sys; from pathlib import Path; from nhiwarden.playbooks import Engine, load_plan; "
        "import nhiwarden.playbooks.migrate; p = Path(sys.argv[1]); "
        "Engine(load_plan(p), Path(sys.argv[2]), plan_path=p).apply()"
    )
    env = {**__import__("os").environ, **user.env, "NHIWARDEN_FAULT": "t1.role:after:crash"}
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(journal)], env=env, timeout=60, check=False)
    assert proc.returncode == 137
    assert user.iam.get_role(RoleName=f"{user.name}-federated")["Role"]  # created, not journaled
    engine = Engine(plan, journal, plan_path=path)
    result = engine.apply()
    assert "t1.role" in result.ran
    engine.rollback()
    with pytest.raises(user.iam.exceptions.NoSuchEntityException):
        user.iam.get_role(RoleName=f"{user.name}-federated")
    assert _providers(user.iam) == []


def test_eks_consumer_gets_an_irsa_role_for_its_service_account(user: User, tmp_path: Path) -> None:
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    plan = make_migrate_plan(user.request(f"k8s:{issuer}/ci/runner"))
    _apply(plan, tmp_path)
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"
    assert _providers(user.iam) == [arn]
    cond = _role(user.iam, f"{user.name}-federated")["trust"]["Statement"][0]["Condition"]
    assert cond == {
        "StringEquals": {f"{issuer}:aud": "sts.amazonaws.com", f"{issuer}:sub": "system:serviceaccount:ci:runner"}
    }
    (out,) = consumer_outputs(plan)
    sa = yaml.safe_load(out["snippet"])
    assert sa["metadata"] == {
        "name": "runner",
        "namespace": "ci",
        "annotations": {"eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/{user.name}-federated"},
    }


def test_gitlab_consumer_is_pinned_to_its_project_and_branch(user: User, tmp_path: Path) -> None:
    _apply(make_migrate_plan(user.request("gitlab:acme/platform/deployer@main")), tmp_path)
    cond = _role(user.iam, f"{user.name}-federated")["trust"]["Statement"][0]["Condition"]["StringEquals"]
    assert cond["gitlab.com:sub"] == "project_path:acme/platform/deployer:ref_type:branch:ref:main"


def test_trust_audit_reads_roles_as_get_account_authorization_details_returns_them(user: User) -> None:
    """Extraction on moto's real response shape (the provider's source): broad role flagged, narrow not."""
    from nhiwarden.config import Config
    from nhiwarden.model import Inventory, ScopeResult
    from nhiwarden.rules.engine import evaluate

    user.iam.create_open_id_connect_provider(
        Url=f"https://{GH_HOST}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )
    docs = {
        f"{user.name}-broad": {"StringLike": {f"{GH_HOST}:sub": "repo:acme/*"}},
        f"{user.name}-narrow": {"StringEquals": {f"{GH_HOST}:sub": "repo:acme/app:ref:refs/heads/main"}},
    }
    for name, cond in docs.items():
        doc = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": GH_ARN},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": cond,
                }
            ],
        }
        user.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))
    roles = {
        r["RoleName"]: r
        for r in user.iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
        if r["RoleName"] in docs
    }
    identities = [
        Identity(
            uid=f"aws:{ACCOUNT}:role/{name}",
            provider="aws",
            kind="aws-iam-role",
            scope=ACCOUNT,
            name=name,
            trusts=trusts_from_policy(role["AssumeRolePolicyDocument"], role_arn=role["Arn"]),
        )
        for name, role in roles.items()
    ]
    findings = evaluate(
        Inventory(scopes=[ScopeResult(provider="aws", scope=ACCOUNT, identities=identities)]),
        as_of=datetime.now(UTC),
        config=Config(),
    )
    flagged = [f.identity.name for f in findings if f.rule_id == "federation-trust-too-broad"]
    assert flagged == [f"{user.name}-broad"]
