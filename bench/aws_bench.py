"""AWS benchmark: seed an Organization in a moto server process, scan it with ``nhiwarden scan`` as a
subprocess, and account for every API call.

Owns the AWS run and its figures: wall, CPU, peak RSS of the scan process, calls by action (from the
report's ``scopes[].api_calls``, cross-checked against what moto received) and each account's calls
against the foundation's budget: pagination + users with key findings + a small constant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import ChildRun, nhiwarden_argv, run_child

ROOT = Path(__file__).resolve().parent.parent
# Caller identity, credential report generate/poll/get, AssumeRole, AWS-managed policy lookups.
BUDGET_CONSTANT = 10
# Imports an AWS-only scan must never pay for.
FOREIGN_SDKS = ("google", "azure", "kubernetes", "hvac", "grpc", "msal")


class AwsServer:
    """The seeded moto server in its own process (``bench.aws_server``)."""

    def __init__(self, n: int, accounts: int, log: Path) -> None:
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.aws_server", "--n", str(n), "--accounts", str(accounts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"moto server did not start; see {log}")
        self.info: dict[str, Any] = json.loads(line)

    def _ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._ask("counts")
        return result

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def scan_env(endpoint: str) -> dict[str, str]:
    """Dummy credentials for moto's default (management) account, and nothing from the real machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIABENCHSCANNER0000",
        AWS_SECRET_ACCESS_KEY="bench-scanner-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE="/nonexistent/nhiwarden-bench-aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/nhiwarden-bench-aws-credentials",
    )
    env.pop("NHIWARDEN_DEBUG", None)
    return env


def scan_argv(as_of: str, output: Path, extra: list[str]) -> list[str]:
    return [
        "scan",
        "--provider",
        "aws",
        "--aws-organization",
        "--format",
        "json",
        "--output",
        str(output),
        "--as-of",
        as_of,
        "--fail-on",
        "none",
        *extra,
    ]


@dataclass
class AccountCalls:
    account: str
    identities: int
    calls: int
    pages: int
    users_with_key_findings: int
    by_action: dict[str, int] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        return self.pages + self.users_with_key_findings + BUDGET_CONSTANT

    @property
    def constant_part(self) -> int:
        """Calls beyond pagination and flagged users: must not grow with N."""
        return self.calls - self.pages - self.users_with_key_findings


@dataclass
class AwsResult:
    n: int
    accounts: int
    seeded: dict[str, int]
    seed_seconds: float
    run: ChildRun
    identities: int
    findings: int
    statuses: dict[str, int]
    calls_by_action: dict[str, int]
    per_account: list[AccountCalls]
    server_calls: dict[str, int]
    unattributed: dict[str, int]
    extra_args: list[str]

    @property
    def total_calls(self) -> int:
        return sum(self.calls_by_action.values())

    @property
    def within_budget(self) -> bool:
        return all(a.calls <= a.budget for a in self.per_account)

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accounts": self.accounts,
            "extra_args": self.extra_args,
            "seeded": self.seeded,
            "seed_seconds": self.seed_seconds,
            "exit_code": self.run.returncode,
            "wall_s": round(self.run.wall, 2),
            "cpu_user_s": round(self.run.user, 2),
            "cpu_sys_s": round(self.run.sys, 2),
            "peak_rss_mb": round(self.run.max_rss_mb, 1),
            "identities": self.identities,
            "findings": self.findings,
            "scope_status": self.statuses,
            "api_calls_total": self.total_calls,
            "api_calls_by_action": self.calls_by_action,
            "server_calls_total": sum(self.server_calls.values()),
            "server_calls_not_in_scopes": self.unattributed,
            "within_budget": self.within_budget,
            "per_account": [
                {
                    "account": a.account,
                    "identities": a.identities,
                    "calls": a.calls,
                    "pages": a.pages,
                    "users_with_key_findings": a.users_with_key_findings,
                    "budget": a.budget,
                    "constant_part": a.constant_part,
                }
                for a in self.per_account
            ],
        }


# Identity-level findings whose evidence lists the identity's key ids: the scanner names those keys too.
LISTS_KEYS = frozenset({"multiple-active-credentials", "over-privileged"})


