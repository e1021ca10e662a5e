"""The Kubernetes provider over the fake apiserver: the model it builds, the findings that follow, and
how it degrades (unreachable context, 403 on secrets, throttling, expired continue tokens).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nhiwarden.config import Config
from nhiwarden.errors import ScopeError
from nhiwarden.model import Identity, Inventory, Privilege, ScopeResult
from nhiwarden.providers.kubernetes import KubernetesProvider
from nhiwarden.rules.engine import evaluate
from nhiwarden.sandbox.kubernetes import Fault
from nhiwarden.sandbox.kubernetes.resources import BY_PATH
from nhiwarden.scanner import ScanRequest, run_scan

from tests.kubernetes.conftest import CANARY, NOW, Cluster, kubeconfig_for, scan

# (rule, identity uid, credential id) for the seeded prod and staging clusters, as of NOW.
EXPECTED = {
    ("over-privileged", "k8s:prod:ns/ci:sa/deployer", None),
    ("over-privileged", "k8s:prod:ns/analytics:sa/etl", None),
    ("over-privileged", "k8s:prod:ns/ci:sa/release-bot", None),
    ("over-privileged", "k8s:prod:ns/monitoring:sa/prometheus", None),
    ("over-privileged", "k8s:prod:ns/payments:sa/api", None),
    ("over-privileged", "k8s:prod:ns/platform:sa/rbac-operator", None),
    ("dormant-identity", "k8s:prod:ns/ci:sa/old-bot", None),
    ("dormant-identity", "k8s:prod:ns/ci:sa/retired", None),
    ("k8s-default-service-account", "k8s:prod:ns/payments:sa/default", None),
    ("rotation-overdue", "k8s:prod:ns/ci:sa/deployer", "deployer-token"),
    ("rotation-overdue", "k8s:prod:ns/ci:sa/old-bot", "old-bot-token"),
    ("rotation-overdue", "k8s:prod:ns/payments:sa/reporter", "reporter-token"),
    ("static-credential", "k8s:prod:ns/ci:sa/deployer", "deployer-token"),
    ("static-credential", "k8s:prod:ns/ci:sa/old-bot", "old-bot-token"),
    ("static-credential", "k8s:prod:ns/payments:sa/reporter", "reporter-token"),
    ("unused-credential", "k8s:prod:ns/ci:sa/deployer", "deployer-token"),
    ("unused-credential", "k8s:prod:ns/payments:sa/api", "api-token-legacy"),
    ("static-credential", "k8s:prod:ns/payments:sa/api", "api-token-legacy"),
    ("rotation-overdue", "k8s:prod:ns/payments:sa/api", "api-token-legacy"),
    ("k8s-binding-to-missing-role", "k8s:prod:ns/payments:sa/api", None),
    ("k8s-token-automount", "k8s:prod:ns/monitoring:sa/node-exporter", None),
    ("k8s-token-automount", "k8s:prod:ns/payments:sa/default", None),
    ("k8s-token-automount", "k8s:prod:ns/payments:sa/reporter", None),
    ("k8s-token-automount", "k8s:staging:ns/web:sa/frontend", None),
}


@pytest.fixture(scope="module")
def kubeconfig(prod: Cluster, staging: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kubeconfig_for(tmp_path_factory.mktemp("kc"), {"prod": prod, "staging": staging}, dead=["dead"])


@pytest.fixture(scope="module")
def results(kubeconfig: Path) -> list[ScopeResult]:
    return scan({"kubeconfig": str(kubeconfig), "contexts": ["prod", "staging"]})


@pytest.fixture(scope="module")
def accounts(results: list[ScopeResult]) -> dict[str, Identity]:
    return {i.uid: i for r in results for i in r.identities}


def by_name(accounts: dict[str, Identity], name: str, context: str = "prod") -> Identity:
    ns, sa = name.split("/")
    return accounts[f"k8s:{context}:ns/{ns}:sa/{sa}"]


def triples(results: list[ScopeResult]) -> set[tuple[str, str, str | None]]:
    findings = evaluate(Inventory(scopes=results), as_of=NOW, config=Config())
    return {(f.rule_id, f.identity.uid, f.credential.id if f.credential else None) for f in findings}


def test_seeded_clusters_give_exactly_the_expected_findings(results: list[ScopeResult]) -> None:
    assert [(r.scope, r.status, r.missing) for r in results] == [("prod", "ok", []), ("staging", "ok", [])]
    assert triples(results) == EXPECTED


def test_every_service_account_becomes_an_identity_with_the_documented_uid(accounts: dict[str, Identity]) -> None:
    prod = sorted(i.name for i in accounts.values() if i.scope == "prod")
    assert len(prod) == 22
    api = by_name(accounts, "payments/api")
    assert (api.kind, api.provider, api.owner, api.tags) == (
        "k8s-service-account",
        "kubernetes",
        "payments",
        {"team": "payments"},
    )


def test_default_accounts_and_controllers_are_system_identities(accounts: dict[str, Identity]) -> None:
    system = sorted(i.name for i in accounts.values() if i.system and i.scope == "prod")
    assert "kube-system/replicaset-controller" in system and "payments/default" in system
    assert not by_name(accounts, "kube-system/coredns").system


def test_account_used_only_by_a_cronjob_template_counts_as_used(accounts: dict[str, Identity]) -> None:
    reporter = by_name(accounts, "payments/reporter")
    assert reporter.attributes["used_by_pods"] == 0
    assert reporter.attributes["used_by_workloads"] == ["CronJob/monthly-report"]
    assert (reporter.last_used_at, reporter.last_used_source) == (NOW, "pods+workloads")


def test_deployment_scaled_to_zero_and_suspended_cronjob_still_count_as_use(accounts: dict[str, Identity]) -> None:
    etl, release = by_name(accounts, "analytics/etl"), by_name(accounts, "ci/release-bot")
    assert etl.attributes["idle_workloads"] == ["Deployment/etl"] and etl.last_used_at == NOW
    assert release.attributes["idle_workloads"] == ["CronJob/release"] and release.last_used_at == NOW


def test_unused_account_without_label_is_judged_from_the_tracking_start(accounts: dict[str, Identity]) -> None:
    bot = by_name(accounts, "ci/old-bot")
    [token] = bot.credentials
    assert bot.last_used_at is None and bot.last_used_source == "pods+workloads+legacy-token-last-used label"
    assert token.last_used_at is None and token.last_used_source == "legacy-token-last-used label"
    assert token.last_used_tracking_since == bot.last_used_tracking_since
    assert token.last_used_tracking_since is not None and (NOW - token.last_used_tracking_since).days == 300
    assert bot.attributes["usage_confidence"] == "strong"


def test_legacy_token_is_a_static_credential_named_by_its_secret(accounts: dict[str, Identity]) -> None:
    [token] = by_name(accounts, "ci/deployer").credentials
    assert token.uid == "k8s:prod:ns/ci:sa/deployer:legacy-token/deployer-token"
    assert (token.kind, token.id, token.static, token.expires_at, token.enabled) == (
        "k8s-legacy-token",
        "deployer-token",
        True,
        None,
        True,
    )
    assert token.locations == ["k8s-secret:ci/deployer-token"]
    assert token.last_used_at is not None and (NOW - token.last_used_at).days == 120
    assert token.attributes["auto_generated"] is False  # manual: not listed in the account's secrets


def test_legacy_token_mounted_by_a_pod_names_the_pod_as_a_location(accounts: dict[str, Identity]) -> None:
    token = next(c for c in by_name(accounts, "payments/reporter").credentials if c.id == "reporter-token")
    assert token.attributes["mounted_by"] == ["Pod/report-debug"] and token.attributes["auto_generated"] is True
    assert token.locations == ["k8s-secret:payments/reporter-token", "k8s-pod:payments/report-debug"]


def test_invalidated_legacy_token_is_disabled(accounts: dict[str, Identity]) -> None:
    [token] = by_name(accounts, "ci/retired").credentials
    assert token.enabled is False and token.attributes["invalid_since"] == "2026-05-02"


def test_group_bindings_reach_every_account_of_the_group(accounts: dict[str, Identity]) -> None:
    api = by_name(accounts, "payments/api")
    vias = {g.source: g.via for g in api.grants}
    assert vias["payments/payments-view (ClusterRole view)"] == "group/system:serviceaccounts:payments"
    assert vias["all-serviceaccounts-namespace-lister (ClusterRole namespace-lister)"] == "group/system:serviceaccounts"
    assert "payments/payments-view (ClusterRole view)" not in {g.source for g in by_name(accounts, "ci/builder").grants}


def test_aggregated_cluster_role_that_lists_secrets_is_privilege_escalation(accounts: dict[str, Identity]) -> None:
    grant = next(g for g in by_name(accounts, "analytics/etl").grants if "analytics-reader" in g.source)
    assert grant.privilege is Privilege.PRIVILEGE_ESCALATION
    assert grant.permissions == ["secrets get/list/watch"] and grant.controls == ["CIS-K8S-5.1.2"]
    assert grant.resource_scope == "cluster"


@pytest.mark.parametrize(
    ("account", "binding", "permissions", "controls"),
    [
        ("ci/deployer", "ci-deployer-admin", ["cluster-admin"], ["CIS-K8S-5.1.1", "CIS-K8S-5.1.3"]),
        ("analytics/etl", "kube-system/etl-launcher", ["create pods/workloads in kube-system"], ["CIS-K8S-5.1.4"]),
        (
            "ci/release-bot",
            "ci/release-token-minter",
            ["pods/exec", "serviceaccounts/token create"],
            ["CIS-K8S-5.1.13"],
        ),
        ("ci/release-bot", "release-impersonate", ["impersonate"], ["CIS-K8S-5.1.8"]),
        ("monitoring/prometheus", "prometheus", ["nodes/proxy"], ["CIS-K8S-5.1.10"]),
        ("platform/rbac-operator", "rbac-operator", ["escalate roles", "bind roles"], ["CIS-K8S-5.1.8"]),
    ],
)
def test_risky_permissions_are_named_with_their_cis_controls(
    accounts: dict[str, Identity], account: str, binding: str, permissions: list[str], controls: list[str]
) -> None:
    grant = next(g for g in by_name(accounts, account).grants if g.source.startswith(binding + " "))
    assert grant.privilege in (Privilege.ADMIN, Privilege.PRIVILEGE_ESCALATION)
    assert grant.permissions == permissions and grant.controls == controls


def test_wildcard_verbs_on_configmaps_are_write_with_cis_5_1_3(accounts: dict[str, Identity]) -> None:
    grant = next(g for g in by_name(accounts, "platform/rbac-operator").grants if "platform-config" in g.source)
    assert grant.privilege is Privilege.WRITE and grant.controls == ["CIS-K8S-5.1.3"]


def test_effective_automount_lets_the_pod_override_the_account(accounts: dict[str, Identity]) -> None:
    exporter = by_name(accounts, "monitoring/node-exporter")
    assert exporter.attributes["automount_service_account_token"] is False
    assert exporter.attributes["token_mounted_by"] == ["DaemonSet/node-exporter"]
    assert {"object": "DaemonSet/node-exporter", "pod_setting": True, "account_setting": False} in (
        exporter.attributes["automount_overrides"]
    )
    assert by_name(accounts, "ci/builder").attributes["token_mounted_by"] == []  # Job template says false


def test_findings_carry_cis_controls_of_the_grants(results: list[ScopeResult]) -> None:
    findings = evaluate(Inventory(scopes=results), as_of=NOW, config=Config())
    bot = next(f for f in findings if f.rule_id == "over-privileged" and f.identity.name == "ci/release-bot")
    assert {"CIS-K8S-5.1.8", "CIS-K8S-5.1.13"} <= set(bot.controls)
    default = next(f for f in findings if f.rule_id == "k8s-default-service-account")
    assert "CIS-K8S-5.1.5" in default.controls and default.evidence["used_by_pods"] == 1
    automount = next(f for f in findings if f.rule_id == "k8s-token-automount" and "node-exporter" in f.identity.uid)
    assert "CIS-K8S-5.1.6" in automount.controls


def test_canary_token_value_appears_in_no_output(prod: Cluster, results: list[ScopeResult]) -> None:
    findings = evaluate(Inventory(scopes=results), as_of=NOW, config=Config())
    dumps = [r.model_dump_json() for r in results]
    dumps += [i.model_dump_json() for r in results for i in r.identities]
    dumps += [f.model_dump_json() for f in findings]
    text = "\n".join(dumps)
    for canary in prod.canaries:
        assert canary not in text
    assert CANARY not in text
    secret_lists = prod.server.calls("list", "secrets")
    assert secret_lists and all("as=PartialObjectMetadataList" in r.accept for r in secret_lists)
    assert all(r.query.get("fieldSelector") == "type=kubernetes.io/service-account-token" for r in secret_lists)


def test_secret_data_is_dropped_even_when_the_server_ignores_the_metadata_accept_header(
    fresh_prod: Cluster, tmp_path: Path
) -> None:
    fresh_prod.server.honour_partial_metadata = False
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert result.status == "ok"
    assert CANARY not in result.model_dump_json() + "".join(i.model_dump_json() for i in result.identities)
    assert any(c.id == "reporter-token" for i in result.identities for c in i.credentials)


def test_unreachable_context_is_a_scope_error_while_the_others_scan(kubeconfig: Path) -> None:
    report = run_scan(
        ScanRequest(
            providers=["kubernetes"],
            as_of=NOW,
            settings={"kubernetes": {"kubeconfig": str(kubeconfig), "all_contexts": True}},
        )
    )
    status = {s.scope: (s.status, s.error) for s in report.scopes}
    assert status["prod"] == ("ok", None) and status["staging"] == ("ok", None)
    assert status["dead"][0] == "error"
    assert status["dead"][1] is not None and status["dead"][1].startswith("network: context 'dead': cannot reach")


def test_forbidden_secrets_make_the_scope_partial_with_the_reason(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.deny("list", "secrets")
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert result.status == "partial"
    assert result.missing == [
        'legacy tokens: HTTP 403: secrets is forbidden: User "nhiwarden-scanner" cannot list resource "secrets" '
        'in API group "" at the cluster scope'
    ]
    assert not any(i.credentials for i in result.identities)
    deployer = next(i for i in result.identities if i.name == "ci/deployer")
    assert deployer.last_used_source is not None and deployer.grants  # the other signals are intact


def test_unknown_tracking_start_leaves_unlabelled_tokens_unjudged(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.store.delete(
        BY_PATH[("", "v1", "configmaps")],
        "kube-system",
        "kube-apiserver-legacy-service-account-token-tracking",
    )
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert result.status == "partial" and result.missing[0].startswith("legacy-token usage: tracking start unknown")
    bot = next(i for i in result.identities if i.name == "ci/old-bot")
    assert bot.last_used_source is None and bot.credentials[0].last_used_source is None
    found = triples([result])
    assert ("dormant-identity", "k8s:prod:ns/ci:sa/old-bot", None) not in found
    assert ("unused-credential", "k8s:prod:ns/ci:sa/deployer", "deployer-token") in found  # labelled: judged


def test_tracking_since_setting_is_used_when_the_cluster_has_no_record(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.deny("get", "configmaps")
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod})), "tracking_since": "2026-01-01"})
    assert result.status == "ok"
    bot = next(i for i in result.identities if i.name == "ci/old-bot")
    assert bot.credentials[0].last_used_tracking_since is not None
    assert bot.credentials[0].last_used_tracking_since.date().isoformat() == "2026-01-01"


def test_throttled_list_is_retried_after_the_servers_retry_after(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.inject(Fault(status=429, verb="list", resource="pods", retry_after=3, times=2))
    sleeps: list[float] = []
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))}, sleeps=sleeps)
    assert result.status == "ok" and sleeps == [3.0, 3.0]
    assert result.api_calls["list pods"] == 3


def test_throttling_that_never_ends_fails_the_scope_as_throttled(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.inject(Fault(status=429, verb="list", resource="serviceaccounts", retry_after=1, times=None))
    sleeps: list[float] = []
    with pytest.raises(ScopeError) as err:
        scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))}, sleeps=sleeps)
    assert err.value.kind == "throttled" and len(sleeps) == 4


def test_expired_continue_token_restarts_the_list(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.inject(Fault(status=410, verb="list", resource="serviceaccounts", continued=True))
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod})), "page_size": 5})
    assert result.status == "ok" and result.identity_count == 22
    calls = fresh_prod.server.calls("list", "serviceaccounts")
    assert [r.status for r in calls] == [200, 410, 200, 200, 200, 200, 200]
    assert [bool(r.query.get("continue")) for r in calls] == [False, True, False, True, True, True, True]


def test_forbidden_service_account_list_fails_the_scope(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.deny("list", "serviceaccounts")
    with pytest.raises(ScopeError) as err:
        scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert err.value.kind == "permission" and "cannot list resource" in err.value.reason


def test_bad_credentials_are_an_auth_scope_error(prod: Cluster, tmp_path: Path) -> None:
    bad = Cluster(prod.server, "wrong-token-abcdef", [])
    with pytest.raises(ScopeError) as err:
        scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": bad}))})
    assert err.value.kind == "auth" and "wrong-token-abcdef" not in err.value.reason


def test_scopes_are_the_current_context_unless_contexts_are_named(kubeconfig: Path) -> None:
    ids = lambda **kw: [s.id for s in KubernetesProvider({"kubeconfig": str(kubeconfig), **kw}, as_of=NOW).scopes()]  # noqa: E731
    assert ids() == ["prod"]
    assert ids(contexts=["staging"]) == ["staging"]
    assert ids(all_contexts=True) == ["dead", "prod", "staging"]


def test_unknown_context_is_a_not_found_scope_error(kubeconfig: Path) -> None:
    provider = KubernetesProvider({"kubeconfig": str(kubeconfig), "contexts": ["nope"]}, as_of=NOW)
    [scope] = provider.scopes()
    with pytest.raises(ScopeError) as err:
        provider.discover(scope, ScopeResult(provider="kubernetes", scope="nope"))
    assert err.value.kind == "not-found"


def test_missing_kubeconfig_is_a_scope_error(tmp_path: Path) -> None:
    with pytest.raises(ScopeError) as err:
        KubernetesProvider({"kubeconfig": str(tmp_path / "none")}, as_of=NOW).scopes()
    assert err.value.kind == "not-found"


def test_importing_the_provider_does_not_import_the_kubernetes_sdk() -> None:
    code = "import sys, nhiwarden.providers.kubernetes; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_discovery_reads_each_kind_once_per_context(results: list[ScopeResult]) -> None:
    calls = results[0].api_calls
    assert set(calls) == {
        "list serviceaccounts",
        "list secrets",
        "list pods",
        "list deployments",
        "list statefulsets",
        "list daemonsets",
        "list replicasets",
        "list jobs",
        "list cronjobs",
        "list roles",
        "list clusterroles",
        "list rolebindings",
        "list clusterrolebindings",
        "get configmaps",
    }
    assert set(calls.values()) == {1}


def test_report_json_is_valid_and_has_no_canary(prod: Cluster, kubeconfig: Path) -> None:
    report = run_scan(
        ScanRequest(
            providers=["kubernetes"],
            as_of=NOW,
            settings={"kubernetes": {"kubeconfig": str(kubeconfig), "contexts": ["prod"]}},
        )
    )
    text = json.dumps(report.model_dump(mode="json"))
    assert CANARY not in text and prod.token not in text


def test_shipped_read_only_cluster_role_is_enough_for_a_complete_scan(fresh_prod: Cluster, tmp_path: Path) -> None:
    import yaml

    manifest = Path(__file__).parents[2] / "deploy" / "kubernetes" / "nhiwarden-scanner-clusterrole.yaml"
    docs = list(yaml.safe_load_all(manifest.read_text()))
    rules = [rule for d in docs if d["kind"] in ("ClusterRole", "Role") for rule in d["rules"]]
    assert {v for rule in rules for v in rule["verbs"]} == {"list", "get"}
    assert all(rule["verbs"] == ["list"] for rule in rules if "secrets" in rule["resources"])  # no get/watch
    fresh_prod.server.authorize_only(rules)
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert (result.status, result.missing) == ("ok", [])
    assert all(r.status == 200 for r in fresh_prod.server.requests)


def test_token_without_label_is_unused_since_tracking_began(results: list[ScopeResult]) -> None:
    findings = evaluate(Inventory(scopes=results), as_of=NOW, config=Config())
    unused = next(
        f
        for f in findings
        if f.rule_id == "unused-credential" and f.credential and f.credential.id == "api-token-legacy"
    )
    assert unused.evidence["idle_days"] == 300 and unused.evidence["last_used_at"] is None


def test_forbidden_pods_make_usage_unknown_and_no_dormant_verdict(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.deny("list", "pods")
    [result] = scan({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))})
    assert result.status == "partial" and result.missing[0].startswith("pod usage: HTTP 403")
    assert not any(rule == "dormant-identity" for rule, _, _ in triples([result]))


def test_doctor_reports_each_permission(fresh_prod: Cluster, tmp_path: Path) -> None:
    fresh_prod.server.deny("list", "secrets")
    provider = KubernetesProvider({"kubeconfig": str(kubeconfig_for(tmp_path, {"prod": fresh_prod}))}, as_of=NOW)
    [scope] = provider.scopes()
    checks = {c.check: c.ok for c in provider.doctor(scope)}
    assert checks["reach API server"] and checks["list serviceaccounts"] and not checks["list secrets"]
    assert all(r.verb in ("get", "list") for r in fresh_prod.server.requests)


def test_in_a_pod_without_kubeconfig_the_pods_own_account_is_used(
    staging: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.config import incluster_config

    assert staging.server.ca_pem is not None
    token_file, ca_file = tmp_path / "token", tmp_path / "ca.crt"
    token_file.write_text(staging.server.add_token("system:serviceaccount:nhiwarden:nhiwarden-scanner"))
    ca_file.write_bytes(staging.server.ca_pem)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token_file))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca_file))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", staging.server.url.rsplit(":", 1)[1])
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    [result] = scan({})
    assert (result.scope, result.status) == ("in-cluster", "ok")
    assert any(i.uid == "k8s:in-cluster:ns/web:sa/frontend" for i in result.identities)
    assert staging.server.requests[-1].user == "system:serviceaccount:nhiwarden:nhiwarden-scanner"
