"""``nhiwarden demo`` for AWS: a moto server with a realistic two-account estate, scanned over HTTP.

Owns the demo estate: production and staging accounts with a few dozen service users and roles,
backdated keys and last-used times, admin and escalation policies, a console password, fresh keys
that must not be flagged and a service-linked role. The scan runs as a dedicated scanner user with the
shipped least-privilege policy and reaches staging through OrganizationAccountAccessRole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from nhiwarden.sandbox.aws.estate import (
    TRUST_EC2,
    AccountSpec,
    GroupSpec,
    KeySpec,
    RoleSpec,
    UserSpec,
    allow,
    seed,
)
from nhiwarden.sandbox.aws.server import MotoSandbox
from nhiwarden.sandbox.base import DemoEstate

PROD = "111122223333"
STAGING = "444455556666"
SCANNER = "nhiwarden-scanner"
REGION = "us-east-1"


def scanner_policy() -> dict[str, Any]:
    text = resources.files("nhiwarden.providers.aws").joinpath("policy/nhiwarden-scanner-policy.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


def _trust_account(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }


def _healthy(name: str, team: str, age: float = 40) -> UserSpec:
    return UserSpec(
        name=name,
        created_days_ago=500,
        keys=[KeySpec(created_days_ago=age, last_used_days_ago=1)],
        tags={"owner": team},
        managed=["AmazonS3ReadOnlyAccess"],
    )


def demo_specs(prod: str = PROD, staging: str = STAGING) -> list[AccountSpec]:
    """The demo estate (account ids can be changed, e.g. by tests); tests assert its exact inventory."""
    prod_spec = AccountSpec(
        account_id=prod,
        policies={
            "nhiwarden-scanner": scanner_policy(),
            "deploy-with-passrole": allow("iam:PassRole", "ec2:RunInstances", "ec2:Describe*"),
        },
        groups=[
            GroupSpec("platform-admins", managed=["AdministratorAccess"]),
            GroupSpec("readers", managed=["ReadOnlyAccess"]),
        ],
        users=[
            UserSpec(
                SCANNER,
                created_days_ago=20,
                keys=[KeySpec(created_days_ago=20, last_used_days_ago=0)],
                managed=["nhiwarden-scanner"],
                tags={"owner": "security"},
            ),
            UserSpec(
                "svc-ci-deploy",
                created_days_ago=900,
                keys=[KeySpec(400, 2, service="ec2")],
                managed=["deploy-with-passrole"],
                tags={"owner": "platform"},
            ),
            UserSpec("svc-legacy-etl", created_days_ago=1200, keys=[KeySpec(700, 200)], tags={"team": "data"}),
            UserSpec(
                "svc-backup",
                created_days_ago=800,
                keys=[KeySpec(300, 100), KeySpec(30, 1)],
                tags={"owner": "storage"},
                managed=["AmazonS3ReadOnlyAccess"],
            ),
            UserSpec(
                "svc-admin-bot",
                created_days_ago=600,
                keys=[KeySpec(120, 5)],
                managed=["AdministratorAccess"],
                tags={"owner": "sre"},
            ),
            UserSpec(
                "svc-report-reader",
                created_days_ago=60,
                keys=[KeySpec(20, 1)],
                groups=["readers"],
                tags={"owner": "finance"},
            ),
            UserSpec("svc-fresh-new", created_days_ago=3, keys=[KeySpec(3, None)], tags={"owner": "web"}),
            UserSpec(
                "svc-console-ops",
                created_days_ago=400,
                keys=[KeySpec(60, 3)],
                password=True,
                password_last_used_days_ago=10,
                tags={"owner": "ops"},
            ),
            UserSpec("svc-never-used", created_days_ago=150, keys=[KeySpec(150, None)]),
            UserSpec(
                "svc-disabled-key", created_days_ago=500, keys=[KeySpec(400, 380, active=False)], tags={"owner": "data"}
            ),
            UserSpec(
                "svc-iam-manager",
                created_days_ago=300,
                keys=[KeySpec(45, 2)],
                managed=["IAMFullAccess"],
                tags={"owner": "identity"},
            ),
            UserSpec(
                "svc-key-minter",
                created_days_ago=300,
                keys=[KeySpec(45, 4)],
                inline={"mint-keys": allow("iam:CreateAccessKey", "iam:ListUsers")},
                tags={"owner": "identity"},
            ),
            UserSpec(
                "svc-ops-admin",
                created_days_ago=700,
                keys=[KeySpec(80, 6)],
                groups=["platform-admins"],
                tags={"owner": "sre"},
            ),
            UserSpec("svc-rotated-recently", created_days_ago=800, keys=[KeySpec(10, 1)], tags={"owner": "web"}),
            UserSpec("svc-no-keys", created_days_ago=400, tags={"owner": "web"}),
            _healthy("svc-payments-api", "payments"),
            _healthy("svc-orders-api", "orders", 55),
            _healthy("svc-search-indexer", "search", 12),
            _healthy("svc-email-sender", "comms", 70),
            _healthy("svc-metrics-pusher", "sre", 33),
            _healthy("svc-audit-export", "security", 25),
        ],
        roles=[
            RoleSpec(
                "app-lambda-exec",
                created_days_ago=500,
                last_used_days_ago=1,
                managed=["AmazonS3ReadOnlyAccess"],
                tags={"owner": "web"},
            ),
            RoleSpec(
                "old-migration-role",
                created_days_ago=600,
                last_used_days_ago=None,
                tags={"owner": "data"},
                inline={"migrate": allow("s3:*", "dynamodb:*")},
            ),
            RoleSpec(
                "ci-deployer",
                created_days_ago=400,
                last_used_days_ago=0,
                tags={"owner": "platform"},
                inline={"deploy": allow("iam:PassRole", "lambda:CreateFunction", "lambda:UpdateFunctionCode")},
            ),
            RoleSpec(
                "cross-account-audit",
                created_days_ago=300,
                last_used_days_ago=30,
                managed=["ReadOnlyAccess"],
                trust=_trust_account(staging),
                tags={"owner": "security"},
            ),
            RoleSpec(
                "data-pipeline",
                created_days_ago=700,
                last_used_days_ago=250,
                managed=["PowerUserAccess"],
                tags={"owner": "data"},
            ),
            RoleSpec(
                "break-glass-admin",
                created_days_ago=900,
                last_used_days_ago=95,
                managed=["AdministratorAccess"],
                trust=_trust_account(prod),
                tags={"owner": "security"},
            ),
            RoleSpec(
                "AWSServiceRoleForSupport",
                path="/aws-service-role/support.amazonaws.com/",
                created_days_ago=1000,
                last_used_days_ago=None,
                trust={
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "support.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
            ),
        ],
    )
    staging_spec = AccountSpec(
        account_id=staging,
        users=[
            UserSpec(
                "svc-staging-deploy",
                created_days_ago=300,
                keys=[KeySpec(95, 1)],
                tags={"owner": "platform"},
                inline={"deploy": allow("cloudformation:*", "s3:*")},
            ),
            UserSpec("svc-test-runner", created_days_ago=400, keys=[KeySpec(200, 120)], tags={"owner": "qa"}),
            UserSpec(
                "svc-sandbox-admin", created_days_ago=250, keys=[KeySpec(91, 89)], inline={"everything": allow("*")}
            ),
            UserSpec(
                "svc-load-test", created_days_ago=30, keys=[KeySpec(30, None), KeySpec(2, 1)], tags={"owner": "qa"}
            ),
            _healthy("svc-staging-api", "web", 15),
        ],
        roles=[
            RoleSpec(
                "OrganizationAccountAccessRole",
                created_days_ago=1000,
                last_used_days_ago=1,
                managed=["AdministratorAccess"],
                trust=_trust_account(prod),
            ),
            RoleSpec(
                "staging-app",
                created_days_ago=200,
                last_used_days_ago=2,
                managed=["AmazonS3ReadOnlyAccess"],
                tags={"owner": "web"},
            ),
            RoleSpec(
                "old-experiment",
                created_days_ago=500,
                last_used_days_ago=None,
                trust=TRUST_EC2,
                inline={"experiment": allow("sts:AssumeRole")},
            ),
        ],
    )
    return [prod_spec, staging_spec]


@contextmanager
def start_demo(workdir: Path, now: datetime | None = None) -> Iterator[DemoEstate]:
    """Start moto, seed the estate (times relative to ``now``, default the real clock), yield how to scan it."""
    now = now or datetime.now(UTC)
    with MotoSandbox() as sandbox:
        estate = seed(sandbox.endpoint, demo_specs(), now)
        key_id, secret = estate.credentials[f"{PROD}/{SCANNER}"]
        yield DemoEstate(
            provider="aws",
            settings={"accounts": [PROD, STAGING], "endpoint_url": sandbox.endpoint, "region": REGION},
            env={
                "AWS_ACCESS_KEY_ID": key_id,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": sandbox.endpoint,
                "AWS_CONFIG_FILE": str(workdir / "aws-config-absent"),
                "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "aws-credentials-absent"),
            },
            canaries=list(estate.canaries),
            description=f"moto at {sandbox.endpoint}: accounts {PROD} (prod) and {STAGING} (staging)",
        )