def analyse(report: dict[str, Any]) -> tuple[list[AccountCalls], dict[str, int]]:
    """Per-account calls against the budget, and the calls of all scopes by action.

    "Users with key findings": users with a finding on one of their access keys, or with a finding whose
    evidence lists their key ids (over-privileged, multiple-active-credentials), as the scanner resolves
    key ids for exactly those.
    """
    with_keys = {
        i["uid"]
        for i in report.get("identities", [])
        if any(c.get("kind") == "aws-access-key" for c in i.get("credentials", []))
    }
    flagged: dict[str, set[str]] = {}
    for finding in report.get("findings", []) + [s["finding"] for s in report.get("suppressed", [])]:
        credential = finding.get("credential") or {}
        identity = finding["identity"]
        if credential.get("kind") == "aws-access-key" or (
            finding.get("rule_id") in LISTS_KEYS and identity["uid"] in with_keys
        ):
            flagged.setdefault(identity["scope"], set()).add(identity["uid"])
    per_account = []
    by_action: Counter[str] = Counter()
    for scope in report["scopes"]:
        calls = scope.get("api_calls") or {}
        by_action.update(calls)
        per_account.append(
            AccountCalls(
                account=scope["scope"],
                identities=scope.get("identity_count", 0),
                calls=sum(calls.values()),
                # Pagination: GetAccountAuthorizationDetails pages, and the Organization's account list
                # (the provider counts ListAccounts in the caller's account).
                pages=int((scope.get("attributes") or {}).get("authorization_details_pages") or 0)
                + calls.get("organizations:ListAccounts", 0),
                users_with_key_findings=len(flagged.get(scope["scope"], set())),
                by_action=dict(calls),
            )
        )
    return per_account, dict(sorted(by_action.items()))


def run_aws(n: int, accounts: int, workdir: Path, extra: list[str]) -> AwsResult:
    """Seed, scan as a subprocess, account for the calls."""
    log = print
    log(f"[aws] seeding {n:,} identities across {accounts} accounts in a moto server process ...")
    server = AwsServer(n, accounts, workdir / f"moto-{n}.log")
    try:
        info = server.info
        log(f"[aws] seeded {info['seeded']} in {info['seed_seconds']} s at {info['endpoint']}")
        output = workdir / f"aws-{n}.json"
        env = scan_env(info["endpoint"])
        argv = nhiwarden_argv() + scan_argv(info["now"], output, extra)
        run = run_child(argv, env=env, cwd=workdir)
        if run.returncode not in (0, 1, 3):
            raise RuntimeError(f"scan failed with exit {run.returncode}: {run.stderr[-2000:]}")
        server_counts = server.counts()
    finally:
        server.stop()
    report = json.loads(output.read_text())
    per_account, by_action = analyse(report)
    server_flat: Counter[str] = Counter()
    for actions in server_counts.values():
        server_flat.update(actions)
    unattributed = {k: v for k, v in (server_flat - Counter(by_action)).items() if v}
    statuses = Counter(s["status"] for s in report["scopes"])
    return AwsResult(
        n=n,
        accounts=accounts,
        seeded=info["seeded"],
        seed_seconds=info["seed_seconds"],
        run=run,
        identities=len(report.get("identities", [])),
        findings=len(report.get("findings", [])),
        statuses=dict(statuses),
        calls_by_action=by_action,
        per_account=per_account,
        server_calls=dict(server_flat),
        unattributed=unattributed,
        extra_args=extra,
    )


def foreign_imports(n: int, accounts: int, workdir: Path) -> tuple[list[str], bool]:
    """Top-level packages an AWS-only scan imported (``-X importtime``): (foreign SDKs, boto3 loaded)."""
    server = AwsServer(n, accounts, workdir / "moto-imports.log")
    try:
        info = server.info
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "nhiwarden.cli.app",
                *scan_argv(info["now"], Path(tmp) / "r.json", []),
            ]
            run = run_child(argv, env=scan_env(info["endpoint"]))
    finally:
        server.stop()
    modules = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".")[0])
    return sorted(m for m in modules if m in FOREIGN_SDKS), "boto3" in modules
