"""Scanning a real, seeded OpenBao dev server: inventory, exact findings, permissions, failures."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from nhiwarden.config import Config
from nhiwarden.errors import ScopeError
from nhiwarden.findings import Finding
from nhiwarden.model import Identity, Inventory, Privilege, ScopeResult
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox import free_port

from .conftest import Vault, scan


def identities(results: list[ScopeResult]) -> dict[str, Identity]:
    return {i.uid: i for r in results for i in r.identities}


def by_name(results: list[ScopeResult], name: str) -> Identity:
    (found,) = [i for r in results for i in r.identities if i.name == name]
    return found


def keyed(vault: Vault, findings: list[Finding]) -> set[tuple[str, str, str | None]]:
    """(rule, identity name, credential) with random accessors replaced by the estate's names."""
    names = {v: k for k, v in {**vault.estate.tokens, **vault.estate.secret_ids}.items()}
    return {
        (f.rule_id, f.identity.name, names.get(f.credential.id, f.credential.id) if f.credential else None)
        for f in findings
    }


def findings_at(vault: Vault, scan_name: str, days: float) -> list[Finding]:
    inventory = Inventory(scopes=vault.scans[scan_name])
    return evaluate(inventory, as_of=vault.t0 + timedelta(days=days), config=Config())


def test_inventory_has_every_seeded_nhi_kind(vault: Vault) -> None:
    found = identities(vault.scans["root"])
    kinds = sorted({(i.kind, i.name) for i in found.values() if i.kind != "vault-token"})
    assert kinds == [
        ("vault-approle", "ci"),
        ("vault-approle", "legacy-batch"),
        ("vault-approle", "open-kiosk"),
        ("vault-approle", "reports"),
        ("vault-jwt-role", "github-deploy"),
        ("vault-k8s-auth-role", "any-pod"),
        ("vault-k8s-auth-role", "payments-api"),
        ("vault-kv-secret", "secret/app/azure-sp"),
        ("vault-kv-secret", "secret/app/db/orders"),
        ("vault-kv-secret", "secret/ci/aws-deployer"),
        ("vault-kv-secret", "secret/gcp/service-accounts/exporter"),
        ("vault-userpass", "svc-backup"),
        ("vault-userpass", "svc-legacy"),
    ]
    tokens = sorted(i.name for i in found.values() if i.kind == "vault-token")
    assert tokens == [
        "token",  # the dev server's root token
        "token-app-short",
        "token-break-glass",
        "token-ci-periodic",
        "token-no-sudo",
        "token-policy-bot",
        "token-scanner",
        "token-scanner-ns",
    ]


def test_uids_follow_the_documented_format(vault: Vault) -> None:
    ci = by_name(vault.scans["root"], "ci")
    assert ci.uid == f"vault:{vault.addr}:auth/approle/role/ci"
    accessor = vault.estate.secret_ids["ci"]
    assert f"{ci.uid}:secret-id/{accessor}" in {c.uid for c in ci.credentials}
    assert by_name(vault.scans["root"], "svc-backup").uid == f"vault:{vault.addr}:auth/userpass/users/svc-backup"


def test_login_tokens_are_credentials_of_their_role_and_user(vault: Vault) -> None:
    ci = by_name(vault.scans["root"], "ci")
    backup = by_name(vault.scans["root"], "svc-backup")
    assert vault.estate.tokens["ci-login"] in {c.id for c in ci.credentials if c.kind == "vault-token"}
    assert vault.estate.tokens["svc-backup-login"] in {c.id for c in backup.credentials}


def test_token_lookup_fields_are_normalized(vault: Vault) -> None:
    root = vault.scans["root"]
    glass = by_name(root, "token-break-glass")
    (cred,) = glass.credentials
    assert cred.kind == "vault-token" and cred.id == vault.estate.tokens["break-glass"]
    assert cred.static is True and cred.expires_at is None
    assert cred.attributes["root"] is True and cred.attributes["orphan"] is True
    assert glass.owner == "platform"
    periodic = by_name(root, "token-ci-periodic").credentials[0]
    assert periodic.attributes["period"] == 86400 and periodic.static is True and periodic.expires_at is None
    short = by_name(root, "token-app-short").credentials[0]
    assert short.static is False
    assert short.expires_at is not None and timedelta(minutes=50) < short.expires_at - vault.t0 < timedelta(hours=1)


