"""The shape of a benchmark estate: how N identities are spread over M accounts, and what each looks like.

Owns a deterministic, provider-neutral plan (plain dataclasses, a seeded RNG): which identities are
users or roles, which hold keys (fresh, stale, never used, two keys, disabled), passwords, admin or
escalation policies, groups and owner tags. Seeding it into a server is the job of ``aws_server``;
this module never does I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Share of identities per account that are IAM users (the rest are roles).
USER_SHARE = 0.6


@dataclass
class PlannedKey:
    created_days_ago: float
    last_used_days_ago: float | None  # None: never used
    active: bool = True


@dataclass
class PlannedUser:
    name: str
    created_days_ago: float
    keys: list[PlannedKey] = field(default_factory=list)
    password_last_used_days_ago: float | None = None
    password: bool = False
    managed: list[str] = field(default_factory=list)  # AWS-managed policy names
    inline_escalation: bool = False
    group: str | None = None
    owner: str | None = None


@dataclass
class PlannedRole:
    name: str
    created_days_ago: float
    last_used_days_ago: float | None
    managed: list[str] = field(default_factory=list)
    inline_passrole: bool = False
    owner: str | None = None


@dataclass
class AccountPlan:
    index: int
    users: list[PlannedUser] = field(default_factory=list)
    roles: list[PlannedRole] = field(default_factory=list)

    @property
    def identities(self) -> int:
        return len(self.users) + len(self.roles)


TEAMS = ("payments", "orders", "search", "data", "platform", "sre", "security", "web", "qa", "ml")


def _user(rng: random.Random, name: str) -> PlannedUser:
    """One service user; the mix below is what a mid-sized estate typically shows."""
    roll = rng.random()
    user = PlannedUser(name=name, created_days_ago=rng.uniform(100, 1500))
    if roll < 0.30:  # healthy: one recent key used yesterday
        user.keys = [PlannedKey(rng.uniform(5, 80), rng.uniform(0, 3))]
    elif roll < 0.40:  # stale key: unused for > 90 days, overdue for rotation
        user.keys = [PlannedKey(rng.uniform(200, 900), rng.uniform(95, 400))]
    elif roll < 0.47:  # key never used
        user.keys = [PlannedKey(rng.uniform(95, 400), None)]
    elif roll < 0.55:  # two active keys, one old (rotation in progress that never finished)
        user.keys = [PlannedKey(rng.uniform(200, 700), rng.uniform(100, 300)), PlannedKey(rng.uniform(5, 30), 1)]
    elif roll < 0.60:  # disabled old key kept around
        user.keys = [PlannedKey(rng.uniform(300, 700), rng.uniform(250, 600), active=False)]
    elif roll < 0.75:  # used key, rotation overdue
        user.keys = [PlannedKey(rng.uniform(100, 400), rng.uniform(0, 10))]
    # else: no key (uses roles, or dormant)
    if rng.random() < 0.03:
        user.password = True
        user.password_last_used_days_ago = rng.choice([None, rng.uniform(0, 200)])
    pick = rng.random()
    if pick < 0.02:
        user.managed = ["AdministratorAccess"]
    elif pick < 0.04:
        user.inline_escalation = True
    elif pick < 0.20:
        user.group = "readers"
    elif pick < 0.50:
        user.managed = ["AmazonS3ReadOnlyAccess"]
    if rng.random() < 0.7:
        user.owner = rng.choice(TEAMS)
    return user


def _role(rng: random.Random, name: str) -> PlannedRole:
    roll = rng.random()
    if roll < 0.5:
        last_used: float | None = rng.uniform(0, 30)
    elif roll < 0.8:
        last_used = None
    else:
        last_used = rng.uniform(180, 700)
    role = PlannedRole(name=name, created_days_ago=rng.uniform(200, 1500), last_used_days_ago=last_used)
    pick = rng.random()
    if pick < 0.03:
        role.managed = ["AdministratorAccess"]
    elif pick < 0.08:
        role.inline_passrole = True
    elif pick < 0.40:
        role.managed = ["ReadOnlyAccess"]
    if rng.random() < 0.6:
        role.owner = rng.choice(TEAMS)
    return role


def plan(total: int, accounts: int, seed: int = 7) -> list[AccountPlan]:
    """``total`` identities over ``accounts`` accounts (as evenly as possible), deterministic for a seed."""
    if accounts < 1 or total < accounts:
        raise ValueError("need at least one identity per account")
    rng = random.Random(seed)
    plans = []
    base, extra = divmod(total, accounts)
    for index in range(accounts):
        count = base + (1 if index < extra else 0)
        users = round(count * USER_SHARE)
        account = AccountPlan(index=index)
        account.users = [_user(rng, f"svc-{index:02d}-{i:05d}") for i in range(users)]
        account.roles = [_role(rng, f"role-{index:02d}-{i:05d}") for i in range(count - users)]
        plans.append(account)
    return plans
