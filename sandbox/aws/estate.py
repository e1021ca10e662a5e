"""Declarative AWS estates and the seeding that builds them in moto over HTTP, with backdated times.

Owns the estate specs (users, keys, passwords, groups, policies, roles per account) and seeding
through boto3 against the sandbox server, then backdating through ``backend``. Every secret the
estate creates (SecretAccessKeys, console passwords) is recorded as a canary. Test/demo only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nhiwarden.sandbox.aws import backend

AWS_POLICY = "arn:aws:iam::aws:policy/"
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SEED_KEY = "AKIANHWSEED000000000"
SEED_SECRET = "nhiwarden-sandbox-seed-not-a-secret"


def allow(*actions: str, resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


@dataclass
class KeySpec:
    created_days_ago: float
    last_used_days_ago: float | None = None  # None: never used
    active: bool = True
    service: str = "s3"


@dataclass
class UserSpec:
    name: str
    created_days_ago: float = 365
    keys: list[KeySpec] = field(default_factory=list)
    password: bool = False
    password_last_used_days_ago: float | None = None
    groups: list[str] = field(default_factory=list)
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed: list[str] = field(default_factory=list)  # AWS-managed names or customer policy names
    tags: dict[str, str] = field(default_factory=dict)
    path: str = "/"


@dataclass
class RoleSpec:
    name: str
    created_days_ago: float = 365
    last_used_days_ago: float | None = None
    path: str = "/"
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    trust: dict[str, Any] = field(default_factory=lambda: TRUST_EC2)


@dataclass
class GroupSpec:
    name: str
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed: list[str] = field(default_factory=list)


@dataclass
class AccountSpec:
    account_id: str
    users: list[UserSpec] = field(default_factory=list)
    roles: list[RoleSpec] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # customer-managed


@dataclass
class SeededAccount:
    account_id: str
    key_ids: dict[str, list[str]] = field(default_factory=dict)  # user -> key ids in slot order


@dataclass
class SeededEstate:
    accounts: dict[str, SeededAccount] = field(default_factory=dict)
    canaries: list[str] = field(default_factory=list)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)  # "account/user" -> (id, secret)


def admin_client(endpoint: str, account: str, service: str = "iam") -> Any:
    """A boto3 client acting in ``account`` through moto's account header (seeding only)."""
    import boto3

    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=SEED_KEY,
        aws_secret_access_key=SEED_SECRET,
    )

    def _header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign", _header)
    return client


def _policy_arn(account: str, name: str) -> str:
    return (
        name
        if name.startswith("arn:")
        else (AWS_POLICY + name if name in backend.MANAGED else f"arn:aws:iam::{account}:policy/{name}")
    )


def seed_account(endpoint: str, spec: AccountSpec, now: datetime, estate: SeededEstate) -> SeededAccount:
    acct = spec.account_id
    backend.reset_account(acct)
    backend.load_managed_policies(acct)
    client = admin_client(endpoint, acct)
    seeded = SeededAccount(acct)

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    for name, document in spec.policies.items():
        client.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
    for group in spec.groups:
        client.create_group(GroupName=group.name)
        for name, document in group.inline.items():
            client.put_group_policy(GroupName=group.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for name in group.managed:
            client.attach_group_policy(GroupName=group.name, PolicyArn=_policy_arn(acct, name))
    for user in spec.users:
        tags = [{"Key": k, "Value": v} for k, v in user.tags.items()]
        client.create_user(UserName=user.name, Path=user.path, Tags=tags)
        for group_name in user.groups:
            client.add_user_to_group(GroupName=group_name, UserName=user.name)
        for name, document in user.inline.items():
            client.put_user_policy(UserName=user.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for name in user.managed:
            client.attach_user_policy(UserName=user.name, PolicyArn=_policy_arn(acct, name))
        if user.password:
            password = f"Nhw-canary-password-{acct}-{user.name}!"
            client.create_login_profile(UserName=user.name, Password=password)
            estate.canaries.append(password)
        ids = []
        for key in user.keys:
            created = client.create_access_key(UserName=user.name)["AccessKey"]
            ids.append(created["AccessKeyId"])
            estate.canaries.append(created["SecretAccessKey"])
            estate.credentials[f"{acct}/{user.name}"] = (created["AccessKeyId"], created["SecretAccessKey"])
            if not key.active:
                client.update_access_key(UserName=user.name, AccessKeyId=created["AccessKeyId"], Status="Inactive")
            backend.set_key(
                acct,
                created["AccessKeyId"],
                created=ago(key.created_days_ago),
                last_used=ago(key.last_used_days_ago) if key.last_used_days_ago is not None else None,
                service=key.service,
            )
        seeded.key_ids[user.name] = ids
        backend.set_user(
            acct,
            user.name,
            created=ago(user.created_days_ago),
            password_last_used=ago(user.password_last_used_days_ago)
            if user.password_last_used_days_ago is not None
            else None,
        )
    for role in spec.roles:
        client.create_role(
            RoleName=role.name,
            Path=role.path,
            AssumeRolePolicyDocument=json.dumps(role.trust),
            Tags=[{"Key": k, "Value": v} for k, v in role.tags.items()],
        )
        for name, document in role.inline.items():
            client.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for name in role.managed:
            client.attach_role_policy(RoleName=role.name, PolicyArn=_policy_arn(acct, name))
        backend.set_role(
            acct,
            role.name,
            created=ago(role.created_days_ago),
            last_used=ago(role.last_used_days_ago) if role.last_used_days_ago is not None else None,
        )
    estate.accounts[acct] = seeded
    return seeded


def seed(endpoint: str, specs: list[AccountSpec], now: datetime) -> SeededEstate:
    estate = SeededEstate()
    for spec in specs:
        seed_account(endpoint, spec, now, estate)
    return estate