def test_secret_id_with_ttl_zero_never_expires(vault: Vault) -> None:
    root = vault.scans["root"]
    legacy = by_name(root, "legacy-batch").credentials[0]
    assert legacy.kind == "vault-secret-id" and legacy.static is True and legacy.expires_at is None
    assert legacy.attributes["never_expires"] is True
    assert legacy.attributes["metadata"] == {"owner": "team-legacy-batch"}
    reports = by_name(root, "reports").credentials[0]
    assert reports.static is False and reports.expires_at is not None
    assert reports.attributes["secret_id_num_uses"] == 10


def test_userpass_password_is_a_static_machine_secret_of_unknown_age(vault: Vault) -> None:
    (password,) = [c for c in by_name(vault.scans["root"], "svc-legacy").credentials]
    assert password.kind == "vault-userpass"
    assert (password.static, password.interactive, password.created_at) == (True, False, None)


def test_policies_resolve_to_privilege_levels_with_evidence(vault: Vault) -> None:
    root = vault.scans["root"]
    legacy = by_name(root, "legacy-batch")
    assert legacy.privilege is Privilege.ADMIN
    grant = next(g for g in legacy.grants if g.source == "admin-all")
    assert grant.source_kind == "vault-policy" and "*:create,delete,list,read,sudo,update" in grant.permissions
    assert by_name(root, "svc-legacy").privilege is Privilege.PRIVILEGE_ESCALATION
    assert by_name(root, "token-scanner").privilege is Privilege.READ
    assert by_name(root, "token-break-glass").grants[0].reason == "the root policy allows every operation"


def test_identity_group_policies_are_grants_of_the_role_that_logs_in(vault: Vault) -> None:
    ci = by_name(vault.scans["root"], "ci")
    via_identity = [g for g in ci.grants if g.via and g.via.startswith("identity entity")]
    assert [(g.source, g.privilege) for g in via_identity] == [("app-read", Privilege.READ)]
    login = next(c for c in ci.credentials if c.kind == "vault-token")
    assert login.attributes["identity_policies"] == ["app-read"]


def test_federated_auth_roles_carry_their_bindings_and_no_secret(vault: Vault) -> None:
    root = vault.scans["root"]
    pod = by_name(root, "any-pod")
    assert pod.uid == f"vault:{vault.addr}:auth/kubernetes/role/any-pod" and pod.credentials == []
    assert pod.attributes["bound_service_account_names"] == ["*"]
    github = by_name(root, "github-deploy")
    assert github.attributes["bound_claims"] == {"sub": "repo:acme/*"}
    findings = [f for f in findings_at(vault, "root", days=0.01) if f.rule_id == "vault-auth-role-wildcard-binding"]
    assert {(f.identity.name, f.severity.value) for f in findings} == {("any-pod", "high"), ("github-deploy", "medium")}
    assert "OWASP-NHI6" in findings[0].controls


def test_jwt_login_is_attributed_to_its_role(vault: Vault) -> None:
    github = by_name(vault.scans["history"], "github-deploy")
    assert github.last_used_at is not None
    assert abs(github.last_used_at - (vault.t0 + timedelta(days=195))) < timedelta(minutes=1)
    assert vault.estate.tokens["github-deploy-login"] in {c.id for c in github.credentials}


def test_kv_cloud_credentials_are_found_from_field_names_without_reading_values(vault: Vault) -> None:
    root = vault.scans["root"]
    aws = by_name(root, "secret/ci/aws-deployer")
    (key,) = aws.credentials
    assert (key.kind, key.id, key.static) == ("aws-access-key", "AKIAEXAMPLEDEPLOYER1", True)
    assert key.locations == [f"vault:{vault.addr}:secret/ci/aws-deployer"]
    assert aws.owner == "team-ci"
    assert key.created_at is not None and abs(key.created_at - vault.t0) < timedelta(minutes=5)
    kinds = {i.name: i.credentials[0].kind for i in root[0].identities if i.kind == "vault-kv-secret"}
    assert kinds == {
        "secret/app/azure-sp": "azure-client-secret",
        "secret/app/db/orders": "database-password",
        "secret/ci/aws-deployer": "aws-access-key",
        "secret/gcp/service-accounts/exporter": "gcp-sa-key",
    }
    assert root[0].api_calls.get("<kv>/data/<path>") is None


