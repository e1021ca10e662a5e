"""Settings of the AWS provider (``providers.aws`` in nhiwarden.yaml and the ``--aws-*`` scan flags).

Owns validation of user input only; never reads credentials or the environment.
"""

from __future__ import annotations

import re

from nhiwarden.providers import ProviderSettings
from pydantic import Field, field_validator

_ACCOUNT_ID = re.compile(r"^\d{12}$")


class AwsSettings(ProviderSettings):
    profile: str | None = Field(
        default=None, description="Named profile from ~/.aws/config (default: the standard credential chain)."
    )
    region: str = Field(default="us-east-1", description="Region for the IAM/STS/Organizations clients.")
    endpoint_url: str | None = Field(
        default=None,
        description="Send every AWS call to this endpoint (e.g. a moto server); AWS_ENDPOINT_URL also works.",
    )
    accounts: list[str] = Field(
        default_factory=list,
        description="Account ids to scan (comma-separated); others than the caller's are reached by "
        "assuming --aws-role-name. Default: the caller's account.",
    )
    organization: bool = Field(
        default=False, description="Scan every active account of the AWS Organization (organizations:ListAccounts)."
    )
    role_name: str = Field(
        default="OrganizationAccountAccessRole",
        description="Role assumed in every account other than the caller's.",
    )
    external_id: str | None = Field(
        default=None, description="ExternalId passed to sts:AssumeRole, when the role's trust policy needs one."
    )
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries per API call on throttling and transient errors."
    )
    page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="MaxItems per GetAccountAuthorizationDetails page (config file only).",
        json_schema_extra={"flag": None},
    )
    parallel_reads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Accounts whose authorization details are read and modelled at once (config file only). "
        "Bounds peak memory at organisation scale; key-id resolution still runs for every account at once.",
        json_schema_extra={"flag": None},
    )
    owner_tags: list[str] = Field(
        default_factory=lambda: ["owner", "Owner", "team"],
        description="Tag keys that name an identity's owner, first match wins.",
    )

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for item in value:
            item = item.strip()
            if not _ACCOUNT_ID.match(item):
                raise ValueError(f"{item!r} is not a 12-digit AWS account id")
            if item not in out:
                out.append(item)
        return out
