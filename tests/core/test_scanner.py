"""The scan orchestrator in-process: failure isolation, scope filters, provisional ids, exceptions."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from nhiwarden.config import parse_config
from nhiwarden.errors import ConfigError, ScopeError
from nhiwarden.model import Credential, Identity, Scope, ScopeResult
from nhiwarden.providers import CallLog, Provider, ProviderSettings
from nhiwarden.scanner import ScanRequest, run_scan

from tests.conftest import AS_OF, days_ago


class Estate(ProviderSettings):
    fail: list[str] = []
    scopes: list[str] = ["a", "b"]


class FakeProvider(Provider):
    """An in-memory provider: each scope holds one identity with a never-used provisional key."""

    name = "fake"
    Settings = Estate
    resolved: list[str]

    def __init__(self, settings, *, as_of):
        super().__init__(settings, as_of=as_of)
        self.resolved = []
        self.lock = threading.Lock()
        self.threads: set[int] = set()

    def scopes(self) -> list[Scope]:
        return [Scope(provider="fake", id=s) for s in self.settings.scopes]  # type: ignore[attr-defined]

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        CallLog(result)("List")
        with self.lock:
            self.threads.add(threading.get_ident())
        if scope.id in self.settings.fail:  # type: ignore[attr-defined]
            raise ScopeError("AccessDenied on List", kind="permission")
        uid = f"fake:{scope.id}:user/svc"
        old = Credential(
            uid=f"{uid}:slot/1",
            kind="fake-key",
            id="slot-1",
            created_at=days_ago(200),
            last_used_at=days_ago(1),
            last_used_source="log",
            static=True,
            provisional=True,
        )
        fresh = Credential(
            uid=f"{uid}:slot/2",
            kind="other-key",
            id="slot-2",
            created_at=days_ago(5),
            last_used_at=days_ago(1),
            last_used_source="log",
            static=False,
            provisional=True,
        )
        result.identities.append(
            Identity(
                uid=uid,
                provider="fake",
                kind="fake-user",
                scope=scope.id,
                name="svc",
                created_at=days_ago(300),
                last_used_at=days_ago(1),
                last_used_source="log",
                credentials=[old, fresh],
            )
        )

    def resolve(self, scope, result, credentials):
        for identity in result.identities:
            for i, cred in enumerate(identity.credentials):
                if cred in credentials:
                    self.resolved.append(cred.uid)
                    identity.credentials[i] = cred.model_copy(
                        update={"uid": cred.uid.replace("slot/1", "key/KEYID1"), "id": "KEYID1", "provisional": False}
                    )


def scan(config_text: str = "", **settings) -> tuple:
    holder: dict[str, FakeProvider] = {}

    class Capturing(FakeProvider):
        def __init__(self, s, *, as_of):
            super().__init__(s, as_of=as_of)
            holder["p"] = self

    config = parse_config(__import__("yaml").safe_load(config_text) or {})
    request = ScanRequest(
        providers=["fake"],
        as_of=AS_OF,
        config=config,
        settings={"fake": settings},
        provider_classes={"fake": Capturing},
    )
    return run_scan(request), holder["p"]


def test_a_failing_scope_is_reported_and_the_others_complete():
    report, _ = scan(fail=["b"])
    by_scope = {s.scope: s for s in report.scopes}
    assert by_scope["a"].status == "ok" and by_scope["a"].identity_count == 1
    assert by_scope["b"].status == "error" and by_scope["b"].error == "permission: AccessDenied on List"
    assert [i.scope for i in report.identities] == ["a"]
    assert report.failed_scopes == [by_scope["b"]]


def test_scopes_are_scanned_concurrently_on_worker_threads():
    report, provider = scan(scopes=[f"s{i}" for i in range(6)])
    assert len(report.scopes) == 6
    assert threading.get_ident() not in provider.threads


def test_only_flagged_provisional_credentials_are_resolved_and_findings_name_the_real_id():
    report, provider = scan()
    assert sorted(provider.resolved) == ["fake:a:user/svc:slot/1", "fake:b:user/svc:slot/1"]
    rotation = [f for f in report.findings if f.rule_id == "rotation-overdue"]
    assert {f.credential.id for f in rotation} == {"KEYID1"}
    assert all(f.credential.uid.endswith("key/KEYID1") for f in rotation)


def test_scope_filter_excludes_scopes_before_discovery():
    report, _ = scan("scopes:\n  exclude: ['fake:b']\n")
    assert [s.scope for s in report.scopes] == ["a"]
    report, _ = scan("scopes:\n  include: ['fake:b*']\n")
    assert [s.scope for s in report.scopes] == ["b"]


def test_exception_suppresses_until_it_expires_and_then_says_so():
    active = (
        "exceptions:\n- rule: rotation-overdue\n  identity: 'fake:a:*'\n"
        "  reason: vendor key\n  owner: sec@x\n  expires: 2026-12-31\n"
    )
    report, _ = scan(active)
    suppressed = [s.finding for s in report.suppressed]
    assert [(f.rule_id, f.identity.scope) for f in suppressed] == [("rotation-overdue", "a")]
    assert ("rotation-overdue", "a") not in {(f.rule_id, f.identity.scope) for f in report.findings}
    assert report.exceptions[0].matched == 1 and not report.exceptions[0].expired

    expired = active.replace("2026-12-31", "2026-05-01")
    report, _ = scan(expired)
    assert report.suppressed == []
    assert report.exceptions[0].expired and report.exceptions[0].expires == date(2026, 5, 1)
    assert ("rotation-overdue", "a") in {(f.rule_id, f.identity.scope) for f in report.findings}


def test_invalid_provider_settings_raise_config_error_naming_the_field():
    with pytest.raises(ConfigError) as err:
        scan(scopes="not-a-list")
    assert err.value.field == "providers.fake.scopes"


def test_report_records_parameters_and_api_calls():
    report, _ = scan()
    params = report.scan.parameters
    assert params["thresholds"]["unused_days"] == 90
    assert params["rules"]["unused-credential"]["params"]["unused_days"] == 90
    assert all(s.api_calls == {"List": 1} for s in report.scopes)
    assert report.tool.rule_pack["sha256"]
    assert report.scan.started_at <= report.scan.finished_at
    assert report.scan.as_of == AS_OF