def test_audit_devices_are_scope_attributes(vault: Vault) -> None:
    devices = vault.scans["root"][0].attributes["audit_devices"]
    assert [(d["path"], d["type"], d["hmac_accessor"]) for d in devices] == [
        ("file-hmac/", "file", True),
        ("file/", "file", False),
    ]


def test_exact_findings_without_audit_log(vault: Vault) -> None:
    got = keyed(vault, findings_at(vault, "root", days=10 / 1440))
    assert got == {
        ("over-privileged", "legacy-batch", None),
        ("over-privileged", "token", None),
        ("over-privileged", "token-break-glass", None),
        ("over-privileged", "token-policy-bot", None),
        ("over-privileged", "svc-legacy", None),
        ("vault-root-token", "token", next(iter(by_name(vault.scans["root"], "token").credentials)).id),
        ("vault-root-token", "token-break-glass", "break-glass"),
        ("vault-token-no-ttl", "token-ci-periodic", "ci-periodic"),
        ("vault-approle-no-secret-id", "open-kiosk", None),
        ("vault-auth-role-wildcard-binding", "any-pod", None),
        ("vault-auth-role-wildcard-binding", "github-deploy", None),
        ("static-credential", "ci", "ci"),
        ("static-credential", "ci", "ci-runner-2"),
        ("static-credential", "legacy-batch", "legacy-batch"),
        ("static-credential", "token", next(iter(by_name(vault.scans["root"], "token").credentials)).id),
        ("static-credential", "token-break-glass", "break-glass"),
        ("static-credential", "token-ci-periodic", "ci-periodic"),
        ("static-credential", "svc-backup", "svc-backup"),
        ("static-credential", "svc-legacy", "svc-legacy"),
        ("static-credential", "secret/ci/aws-deployer", "AKIAEXAMPLEDEPLOYER1"),
        ("static-credential", "secret/app/azure-sp", "secret/app/azure-sp"),
        ("static-credential", "secret/app/db/orders", "secret/app/db/orders"),
        ("static-credential", "secret/gcp/service-accounts/exporter", "secret/gcp/service-accounts/exporter"),
        ("multiple-active-credentials", "ci", None),
        ("vault-usage-signal-missing", vault.addr, None),
    }


def test_without_audit_log_usage_is_unknown_and_scope_is_partial(vault: Vault) -> None:
    (result,) = vault.scans["root"]
    assert result.status == "partial"
    assert any(m.startswith("last-used: no audit log given") for m in result.missing)
    assert all(i.last_used_source is None for i in result.identities)
    assert all(c.last_used_source is None for i in result.identities for c in i.credentials)
    late = findings_at(vault, "root", days=400)
    assert not [f for f in late if f.rule_id in ("unused-credential", "dormant-identity")]


def test_dormant_and_unused_from_the_audit_log_200_days_on(vault: Vault) -> None:
    (result,) = vault.scans["history"]
    assert result.status == "ok", result.missing
    usage = {"dormant-identity", "unused-credential"}
    got = {k for k in keyed(vault, findings_at(vault, "history", days=200)) if k[0] in usage}
    assert got == {
        ("dormant-identity", "legacy-batch", None),
        ("dormant-identity", "reports", None),
        ("dormant-identity", "open-kiosk", None),
        ("dormant-identity", "any-pod", None),
        ("dormant-identity", "payments-api", None),
        ("dormant-identity", "svc-legacy", None),
        ("dormant-identity", "token-break-glass", None),
        ("dormant-identity", "token-ci-periodic", None),
        ("dormant-identity", "token-policy-bot", None),
        ("dormant-identity", "token-app-short", None),
        ("dormant-identity", "token-scanner", None),
        ("dormant-identity", "token-scanner-ns", None),
        ("dormant-identity", "token-no-sudo", None),
        # ci logs in from runner-2; the other secret-ID (metadata owner=team-ci only) never did
        ("unused-credential", "ci", "ci"),
    }


