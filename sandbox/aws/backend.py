"""Direct edits of moto's in-process IAM backend: backdating times and loading a few AWS-managed policies.

moto stamps every user, key and role with "now" and has no HTTP endpoint to change that; its
``create_date``, ``last_used`` and ``password_last_used`` attributes are public for exactly this
(getmoto/moto#6859). Times are stored as naive UTC, as moto does. Test/demo only.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from functools import cache
from typing import Any

_lock = threading.Lock()
# The AWS-managed policies the estates use; loading all 1,582 costs 1.6 s per account.
MANAGED = ("AdministratorAccess", "IAMFullAccess", "ReadOnlyAccess", "PowerUserAccess", "AmazonS3ReadOnlyAccess")


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def reset_account(account: str) -> None:
    """Forget everything IAM holds for ``account``, so an estate can be seeded again in one process."""
    from moto.iam.models import iam_backends

    with _lock:
        if dict.__contains__(iam_backends, account):
            iam_backends[account].reset()


@cache
def _managed_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return {name: data[name] for name in MANAGED}


def load_managed_policies(account: str) -> None:
    """Make the few AWS-managed policies of ``MANAGED`` exist in ``account`` (idempotent)."""
    from moto.iam.models import AWSManagedPolicy

    backend = iam(account)
    with _lock:
        for name, data in _managed_data().items():
            policy = AWSManagedPolicy.from_data(name, account, "us-east-1", data)
            if policy.arn not in backend.managed_policies:
                backend.managed_policies[policy.arn] = policy
                backend.aws_managed_policies.append(policy)


def set_user(
    account: str, name: str, *, created: datetime | None = None, password_last_used: datetime | None = None
) -> None:
    user = iam(account).get_user(name)
    if created is not None:
        user.create_date = _naive(created)
    if password_last_used is not None:
        user.password_last_used = _naive(password_last_used)


def set_key(
    account: str,
    key_id: str,
    *,
    created: datetime | None = None,
    last_used: datetime | None = None,
    service: str = "s3",
    region: str = "us-east-1",
) -> None:
    from moto.iam.models import AccessKeyLastUsed

    key = iam(account).access_keys[key_id]
    if created is not None:
        key.create_date = _naive(created)
    if last_used is not None:
        key.last_used = AccessKeyLastUsed(timestamp=_naive(last_used), service=service, region=region)


def set_role(
    account: str,
    name: str,
    *,
    created: datetime | None = None,
    last_used: datetime | None = None,
    region: str = "us-east-1",
) -> None:
    role = iam(account).get_role(name)
    if created is not None:
        role.create_date = _naive(created)
    if last_used is not None:
        role.last_used = _naive(last_used)
        role.last_used_region = region


def bulk_users(
    account: str, names: list[str], *, created: datetime, key_created: datetime, key_last_used: datetime | None
) -> dict[str, str]:
    """Create many users with one key each straight in the backend (fast); returns name -> key id."""
    backend = iam(account)
    out: dict[str, str] = {}
    for name in names:
        backend.create_user("us-east-1", name)
        key = backend.create_access_key(name)
        out[name] = key.access_key_id
        set_user(account, name, created=created)
        set_key(account, key.access_key_id, created=key_created, last_used=key_last_used)
    return out
