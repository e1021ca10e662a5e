"""Which AWS accounts to scan: the caller's, a given list, or every active account of the Organization.

Owns turning settings into Scopes (one per account) and the role ARN used to reach each account.
Never scans anything itself.
"""

from __future__ import annotations

from typing import Any

from nhiwarden.model import Scope
from nhiwarden.providers.aws.settings import AwsSettings


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[1] else "aws"


def role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def organization_accounts(org_client: Any, calls: Any = None) -> list[tuple[str, str | None]]:
    """(id, name) of every ACTIVE account, following NextToken."""
    out: list[tuple[str, str | None]] = []
    params: dict[str, Any] = {}
    while True:
        page = org_client.list_accounts(**params)
        for account in page.get("Accounts") or []:
            if account.get("Status", "ACTIVE") == "ACTIVE":
                out.append((str(account["Id"]), account.get("Name")))
        token = page.get("NextToken")
        if not token:
            return out
        params["NextToken"] = token


def make_scopes(
    settings: AwsSettings, caller_account: str, caller_arn: str, listed: list[tuple[str, str | None]]
) -> list[Scope]:
    partition = partition_of(caller_arn)
    wanted = listed or [(a, None) for a in settings.accounts] or [(caller_account, None)]
    scopes = []
    for account, name in wanted:
        params: dict[str, Any] = {"account_id": account, "partition": partition}
        if account != caller_account:
            params["role_arn"] = role_arn(partition, account, settings.role_name)
        scopes.append(Scope(provider="aws", id=account, name=name, params=params))
    return scopes
