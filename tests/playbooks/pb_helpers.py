"""Helpers shared by the playbook tests: seeded IAM users, KV access, reports with findings."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nhiwarden.findings import CredentialRef, Finding, IdentityRef, Severity, fingerprint
from nhiwarden.model import Credential, Identity
from nhiwarden.report import Report, ScanInfo

ACCOUNT = "123456789012"
CANARY_OLD_SECRET = "CanaryOldSecretKey0000000000000000000000"


def iam_backend() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT]["aws"]


def age_key(user: str, key_id: str, days: float) -> None:
    for key in iam_backend().users[user].access_keys:
        if key.access_key_id == key_id:
            key.create_date = key.create_date - timedelta(days=days)


class Kv:
    def __init__(self, addr: str, token: str) -> None:
        self.http = httpx.Client(base_url=f"{addr}/v1/", headers={"X-Vault-Token": token}, timeout=10)

    def write(self, path: str, data: dict[str, str]) -> int:
        r = self.http.post(f"secret/data/{path}", json={"data": data})
        r.raise_for_status()
        return int(r.json()["data"]["version"])

    def read(self, path: str) -> tuple[dict[str, str], int]:
        r = self.http.get(f"secret/data/{path}")
        r.raise_for_status()
        body = r.json()["data"]
        return body["data"], int(body["metadata"]["version"])

    def metadata(self, path: str) -> dict[str, Any]:
        r = self.http.get(f"secret/metadata/{path}")
        r.raise_for_status()
        return dict(r.json()["data"])


@dataclass
class Estate:
    """One IAM user with an old key whose secret is stored in Vault KV, plus the report about it."""

    user: str
    key_id: str
    kv_path: str
    report_path: Path
    finding_id: str
    iam: Any
    kv: Kv
    moto_url: str

    def key_status(self) -> dict[str, str]:
        return {
            k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]
        }


def build_report(findings: list[Finding], identities: list[Identity], *, moto_url: str) -> Report:
    now = datetime.now(UTC)
    report = Report(
        scan=ScanInfo(
            id="scan-test",
            started_at=now,
            finished_at=now,
            as_of=now,
            parameters={"provider_settings": {"aws": {"endpoint_url": moto_url, "region": "us-east-1"}}},
        ),
        identities=identities,
        findings=findings,
    )
    report.summarize()
    return report


def finding_for(
    user: str, key_id: str, rule: str = "rotation-overdue", created: datetime | None = None
) -> tuple[Finding, Identity]:
    uid = f"aws:{ACCOUNT}:user/{user}"
    cred = Credential(
        uid=f"{uid}:key/{key_id}",
        kind="aws-access-key",
        id=key_id,
        created_at=created,
        static=True,
        locations=[],
    )
    identity = Identity(
        uid=uid,
        provider="aws",
        kind="aws-iam-user",
        scope=ACCOUNT,
        name=user,
        credentials=[cred],
        owner="team-ci@example.com",
    )
    finding = Finding(
        id=fingerprint(rule, uid, cred.uid),
        rule_id=rule,
        severity=Severity.MEDIUM,
        title=rule,
        identity=IdentityRef.of(identity),
        credential=CredentialRef.of(cred) if rule != "dormant-identity" else None,
        message=f"{rule} on {key_id}",
    )
    return finding, identity


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nhiwarden.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