def test_active_identities_carry_last_use_from_the_log(vault: Vault) -> None:
    history = vault.scans["history"]
    recent = vault.t0 + timedelta(days=195)
    ci = by_name(history, "ci")
    assert ci.last_used_source == "vault-audit-log"
    assert ci.last_used_at is not None and abs(ci.last_used_at - recent) < timedelta(minutes=1)
    runner = next(c for c in ci.credentials if c.id == vault.estate.secret_ids["ci-runner-2"])
    assert runner.last_used_at == ci.last_used_at
    backup = by_name(history, "svc-backup")
    assert backup.last_used_at is not None and abs(backup.last_used_at - recent) < timedelta(minutes=1)
    assert by_name(history, "svc-legacy").last_used_at is None
    assert by_name(history, "svc-legacy").last_used_tracking_since is not None


def test_rotation_overdue_for_kv_held_cloud_keys_after_90_days(vault: Vault) -> None:
    kv_names = {i.name for i in vault.scans["root"][0].identities if i.kind == "vault-kv-secret"}
    at_89 = {k[1] for k in keyed(vault, findings_at(vault, "root", days=89)) if k[0] == "rotation-overdue"}
    at_91 = {k[1] for k in keyed(vault, findings_at(vault, "root", days=91)) if k[0] == "rotation-overdue"}
    assert not (at_89 & kv_names)
    assert kv_names <= at_91


def shape(results: list[ScopeResult]) -> dict[str, object]:
    return {
        i.uid: (
            i.kind,
            sorted((c.uid, c.kind, c.static, c.expires_at) for c in i.credentials),
            sorted((g.source, g.privilege.value) for g in i.grants),
        )
        for r in results
        for i in r.identities
    }


def test_scanner_policy_token_sees_the_same_inventory_as_root(vault: Vault) -> None:
    assert shape(vault.scans["scanner"]) == shape(vault.scans["root"])
    (result,) = vault.scans["scanner"]
    assert result.missing == vault.scans["root"][0].missing
    assert result.attributes["audit_devices"] == vault.scans["root"][0].attributes["audit_devices"]


def test_forbidden_token_listing_marks_scope_partial_with_reason(vault: Vault) -> None:
    (result,) = vault.scans["no-sudo"]
    assert result.status == "partial"
    assert "tokens: permission denied on auth/token/accessors (listing token accessors needs 'sudo')" in result.missing
    kinds = {i.kind for i in result.identities}
    assert "vault-token" not in kinds and {"vault-approle", "vault-userpass", "vault-kv-secret"} <= kinds


def test_namespaces_are_walked_recursively(vault: Vault) -> None:
    results = vault.scans["namespaces"]
    assert [r.scope for r in results] == [vault.addr, f"{vault.addr}/team-a", f"{vault.addr}/team-a/payments"]
    team_a = identities([results[1]])
    worker = team_a[f"vault:{vault.addr}/team-a:auth/approle/role/ns-worker"]
    assert worker.privilege is Privilege.ADMIN
    assert any(c.kind == "vault-token" for c in worker.credentials)  # its login token lives in team-a
    ops = next(i for i in team_a.values() if i.name == "token-ns-ops")
    assert ops.credentials[0].id == vault.estate.tokens["team-a/ns-ops"]
    ledger = identities([results[2]])[f"vault:{vault.addr}/team-a/payments:kv/kv/db/ledger"]
    assert ledger.credentials[0].locations == [f"vault:{vault.addr}/team-a/payments:kv/db/ledger"]
    assert "audit devices: configured in the root namespace only" in results[1].skipped
    root_uids = set(identities([results[0]]))
    assert not root_uids & set(team_a)


def test_namespaced_scanner_policy_sees_every_namespace_like_root(vault: Vault) -> None:
    scanner = vault.scans["scanner-namespaces"]
    root = vault.scans["namespaces"]
    assert [r.scope for r in scanner] == [r.scope for r in root]
    assert shape(scanner) == shape(root)
    assert [r.missing for r in scanner] == [r.missing for r in root]


def test_namespace_logins_are_read_from_the_audit_log(vault: Vault) -> None:
    results = scan({"addr": vault.addr, "audit_log": str(vault.server.audit_log), "namespace": "team-a"}, vault.root)
    worker = by_name(results, "ns-worker")
    assert worker.last_used_source == "vault-audit-log" and worker.last_used_at is not None


