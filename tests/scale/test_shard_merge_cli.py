"""``nhiwarden scan --shard 1/2`` + ``--shard 2/2`` + ``nhiwarden merge`` == one unsharded scan, through the CLI,
against a moto server holding five seeded accounts (nhiwarden's AWS sandbox).

Compared: everything in the report except what differs between any two runs of the same scan (scan id
and times) and ``api_calls``: the provider caches AWS-managed policy documents per process, so which
account pays for fetching them depends on how the scopes were split across processes. The estate has
no OrganizationAccountAccessRole identity on purpose: assuming it updates its RoleLastUsed (in moto as
in AWS), so its ``last_used_at`` would record each scan itself. moto lets any role be assumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nhiwarden.sandbox.aws.estate import AccountSpec, KeySpec, RoleSpec, SeededEstate, UserSpec, allow, seed
from nhiwarden.sandbox.aws.server import MotoSandbox
from nhiwarden.scanner import in_shard

from tests.conftest import run_cli

from .conftest import NOW, scan_json

# Own account ids: moto keeps state per process and other test modules seed their own accounts.
ACCOUNTS = [f"7100000000{i:02d}" for i in range(1, 6)]


def _account(account: str, i: int) -> AccountSpec:
    return AccountSpec(
        account_id=account,
        users=[
            UserSpec(f"svc-stale-{i}", created_days_ago=800, keys=[KeySpec(400, 200)], tags={"owner": "data"}),
            UserSpec(f"svc-fresh-{i}", created_days_ago=30, keys=[KeySpec(10, 1)], managed=["ReadOnlyAccess"]),
            UserSpec(
                f"svc-admin-{i}",
                created_days_ago=500,
                keys=[KeySpec(120, 5), KeySpec(20, 1)],
                managed=["AdministratorAccess"],
                tags={"owner": "sre"},
            ),
            UserSpec(
                f"svc-minter-{i}",
                created_days_ago=300,
                keys=[KeySpec(45, None)],
                inline={"mint": allow("iam:CreateAccessKey")},
            ),
        ],
        roles=[
            RoleSpec(f"app-{i}", created_days_ago=400, last_used_days_ago=None, managed=["ReadOnlyAccess"]),
        ],
    )


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[MotoSandbox, SeededEstate]]:
    with MotoSandbox() as sandbox:
        estate = seed(sandbox.endpoint, [_account(a, i) for i, a in enumerate(ACCOUNTS)], NOW)
        yield sandbox, estate


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIASCALETESTSCANNER",
        AWS_SECRET_ACCESS_KEY="scale-test-not-a-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent/nhiwarden-scale-aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/nhiwarden-scale-aws-credentials",
    )
    return env


def _content(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between two runs of the same scan."""
    data: dict[str, Any] = json.loads(json.dumps(report))
    for key in ("id", "started_at", "finished_at"):
        data["scan"].pop(key, None)
    for key in ("shard", "merged_shards"):
        data["scan"]["parameters"].pop(key, None)
    for scope in data["scopes"]:
        for key in ("started_at", "finished_at", "api_calls", "rate_limited_seconds", "throttled"):
            scope.pop(key, None)
    for key in ("api_calls", "throttled"):
        data["summary"].pop(key, None)
    return data


def test_the_five_accounts_split_across_both_shards() -> None:
    shards = [sum(in_shard("aws", a, (k, 2)) for a in ACCOUNTS) for k in (1, 2)]
    assert all(shards) and sum(shards) == len(ACCOUNTS), shards


@pytest.fixture(scope="module")
def scans(moto: tuple[MotoSandbox, SeededEstate], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One unsharded scan and the two shards of the same scan, as JSON report files."""
    sandbox, _estate = moto
    out = tmp_path_factory.mktemp("shards")
    env = _env(sandbox.endpoint)
    common = ["--provider", "aws", "--aws-accounts", ",".join(ACCOUNTS), "--aws-endpoint-url", sandbox.endpoint]
    paths = {"whole": out / "whole.json", "1/2": out / "shard-1.json", "2/2": out / "shard-2.json"}
    for name, path in paths.items():
        shard = [] if name == "whole" else ["--shard", name]
        code, _report, stderr = scan_json(*common, *shard, out=path, env=env)
        assert code == 0, stderr
    return paths


def test_merged_shard_reports_equal_the_unsharded_scan(scans: dict[str, Path], tmp_path: Path) -> None:
    whole = json.loads(scans["whole"].read_text())
    assert [s["status"] for s in whole["scopes"]] == ["ok"] * len(ACCOUNTS)
    assert whole["findings"], "the estate must produce findings to compare"
    for name in ("1/2", "2/2"):
        part = json.loads(scans[name].read_text())
        assert part["scopes"] and len(part["scopes"]) < len(ACCOUNTS)
    merged_path = tmp_path / "merged.json"
    proc = run_cli("merge", str(scans["2/2"]), str(scans["1/2"]), "--format", "json", "--output", str(merged_path))
    assert proc.returncode == 0, proc.stderr
    merged = json.loads(merged_path.read_text())
    assert merged["scan"]["parameters"]["merged_shards"] == ["2/2", "1/2"]
    assert _content(merged) == _content(whole)


def test_merge_refuses_shards_evaluated_as_of_different_dates(scans: dict[str, Path], tmp_path: Path) -> None:
    later = json.loads(scans["2/2"].read_text())
    later["scan"]["as_of"] = (NOW + timedelta(days=1)).isoformat()
    (tmp_path / "later.json").write_text(json.dumps(later))
    proc = run_cli("merge", str(scans["1/2"]), str(tmp_path / "later.json"), "--format", "json")
    assert proc.returncode == 2
    assert "as-of" in proc.stderr
