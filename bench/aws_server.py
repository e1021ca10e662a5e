"""The benchmark's moto server: its own process, an Organization of M accounts seeded with N identities.

Run by ``bench.run`` as a subprocess, so moto's CPU and memory are never counted as nhiwarden's.
It starts nhiwarden's sandbox server (moto with AWS-like GetAccountAuthorizationDetails paging and a
request counter), creates an Organization through the Organizations API, then seeds IAM straight into
moto's in-process backend (fast; seeding time is not measured) with backdated times.

Protocol: one JSON line on stdout when ready (endpoint, account ids, seed seconds); then commands on
stdin, one per line: ``counts`` answers one JSON line {account: {action: requests}} as moto saw them,
``reset`` clears the counts; end of input stops the server. Never listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.estate import AccountPlan, plan

MANAGEMENT = "123456789012"  # moto's default account: what dummy credentials act as
ACCESS_ROLE = "OrganizationAccountAccessRole"
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ESCALATION = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:ListUsers"], "Resource": "*"}],
}
PASSROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction"], "Resource": "*"},
    ],
}


def _trust(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }


def create_organization(endpoint: str, members: int) -> list[str]:
    """Management account plus ``members`` member accounts, through the Organizations API."""
    import boto3

    org = boto3.client(
        "organizations",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench-seed",
        aws_secret_access_key="bench-seed",
    )
    org.create_organization(FeatureSet="ALL")
    ids = [MANAGEMENT]
    for i in range(members):
        status = org.create_account(Email=f"bench-{i:02d}@example.com", AccountName=f"bench-{i:02d}")
        ids.append(str(status["CreateAccountStatus"]["AccountId"]))
    return ids


def seed_account(account: str, planned: AccountPlan, now: datetime, member: bool) -> dict[str, int]:
    """Write one account's identities into moto's backend; returns what was created."""
    from nhiwarden.sandbox.aws import backend

    iam = backend.iam(account)
    backend.load_managed_policies(account)

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    arn = "arn:aws:iam::aws:policy/"
    iam.create_group("readers")
    iam.attach_group_policy(arn + "ReadOnlyAccess", "readers")
    counts = {"users": 0, "roles": 0, "keys": 0, "passwords": 0}
    for user in planned.users:
        tags = [{"Key": "owner", "Value": user.owner}] if user.owner else []
        iam.create_user("us-east-1", user.name, "/", tags)
        for name in user.managed:
            iam.attach_user_policy(arn + name, user.name)
        if user.inline_escalation:
            iam.put_user_policy(user.name, "mint-keys", json.dumps(ESCALATION))
        if user.group:
            iam.add_user_to_group(user.group, user.name)
        if user.password:
            iam.create_login_profile(user.name, f"Bench-canary-{account}-{user.name}!")
            counts["passwords"] += 1
        for key in user.keys:
            created = iam.create_access_key(user.name, status="Active" if key.active else "Inactive")
            backend.set_key(
                account,
                created.access_key_id,
                created=ago(key.created_days_ago),
                last_used=ago(key.last_used_days_ago) if key.last_used_days_ago is not None else None,
            )
            counts["keys"] += 1
        backend.set_user(
            account,
            user.name,
            created=ago(user.created_days_ago),
            password_last_used=ago(user.password_last_used_days_ago)
            if user.password and user.password_last_used_days_ago is not None
            else None,
        )
        counts["users"] += 1
    roles = list(planned.roles)
    for role in roles:
        tags = [{"Key": "owner", "Value": role.owner}] if role.owner else []
        iam.create_role(role.name, json.dumps(TRUST_EC2), "/", None, "", tags, None)
        for name in role.managed:
            iam.attach_role_policy(arn + name, role.name)
        if role.inline_passrole:
            iam.put_role_policy(role.name, "deploy", json.dumps(PASSROLE))
        backend.set_role(
            account,
            role.name,
            created=ago(role.created_days_ago),
            last_used=ago(role.last_used_days_ago) if role.last_used_days_ago is not None else None,
        )
        counts["roles"] += 1
    if member:
        # moto's CreateAccount already made the role, as AWS does; make sure it is the admin role AWS makes.
        if ACCESS_ROLE not in {r.name for r in iam.roles.values()}:
            iam.create_role(ACCESS_ROLE, json.dumps(_trust(MANAGEMENT)), "/", None, "", [], None)
        with contextlib.suppress(Exception):
            iam.attach_role_policy(arn + "AdministratorAccess", ACCESS_ROLE)
        backend.set_role(account, ACCESS_ROLE, created=ago(900), last_used=ago(0))
        counts["roles"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="identities in total (users + roles)")
    parser.add_argument("--accounts", type=int, default=20, help="accounts in the Organization")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from nhiwarden.sandbox.aws.server import MotoSandbox

    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    sandbox = MotoSandbox().start()
    accounts = create_organization(sandbox.endpoint, args.accounts - 1)
    # Every member account holds its OrganizationAccountAccessRole, which counts as an identity too.
    plans = plan(args.n - (args.accounts - 1), args.accounts, args.seed)
    totals: dict[str, int] = {}
    for account, planned in zip(accounts, plans, strict=True):
        for key, value in seed_account(account, planned, now, member=account != MANAGEMENT).items():
            totals[key] = totals.get(key, 0) + value
    assert sandbox.faults is not None
    sandbox.faults.reset_counts()
    ready = {
        "endpoint": sandbox.endpoint,
        "accounts": accounts,
        "management": MANAGEMENT,
        "now": now.isoformat(),
        "seeded": totals,
        "seed_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "counts":
            by_account: dict[str, dict[str, int]] = {}
            for (account, action), n in sandbox.faults.requests.items():
                by_account.setdefault(account, {})[action] = n
            print(json.dumps(by_account), flush=True)
        elif command == "reset":
            sandbox.faults.reset_counts()
            print("{}", flush=True)
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
