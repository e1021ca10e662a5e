"""``nhiwarden doctor`` for AWS: call each read-only API the scan needs with minimal parameters.

Owns turning AccessDenied into "missing <action>: needed to <why>". Any other answer (including
NoSuchEntity or ReportNotPresent) proves the permission is there. Never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nhiwarden.model import Scope
from nhiwarden.providers import DoctorCheck
from nhiwarden.providers.aws import errors
from nhiwarden.providers.aws.permissions import PERMISSIONS, POLICY_FILE
from nhiwarden.providers.aws.session import AccountSession
from nhiwarden.providers.aws.settings import AwsSettings

_PROBE_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
_PROBE_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id: never a real key


def _probes(aws: AccountSession) -> dict[str, Callable[[], Any]]:
    return {
        "sts:GetCallerIdentity": lambda: aws.call("sts", "get_caller_identity"),
        "iam:GenerateCredentialReport": lambda: aws.call("iam", "generate_credential_report"),
        "iam:GetCredentialReport": lambda: aws.call("iam", "get_credential_report"),
        "iam:GetAccountAuthorizationDetails": lambda: aws.call(
            "iam", "get_account_authorization_details", Filter=["User"], MaxItems=1
        ),
        "iam:GetPolicy": lambda: aws.call("iam", "get_policy", PolicyArn=_PROBE_POLICY),
        "iam:GetPolicyVersion": lambda: aws.call("iam", "get_policy_version", PolicyArn=_PROBE_POLICY, VersionId="v1"),
        "iam:ListAccessKeys": lambda: aws.call("iam", "list_access_keys", UserName="nhiwarden-doctor-probe"),
        "iam:GetAccessKeyLastUsed": lambda: aws.call("iam", "get_access_key_last_used", AccessKeyId=_PROBE_KEY),
        "organizations:ListAccounts": lambda: aws.call("organizations", "list_accounts", MaxResults=1),
    }


def run_checks(aws: AccountSession, scope: Scope, settings: AwsSettings) -> list[DoctorCheck]:
    checks: list[DoctorCheck] = []
    probes = _probes(aws)
    if scope.params.get("role_arn"):
        checks.append(
            DoctorCheck(scope=scope.id, check="sts:AssumeRole", ok=True, detail=f"assumed {scope.params['role_arn']}")
        )
    for permission in PERMISSIONS:
        probe = probes.get(permission.action)
        if probe is None:
            continue
        if permission.action == "organizations:ListAccounts" and not settings.organization:
            continue
        try:
            probe()
        except Exception as exc:
            if errors.is_denied(exc):
                checks.append(
                    DoctorCheck(
                        scope=scope.id,
                        check=permission.action,
                        ok=False,
                        detail=f"missing {permission.action}: needed to {permission.why}; grant it (see {POLICY_FILE})",
                    )
                )
                continue
            if errors.kind_of(exc) in {"auth", "network", "throttled"}:
                checks.append(
                    DoctorCheck(scope=scope.id, check=permission.action, ok=False, detail=errors.describe(exc))
                )
                continue
        checks.append(DoctorCheck(scope=scope.id, check=permission.action, ok=True, detail=permission.why))
    return checks