def test_hmac_accessors_are_matched_through_audit_hash(vault: Vault) -> None:
    (result,) = scan({"addr": vault.addr, "audit_log": str(vault.server.hmac_audit_log)}, vault.root)
    assert result.attributes["usage_signal"]["hmac_accessors"] is True
    assert result.api_calls["sys/audit-hash/<device>"] == result.api_calls["auth/token/lookup-accessor"]
    root_token = by_name([result], "token")
    assert root_token.last_used_at is not None  # seeding used it; the log only has its HMAC


def test_every_call_is_counted_and_lookups_are_bounded(vault: Vault) -> None:
    (result,) = vault.scans["root"]
    calls = result.api_calls
    tokens = sum(1 for i in result.identities for c in i.credentials if c.kind == "vault-token")
    assert calls["auth/token/accessors (list)"] == 1
    assert calls["auth/token/lookup-accessor"] == tokens
    assert calls["auth/approle/role/<role>/secret-id-accessor/lookup"] == 4
    assert calls["sys/policies/acl/<name>"] <= 8  # once per distinct policy, cached
    assert sum(calls.values()) < 60


def test_max_items_caps_lookups_and_says_so(vault: Vault) -> None:
    (result,) = scan({"addr": vault.addr, "max_items": 2}, vault.root)
    assert result.api_calls["auth/token/lookup-accessor"] == 2
    assert any(m.startswith("tokens: ") and "max_items" in m for m in result.missing)


def test_server_that_is_down_raises_scope_error() -> None:
    with pytest.raises(ScopeError) as err:
        scan({"addr": f"http://127.0.0.1:{free_port()}"}, "s.notarealtokenatall1234")
    assert err.value.kind == "network"
    assert "cannot reach Vault" in err.value.reason and "notarealtoken" not in err.value.reason


def test_refused_token_raises_auth_scope_error(vault: Vault) -> None:
    with pytest.raises(ScopeError) as err:
        scan({"addr": vault.addr}, "s.revokedorwrongtoken12345")
    assert err.value.kind == "auth"
    assert "revokedorwrong" not in err.value.reason


def test_canary_secret_values_appear_in_no_output(vault: Vault, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    caplog.set_level(logging.DEBUG)
    results = [r for name in ("root", "history", "namespaces", "scanner") for r in vault.scans[name]]
    rerun = scan({"addr": vault.addr, "audit_log": str(vault.server.audit_log)}, vault.root)
    results += rerun
    findings = evaluate(Inventory(scopes=results), as_of=vault.t0 + timedelta(days=200), config=Config())
    errors = []
    for token in ("s.revokedorwrongtoken12345",):
        try:
            scan({"addr": vault.addr}, token)
        except ScopeError as exc:
            errors.append(exc.reason)
    blob = "\n".join(
        [
            *(r.model_dump_json() for r in results),
            *(i.model_dump_json() for r in results for i in r.identities),
            *(f.model_dump_json() for f in findings),
            *errors,
            caplog.text,
            json.dumps([r.attributes for r in results], default=str),
        ]
    )
    secrets = [*vault.estate.canaries, *vault.estate.secret_tokens.values()]
    assert len(secrets) >= 10
    leaked = [s for s in secrets if s in blob]
    assert leaked == []
    assert "nhw-canary" not in blob


def test_as_of_is_never_read_from_the_clock(vault: Vault) -> None:
    early = findings_at(vault, "root", days=0.01)
    again = findings_at(vault, "root", days=0.01)
    assert [f.id for f in early] == [f.id for f in again]
    assert isinstance(vault.t0, datetime)


def test_doctor_checks_the_scanner_policy_capabilities(vault: Vault) -> None:
    from nhiwarden.providers.vault import VaultProvider

    from .conftest import vault_token

    with vault_token(vault.estate.secret_tokens["scanner"]):
        provider = VaultProvider({"addr": vault.addr}, as_of=vault.t0)
        checks = provider.doctor(provider.scopes()[0])
    assert [c.check for c in checks if not c.ok] == []
    assert {c.check for c in checks} >= {"token", "auth/token/accessors", "sys/audit"}
    with vault_token(vault.estate.secret_tokens["no-sudo"]):
        provider = VaultProvider({"addr": vault.addr}, as_of=vault.t0)
        checks = provider.doctor(provider.scopes()[0])
    assert [c.check for c in checks if not c.ok] == ["auth/token/accessors"]
