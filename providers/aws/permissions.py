"""The IAM permissions a scan needs, each with why, and the read-only policy built from them.

Owns the single list that ``doctor``, the shipped policy file and the README come from, so they cannot
drift (a test compares the policy file with ``scanner_policy()``).
"""

from __future__ import annotations

from typing import Any

from nhiwarden.providers import Permission

PERMISSIONS: tuple[Permission, ...] = (
    Permission("sts:GetCallerIdentity", "learn the caller's account (needs no policy; checks the credentials)"),
    Permission(
        "iam:GenerateCredentialReport",
        "start the credential report: every user's keys, password and MFA in one call (read-only)",
    ),
    Permission("iam:GetCredentialReport", "download the credential report (key and password last-used dates)"),
    Permission(
        "iam:GetAccountAuthorizationDetails",
        "read all users, groups, roles (RoleLastUsed) and their policies in a few paginated calls",
    ),
    Permission("iam:GetPolicy", "find the default version of an attached AWS-managed policy"),
    Permission("iam:GetPolicyVersion", "read an AWS-managed policy document (once per scan, for all accounts)"),
    Permission("iam:ListAccessKeys", "name the AccessKeyId of a flagged key (only users with key findings)"),
    Permission(
        "iam:GetAccessKeyLastUsed", "per-key last use when two keys of a user cannot be told apart by the report"
    ),
    Permission(
        "sts:AssumeRole",
        "reach accounts other than the caller's through --aws-role-name (multi-account scans only)",
        optional=True,
    ),
    Permission(
        "organizations:ListAccounts", "list the Organization's accounts (--aws-organization only)", optional=True
    ),
)
POLICY_FILE = "nhiwarden-scanner-policy.json"
# Actions the scanned account's policy grants (sts:GetCallerIdentity needs no grant).
READ_ACTIONS = [p.action for p in PERMISSIONS if p.action.startswith("iam:")]


def scanner_policy(role_name: str = "OrganizationAccountAccessRole") -> dict[str, Any]:
    """The least-privilege policy: read-only IAM, plus AssumeRole and ListAccounts for multi-account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NhiwardenReadIam", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": "*"},
            {
                "Sid": "NhiwardenMultiAccountOptional",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": f"arn:aws:iam::*:role/{role_name}",
            },
            {
                "Sid": "NhiwardenOrganizationOptional",
                "Effect": "Allow",
                "Action": ["organizations:ListAccounts"],
                "Resource": "*",
            },
        ],
    }
