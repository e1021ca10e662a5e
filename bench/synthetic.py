"""Peak memory of N identities through the scanner, the rules engine and the JSON report, in-process.

Run as its own process by ``bench.run`` (so ``ru_maxrss`` is this work alone): an in-memory provider
hands ``run_scan`` the same shapes the AWS provider builds (users with access keys and passwords,
roles, grants with policy evidence) from ``bench.estate``'s plan, without any server. This isolates
nhiwarden's own memory from the SDK and from the test server's capacity. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from nhiwarden.model import Credential, Grant, Identity, Privilege, Scope, ScopeResult
from nhiwarden.providers import CallLog, Provider, ProviderSettings

from bench.estate import AccountPlan, PlannedRole, PlannedUser, plan

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
_PLANS: dict[str, AccountPlan] = {}


class SyntheticSettings(ProviderSettings):
    pass


def _grants(managed: list[str], escalation: bool, via: str | None = None) -> list[Grant]:
    out = []
    for name in managed:
        if name == "AdministratorAccess":
            out.append(
                Grant(
                    privilege=Privilege.ADMIN,
                    source=name,
                    source_kind="aws-managed-policy",
                    via=via,
                    reason="AWS-managed AdministratorAccess: Action * on Resource *",
                    permissions=["*"],
                    controls=["CIS-AWS-1.16"],
                )
            )
        else:
            out.append(
                Grant(
                    privilege=Privilege.READ,
                    source=name,
                    source_kind="aws-managed-policy",
                    via=via,
                    reason="only Get/List/Describe-style actions",
                )
            )
    if escalation:
        out.append(
            Grant(
                privilege=Privilege.PRIVILEGE_ESCALATION,
                source="mint-keys",
                source_kind="inline-policy",
                reason="privilege escalation: iam:CreateAccessKey on * (mint keys for any user)",
                permissions=["iam:CreateAccessKey on *"],
            )
        )
    return out


def _ago(days: float | None) -> datetime | None:
    return None if days is None else AS_OF - timedelta(days=days)


def _user(account: str, user: PlannedUser) -> Identity:
    uid = f"aws:{account}:user/{user.name}"
    creds = [
        Credential(
            uid=f"{uid}:access-key/{i + 1}",
            kind="aws-access-key",
            id=f"AKIA{account[:8]}{i}{abs(hash(uid)) % 10**8:08d}",
            name=f"{user.name} access key {i + 1}",
            created_at=_ago(k.created_days_ago),
            last_used_at=_ago(k.last_used_days_ago),
            last_used_source="aws iam credential report",
            last_used_tracking_since=datetime(2015, 4, 22, tzinfo=UTC),
            enabled=k.active,
            static=True,
            attributes={"last_used_service": "s3", "last_used_region": "us-east-1", "slot": i + 1},
        )
        for i, k in enumerate(user.keys)
    ]
    if user.password:
        creds.append(
            Credential(
                uid=f"{uid}:password",
                kind="password",
                id=f"{user.name} console password",
                static=True,
                interactive=True,
                created_at=_ago(user.created_days_ago),
                last_used_at=_ago(user.password_last_used_days_ago),
                last_used_source="aws iam credential report",
            )
        )
    grants = _grants(user.managed, user.inline_escalation, None)
    if user.group:
        grants += _grants(["ReadOnlyAccess"], False, f"group/{user.group}")
    return Identity(
        uid=uid,
        provider="aws",
        kind="aws-iam-user",
        scope=account,
        name=user.name,
        created_at=_ago(user.created_days_ago),
        owner=user.owner,
        tags={"owner": user.owner} if user.owner else {},
        grants=grants,
        credentials=creds,
        attributes={"arn": f"arn:aws:iam::{account}:user/{user.name}", "path": "/", "mfa_active": False},
    )


def _role(account: str, role: PlannedRole) -> Identity:
    return Identity(
        uid=f"aws:{account}:role/{role.name}",
        provider="aws",
        kind="aws-iam-role",
        scope=account,
        name=role.name,
        created_at=_ago(role.created_days_ago),
        last_used_at=_ago(role.last_used_days_ago),
        last_used_source="aws iam RoleLastUsed",
        last_used_tracking_since=datetime(2020, 6, 1, tzinfo=UTC),
        owner=role.owner,
        tags={"owner": role.owner} if role.owner else {},
        grants=_grants(role.managed, role.inline_passrole),
        attributes={"arn": f"arn:aws:iam::{account}:role/{role.name}", "path": "/", "trust": ["ec2.amazonaws.com"]},
    )


class SyntheticProvider(Provider):
    """AWS-shaped identities from ``bench.estate``, without any network."""

    name: ClassVar[str] = "aws"
    Settings: ClassVar[type[ProviderSettings]] = SyntheticSettings

    def scopes(self) -> list[Scope]:
        return [Scope(provider="aws", id=account) for account in _PLANS]

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        planned = _PLANS[scope.id]
        CallLog(result)("iam:GetAccountAuthorizationDetails")
        result.identities = [_user(scope.id, u) for u in planned.users] + [_role(scope.id, r) for r in planned.roles]


def measure(n: int, accounts: int) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    from nhiwarden.config import Config
    from nhiwarden.reports.json_report import write
    from nhiwarden.scanner import ScanRequest, run_scan

    for i, planned in enumerate(plan(n, accounts)):
        _PLANS[f"{100000000000 + i:012d}"] = planned
    started = time.perf_counter()
    cpu = time.process_time()
    request = ScanRequest(providers=["aws"], as_of=AS_OF, config=Config(), provider_classes={"aws": SyntheticProvider})
    report = run_scan(request)
    scanned = time.perf_counter() - started
    peak_after_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        with out.open("w", encoding="utf-8") as fp:
            write(report, fp)  # streamed, as `nhiwarden scan --output` writes it
        size = out.stat().st_size
    wall = time.perf_counter() - started
    return {
        "n": n,
        "accounts": accounts,
        "identities": len(report.identities),
        "findings": len(report.findings),
        "json_mb": round(size / 2**20, 1),
        "peak_rss_after_scan_mb": round(peak_after_scan, 1),
        "scan_and_rules_s": round(scanned, 2),
        "total_s": round(wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.n, args.accounts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
