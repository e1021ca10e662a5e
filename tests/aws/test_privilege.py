"""Over-privilege analysis of IAM policy documents (pure: no server needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from nhiwarden.model import Privilege
from nhiwarden.providers.aws.privilege import AttachedPolicy, analyse


def _doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action, resource="*", key="Action"):
    return {"Effect": "Allow", key: action, "Resource": resource}


def _inline(name, *statements):
    return AttachedPolicy(name=name, kind="inline-policy", document=_doc(*statements))


def test_star_action_on_star_resource_is_admin_with_the_cis_control():
    (grant,) = analyse([_inline("everything", _allow("*"))])
    assert grant.privilege is Privilege.ADMIN
    assert grant.source == "everything" and "CIS-AWS-1.16" in grant.controls


def test_a_single_statement_object_and_star_colon_star_are_understood():
    policy = AttachedPolicy("p", "managed-policy", {"Statement": {"Effect": "Allow", "Action": "*:*", "Resource": "*"}})
    assert analyse([policy])[0].privilege is Privilege.ADMIN


def test_star_action_on_one_bucket_is_not_admin():
    (grant,) = analyse([_inline("bucket", _allow("*", "arn:aws:s3:::logs/*"))])
    assert grant.privilege is Privilege.WRITE


def test_aws_managed_administrator_access_is_admin_by_name():
    policy = AttachedPolicy("AdministratorAccess", "aws-managed-policy", {}, via="group/admins")
    (grant,) = analyse([policy])
    assert grant.privilege is Privilege.ADMIN and grant.via == "group/admins"


def test_iam_full_access_and_service_wide_iam_star_are_admin_equivalent():
    assert analyse([AttachedPolicy("IAMFullAccess", "aws-managed-policy", {})])[0].privilege is Privilege.ADMIN
    (grant,) = analyse([_inline("iam-all", _allow(["iam:*", "s3:GetObject"]))])
    assert grant.privilege is Privilege.ADMIN and grant.permissions == ["iam:*"]


def test_not_action_that_leaves_iam_allowed_is_admin_equivalent():
    (grant,) = analyse([_inline("all-but-s3", _allow(["s3:*"], key="NotAction"))])
    assert grant.privilege is Privilege.ADMIN and "NotAction" in grant.reason


def test_not_action_excluding_iam_still_allows_assume_role_on_star():
    (grant,) = analyse([_inline("power-user", _allow(["iam:*", "organizations:*"], key="NotAction"))])
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION
    assert "sts:AssumeRole on *" in grant.permissions


def test_wildcard_put_actions_are_escalation():
    (grant,) = analyse([_inline("puts", _allow("iam:Put*", "arn:aws:iam::1:role/*"))])
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION
    assert {"iam:PutRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy"} <= set(grant.permissions)


def test_create_access_key_counts_only_on_every_user():
    own = _inline("self-rotate", _allow("iam:CreateAccessKey", "arn:aws:iam::1:user/${aws:username}"))
    assert analyse([own])[0].privilege is Privilege.WRITE
    anyone = _inline("mint", _allow("iam:CreateAccessKey"))
    (grant,) = analyse([anyone])
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION and grant.permissions == ["iam:CreateAccessKey on *"]


def test_assume_role_on_one_role_is_not_escalation():
    (grant,) = analyse([_inline("one-role", _allow("sts:AssumeRole", "arn:aws:iam::1:role/reader"))])
    assert grant.privilege is Privilege.WRITE


def test_passrole_with_compute_in_one_policy_is_escalation():
    (grant,) = analyse([_inline("deploy", _allow(["iam:PassRole", "ec2:RunInstances"]))])
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION
    assert grant.permissions == ["iam:PassRole + ec2:RunInstances"]


def test_passrole_and_compute_in_two_policies_add_up_to_escalation():
    grants = analyse([_inline("pass", _allow("iam:PassRole")), _inline("lambda", _allow("lambda:CreateFunction"))])
    (combo,) = [g for g in grants if g.privilege is Privilege.PRIVILEGE_ESCALATION]
    assert combo.source == "pass + lambda" and combo.source_kind == "policy-combination"
    assert combo.permissions == ["iam:PassRole + lambda:CreateFunction"]


def test_update_assume_role_policy_and_policy_versions_are_escalation():
    for action in (
        "iam:UpdateAssumeRolePolicy",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:AttachUserPolicy",
        "iam:AttachRolePolicy",
    ):
        (grant,) = analyse([_inline("p", _allow(action, "arn:aws:iam::1:role/x"))])
        assert grant.privilege is Privilege.PRIVILEGE_ESCALATION, action


def test_read_only_actions_are_read():
    (grant,) = analyse([_inline("r", _allow(["s3:Get*", "s3:List*", "ec2:Describe*"]))])
    assert grant.privilege is Privilege.READ


def test_deny_statements_are_noted_on_the_grants_they_may_restrict():
    grants = analyse(
        [
            _inline("mint", _allow("iam:CreateAccessKey")),
            _inline("guard", {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"}),
        ]
    )
    (grant,) = [g for g in grants if g.privilege is Privilege.PRIVILEGE_ESCALATION]
    assert "Deny in guard" in grant.reason


def test_case_and_malformed_statements_do_not_crash():
    grants = analyse(
        [
            AttachedPolicy(
                "odd",
                "inline-policy",
                {"Statement": ["junk", {"Effect": "allow", "Action": "IAM:CREATEACCESSKEY", "Resource": "*"}]},
            ),
            AttachedPolicy("empty", "inline-policy", {}),
        ]
    )
    assert [g.privilege for g in grants] == [Privilege.PRIVILEGE_ESCALATION]


def test_worst_grant_comes_first():
    grants = analyse([_inline("r", _allow("s3:GetObject")), _inline("all", _allow("*"))])
    assert [g.privilege for g in grants] == [Privilege.ADMIN, Privilege.READ]


_action = st.sampled_from(["*", "iam:*", "iam:Put*", "iam:PassRole", "ec2:RunInstances", "s3:GetObject", "sts:*", 7])
_value = st.one_of(_action, st.lists(_action, max_size=4), st.none(), st.dictionaries(st.text(max_size=3), _action))
_statement = st.one_of(
    st.fixed_dictionaries(
        {"Effect": st.sampled_from(["Allow", "Deny", "allow", 3])},
        optional={
            "Action": _value,
            "NotAction": _value,
            "Resource": _value,
            "NotResource": _value,
            "Condition": st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
        },
    ),
    st.text(max_size=5),
    st.integers(),
)


@given(st.lists(st.lists(_statement, max_size=4), max_size=4))
def test_analysis_never_crashes_on_odd_documents(documents):
    policies = [AttachedPolicy(f"p{i}", "inline-policy", {"Statement": d}) for i, d in enumerate(documents)]
    for grant in analyse(policies):
        assert grant.source and grant.reason
