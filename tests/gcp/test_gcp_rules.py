"""The GCP-specific rules over hand-built inventories: thresholds, severities, what must not fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.config import Config, RuleOverride
from nhiwarden.findings import Finding
from nhiwarden.model import Credential, Grant, Identity, Inventory, Privilege, ScopeResult
from nhiwarden.rules.engine import evaluate

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
P = "acme-web"


def account(name: str, **kw: Any) -> Identity:
    email = kw.pop("email", f"{name}@{P}.iam.gserviceaccount.com")
    return Identity(uid=f"gcp:{P}:sa/{email}", provider="gcp", kind="gcp-service-account", scope=P, name=email, **kw)


def key(owner: Identity, key_id: str, **attrs: Any) -> Credential:
    enabled = attrs.pop("enabled", True)
    return Credential(
        uid=f"{owner.uid}:key/{key_id}",
        kind="gcp-sa-key",
        id=key_id,
        created_at=AS_OF - timedelta(days=5),
        last_used_at=AS_OF - timedelta(days=1),
        last_used_source="gcp-policy-analyzer",
        static=True,
        enabled=enabled,
        attributes={"key_type": "USER_MANAGED", "exposure": None, **attrs},
    )


def findings(*identities: Identity, count: int = 3, quota: int = 100, config: Config | None = None) -> list[Finding]:
    scope = ScopeResult(
        provider="gcp",
        scope=P,
        attributes={"service_account_count": count, "service_account_quota": quota},
        identities=list(identities),
    )
    return evaluate(Inventory(scopes=[scope]), as_of=AS_OF, config=config or Config())


def ids(found: list[Finding], rule: str) -> list[tuple[str, str | None]]:
    return [(f.identity.name, f.credential.id if f.credential else None) for f in found if f.rule_id == rule]


def test_enabled_exposed_key_is_critical() -> None:
    a = account("ci")
    a.credentials = [key(a, "k1", exposure="exposed")]
    [f] = [f for f in findings(a) if f.rule_id == "gcp-key-exposed"]
    assert f.severity == "critical" and f.credential is not None and f.credential.id == "k1"


def test_key_google_disabled_for_compromise_is_still_reported_as_high() -> None:
    a = account("ci")
    a.credentials = [key(a, "k1", exposure="compromise-detected", enabled=False)]
    [f] = [f for f in findings(a) if f.rule_id == "gcp-key-exposed"]
    assert f.severity == "high" and "compromise-detected" in f.message


def test_key_without_exposure_status_is_not_reported_as_exposed() -> None:
    a = account("ci")
    a.credentials = [key(a, "k1")]
    assert ids(findings(a), "gcp-key-exposed") == []


def grant(role: str, privilege: Privilege = Privilege.ADMIN) -> Grant:
    return Grant(
        privilege=privilege,
        source=role,
        source_kind="project-iam-binding",
        resource_scope=f"projects/{P}",
        reason="test",
    )


def test_app_engine_default_account_with_owner_is_flagged() -> None:
    a = account(
        "",
        email=f"{P}@appspot.gserviceaccount.com",
        attributes={"default_service_account": "app-engine"},
        grants=[grant("roles/owner")],
    )
    assert ids(findings(a), "gcp-default-service-account-privileged") == [(f"{P}@appspot.gserviceaccount.com", None)]


def test_default_account_with_narrow_roles_is_not_flagged() -> None:
    a = account(
        "",
        email="123-compute@developer.gserviceaccount.com",
        attributes={"default_service_account": "compute"},
        grants=[grant("roles/logging.logWriter", Privilege.WRITE)],
    )
    assert ids(findings(a), "gcp-default-service-account-privileged") == []


def test_custom_account_with_editor_is_not_a_default_account_finding() -> None:
    a = account("app", attributes={"default_service_account": None}, grants=[grant("roles/editor")])
    assert ids(findings(a), "gcp-default-service-account-privileged") == []


def test_project_at_90_of_100_accounts_is_flagged_and_89_is_not() -> None:
    assert ids(findings(count=90), "gcp-service-account-quota") == [(P, None)]
    assert ids(findings(count=89), "gcp-service-account-quota") == []


def test_quota_is_configurable_per_scan_and_headroom_per_rule() -> None:
    assert ids(findings(count=90, quota=500), "gcp-service-account-quota") == []
    wide = Config(rules={"gcp-service-account-quota": RuleOverride(params={"headroom_percent": 50})})
    assert ids(findings(count=250, quota=500, config=wide), "gcp-service-account-quota") == [(P, None)]


def test_quota_finding_names_the_project_and_the_numbers() -> None:
    [f] = [f for f in findings(count=95) if f.rule_id == "gcp-service-account-quota"]
    assert f.identity.uid == f"gcp:{P}:project" and f.identity.kind == "gcp-project"
    assert f.evidence == {"service_account_count": 95, "quota": 100, "threshold": 90, "headroom_percent": 10.0}
