"""Reports built from real model objects: an estate across several providers, judged by the real rules.

Nothing is mocked: identities go through ``rules.engine.evaluate`` and ``suppressions.apply_exceptions``
exactly as the scanner runs them, and the report is assembled the way ``scanner.run_scan`` does.
Identity names include attacker-controlled strings (formula, HTML, Markdown) on purpose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from nhiwarden.config import Config, ExceptionRule, parse_config
from nhiwarden.model import Credential, Grant, Identity, Inventory, Privilege, ScopeResult
from nhiwarden.report import Report, ScanInfo, ToolInfo
from nhiwarden.rules.controls import rule_pack
from nhiwarden.rules.engine import evaluate
from nhiwarden.scanner import ScanRequest, scan_parameters
from nhiwarden.suppressions import apply_exceptions

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
FORMULA_NAME = '=HYPERLINK("http://evil.example/x","click")'
HTML_NAME = '</script><img src=x onerror="window.__pwned=1">'
MD_NAME = "svc|**bold**|<b>x</b>`tick`"


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def aws_user(name: str, *, keys: list[Credential], grants: list[Grant] | None = None, **kw: Any) -> Identity:
    return Identity(
        uid=f"aws:{ACCOUNT}:user/{name}",
        provider="aws",
        kind="aws-iam-user",
        scope=ACCOUNT,
        name=name,
        created_at=kw.pop("created_at", ago(800)),
        last_used_at=kw.pop("last_used_at", ago(2)),
        last_used_source="credential-report",
        grants=grants or [],
        credentials=keys,
        **kw,
    )


def aws_key(user: str, key_id: str, *, age: float, last_used: float | None, **kw: Any) -> Credential:
    return Credential(
        uid=f"aws:{ACCOUNT}:user/{user}:key/{key_id}",
        kind="aws-access-key",
        id=key_id,
        created_at=ago(age),
        last_used_at=ago(last_used) if last_used is not None else None,
        last_used_source="credential-report",
        static=True,
        **kw,
    )


ADMIN = Grant(
    privilege=Privilege.ADMIN,
    source="AdministratorAccess",
    source_kind="managed-policy",
    reason="Action * on Resource *",
    permissions=["*"],
)


def estate() -> list[ScopeResult]:
    aws = ScopeResult(
        provider="aws", scope=ACCOUNT, name="prod", api_calls={"ListUsers": 1, "GenerateCredentialReport": 1}
    )
    aws.identities = [
        aws_user(
            "svc-ci",
            keys=[aws_key("svc-ci", "AKIAEXAMPLECI000001", age=400, last_used=1)],
            grants=[ADMIN],
            owner="team-ci",
        ),
        aws_user(
            "svc-old", keys=[aws_key("svc-old", "AKIAEXAMPLEOLD00001", age=300, last_used=120)], owner="team-data"
        ),
        aws_user(FORMULA_NAME, keys=[aws_key(FORMULA_NAME, "AKIAEXAMPLEFORMULA1", age=200, last_used=3)]),
        aws_user(HTML_NAME, keys=[aws_key(HTML_NAME, "AKIAEXAMPLEHTML0001", age=20, last_used=1)], grants=[ADMIN]),
        aws_user(
            "svc-fresh", keys=[aws_key("svc-fresh", "AKIAEXAMPLEFRESH001", age=10, last_used=1)], owner="team-web"
        ),
    ]
    aws.skipped.append("service-linked roles: platform-managed (include_system is off)")
    gcp = ScopeResult(provider="gcp", scope="my-proj", api_calls={"ListServiceAccounts": 2})
    sa = "deployer@my-proj.iam.gserviceaccount.com"
    gcp.identities = [
        Identity(
            uid=f"gcp:my-proj:sa/{sa}",
            provider="gcp",
            kind="gcp-service-account",
            scope="my-proj",
            name=sa,
            created_at=ago(900),
            last_used_at=ago(400),
            last_used_source="activity-analyzer",
            credentials=[
                Credential(
                    uid=f"gcp:my-proj:sa/{sa}:key/0123abcd",
                    kind="gcp-sa-key",
                    id="0123abcd",
                    created_at=ago(700),
                    last_used_at=ago(400),
                    last_used_source="activity-analyzer",
                    static=True,
                )
            ],
        )
    ]
    gcp.mark_partial("key usage: Policy Analyzer API disabled (403)")
    k8s = ScopeResult(provider="kubernetes", scope="prod-cluster", api_calls={"ListServiceAccounts": 1})
    k8s.identities = [
        Identity(
            uid=f"k8s:prod-cluster:ns/payments:sa/{MD_NAME}",
            provider="kubernetes",
            kind="k8s-service-account",
            scope="prod-cluster",
            name=MD_NAME,
            created_at=ago(500),
            grants=[
                Grant(
                    privilege=Privilege.ADMIN,
                    source="cluster-admin",
                    source_kind="cluster-role-binding",
                    reason="binds cluster-admin",
                    controls=["CIS-K8S-5.1.1"],
                )
            ],
            credentials=[
                Credential(
                    uid=f"k8s:prod-cluster:ns/payments:sa/{MD_NAME}:secret/legacy-token",
                    kind="k8s-legacy-token",
                    id="legacy-token",
                    created_at=ago(500),
                    static=True,
                )
            ],
        )
    ]
    vault = ScopeResult(
        provider="vault",
        scope="https://vault.example:8200",
        status="error",
        error="auth: permission denied (token ***)",
    )
    return [aws, gcp, k8s, vault]


EXCEPTIONS = [
    {
        "rule": "over-privileged",
        "identity": "svc-ci",
        "reason": "CI deploys infra; reviewed quarterly",
        "owner": "alice@example.com",
        "approver": "ciso@example.com",
        "ticket": "SEC-42",
        "expires": "2026-12-31",
    },
    {
        "rule": "static-credential",
        "identity": "svc-old",
        "reason": "legacy batch job",
        "owner": "bob@example.com",
        "expires": "2026-01-31",
    },
]


def build_report(
    scopes: list[ScopeResult] | None = None,
    *,
    as_of: datetime = AS_OF,
    config: Config | None = None,
    scan_id: str = "scan-1",
) -> Report:
    scopes = estate() if scopes is None else scopes
    config = config or parse_config({"exceptions": EXCEPTIONS, "rules": {"no-owner": {"enabled": True}}})
    inventory = Inventory(scopes=scopes)
    findings = evaluate(inventory, as_of=as_of, config=config)
    kept, suppressed, exceptions = apply_exceptions(findings, config.exceptions, as_of)
    for s in scopes:
        s.identity_count = len(s.identities)
        s.credential_count = sum(len(i.credentials) for i in s.identities)
        s.started_at = as_of + timedelta(seconds=1)
        s.finished_at = as_of + timedelta(seconds=3)
    request = ScanRequest(providers=sorted({s.provider for s in scopes}), as_of=as_of, config=config)
    report = Report(
        tool=ToolInfo(rule_pack=rule_pack()),
        scan=ScanInfo(
            id=scan_id,
            started_at=as_of + timedelta(seconds=1),
            finished_at=as_of + timedelta(seconds=5),
            as_of=as_of,
            parameters=scan_parameters(request),
        ),
        scopes=scopes,
        identities=inventory.identities,
        findings=kept,
        suppressed=suppressed,
        exceptions=exceptions,
    )
    report.summarize()
    return report


@pytest.fixture
def report() -> Report:
    return build_report()


@pytest.fixture
def empty_report() -> Report:
    scope = ScopeResult(provider="aws", scope=ACCOUNT)
    return build_report([scope], config=Config())


__all__ = ["AS_OF", "FORMULA_NAME", "HTML_NAME", "MD_NAME", "ExceptionRule", "build_report", "date"]
