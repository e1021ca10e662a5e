"""Seeded GCP estates: a small organisation with every case the rules judge, and a sprawling project.

Ages are relative to ``now`` so the tests (with an injected ``as_of``) and the demo (today) see the same
story. Ids are deterministic and real-shaped: 12-digit project and folder numbers, 21-digit unique ids,
40-hex key ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nhiwarden.sandbox.gcp.store import (
    Binding,
    Folder,
    Key,
    Project,
    ServiceAccount,
    Store,
    WorkloadIdentityPool,
    WorkloadIdentityPoolProvider,
)

ORG_ID = "584732910456"
PROD_FOLDER = "268401937755"
TEAM_FOLDER = "731904662018"

# A description someone pasted a secret into: the provider must redact it everywhere.
CANARY_DESCRIPTION_SECRET = "Zq8vN3pL5tW2yR7kD1mX"


@dataclass
class SeededOrg:
    store: Store
    keys: dict[str, str] = field(default_factory=dict)  # label -> key id
    canaries: list[str] = field(default_factory=list)


class _Ids:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def unique_id(self) -> str:
        return "1" + "".join(str(self.rng.randrange(10)) for _ in range(20))

    def key_id(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(40))

    def private_key_data(self) -> str:
        return "".join(
            self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(64)
        )


def _sa(ids: _Ids, project: Project, name: str, **kw: object) -> ServiceAccount:
    email = f"{name}@{project.project_id}.iam.gserviceaccount.com"
    account = ServiceAccount(email=email, unique_id=ids.unique_id(), display_name=name, **kw)  # type: ignore[arg-type]
    return project.add(account)


def _system_keys(ids: _Ids, account: ServiceAccount, now: datetime, used: datetime | None = None) -> None:
    """Google-managed keys every account has; rotated by Google, never held by the customer."""
    for age in (3, 10):
        account.keys.append(
            Key(
                key_id=ids.key_id(),
                created=now - timedelta(days=age),
                expires=now + timedelta(days=90 - age),
                key_type="SYSTEM_MANAGED",
                last_authenticated=used,
            )
        )


def seed_org(now: datetime, store: Store | None = None, *, denied_project: bool = True) -> SeededOrg:
    """acme.example: prod folder with two scanned projects, one denied project, one being deleted.

    ``denied_project=False`` leaves out the project the scanner may not read (the demo, whose exit code
    CI checks, should not fail a scope on purpose).
    """
    store = store or Store(page_size=2, activity_page_size=2)
    ids = _Ids(20261101)
    seeded = SeededOrg(store)
    day = timedelta(days=1)

    store.organization = f"organizations/{ORG_ID}"
    store.add_folder(Folder(PROD_FOLDER, f"organizations/{ORG_ID}", "prod"))
    store.add_folder(Folder(TEAM_FOLDER, f"folders/{PROD_FOLDER}", "payments-team"))

    # --- acme-payments-prod: every finding case ---------------------------------------------------
    pay = store.add_project(Project("acme-payments-prod", "481529637201", f"folders/{TEAM_FOLDER}", "Payments prod"))
    ci = _sa(ids, pay, "ci-deployer", description="Deploys from CI", last_authenticated=now - day)
    exposed = Key(
        ids.key_id(),
        now - 10 * day,
        extended_status=["SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_EXPOSED"],
        last_authenticated=now - day,
        private_key_data=ids.private_key_data(),
    )
    ci.keys.append(exposed)
    auto_disabled = Key(
        ids.key_id(),
        now - 40 * day,
        disabled=True,  # Google disabled it when it leaked
        disable_reason="SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED",
        extended_status=["SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_EXPOSED"],
        last_authenticated=now - 12 * day,
    )
    ci.keys.append(auto_disabled)
    seeded.keys["exposed-auto-disabled"] = auto_disabled.key_id
    ci.policy.append(Binding("roles/iam.serviceAccountTokenCreator", ["user:alice@acme.example"]))
    ci.policy.append(Binding("roles/iam.serviceAccountUser", ["group:release-eng@acme.example"]))
    _system_keys(ids, ci, now, now - day)
    seeded.keys["exposed"] = exposed.key_id

    legacy = _sa(ids, pay, "legacy-batch", description=f"Nightly batch; old password={CANARY_DESCRIPTION_SECRET}")
    old = Key(ids.key_id(), now - 200 * day, private_key_data=ids.private_key_data())
    legacy.keys.append(old)
    _system_keys(ids, legacy, now)
    seeded.keys["old-never-used"] = old.key_id

    billing = _sa(ids, pay, "billing-exporter", last_authenticated=now - day)
    aged = Key(ids.key_id(), now - 400 * day, origin="USER_PROVIDED", last_authenticated=now - day)
    billing.keys.append(aged)
    _system_keys(ids, billing, now, now - 2 * day)
    seeded.keys["aged-in-use"] = aged.key_id
    successor = Key(ids.key_id(), now - 5 * day, last_authenticated=now - day)  # rotation never finished
    billing.keys.append(successor)
    seeded.keys["successor"] = successor.key_id

    archive = _sa(ids, pay, "archive-reader", last_authenticated=now - 250 * day)
    stale = Key(ids.key_id(), now - 300 * day, last_authenticated=now - 250 * day)
    archive.keys.append(stale)
    seeded.keys["dormant"] = stale.key_id

    reporting = _sa(ids, pay, "reporting", last_authenticated=now - 3 * day)
    off = Key(
        ids.key_id(), now - 300 * day, disabled=True, disable_reason="SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED"
    )
    reporting.keys.append(off)
    _system_keys(ids, reporting, now, now - 3 * day)
    seeded.keys["disabled"] = off.key_id

    retired = _sa(ids, pay, "retired-etl", disabled=True, description="Disabled in 2025 migration")
    retired_key = Key(ids.key_id(), now - 500 * day)
    retired.keys.append(retired_key)
    seeded.keys["on-disabled-account"] = retired_key.key_id

    compute = pay.add(
        ServiceAccount(
            f"{pay.number}-compute@developer.gserviceaccount.com",
            ids.unique_id(),
            "Compute Engine default service account",
            last_authenticated=now - 2 * day,
        )
    )
    _system_keys(ids, compute, now, now - 2 * day)
    broker = _sa(ids, pay, "token-broker", last_authenticated=now - day)
    _system_keys(ids, broker, now, now - day)

    # Workload Identity Federation: a GitHub provider without attributeCondition whose whole pool may act
    # as gh-actions-deployer (any repository on GitHub), and a pinned one for gh-release.
    github = "https://token.actions.githubusercontent.com"
    mapping = {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.ref": "assertion.ref",
    }
    broad_pool = pay.add_pool(WorkloadIdentityPool("github-ci", display_name="GitHub CI"))
    broad_pool.add(
        WorkloadIdentityPoolProvider(
            "github-any",
            display_name="GitHub (any repository)",
            attribute_mapping=dict(mapping),
            oidc={"issuerUri": github},
        )
    )
    narrow_pool = pay.add_pool(WorkloadIdentityPool("github-release", display_name="GitHub release"))
    narrow_pool.add(
        WorkloadIdentityPoolProvider(
            "acme-payments",
            display_name="acme/payments only",
            attribute_mapping=dict(mapping),
            attribute_condition="assertion.repository == 'acme/payments' && assertion.ref == 'refs/heads/main'",
            oidc={"issuerUri": github, "allowedAudiences": ["https://github.com/acme"]},
        )
    )
    deployer = _sa(ids, pay, "gh-actions-deployer", description="GitHub Actions deploys", last_authenticated=now - day)
    deployer.policy.append(
        Binding(
            "roles/iam.workloadIdentityUser",
            [f"principalSet://iam.googleapis.com/{pay.pool_name('github-ci')}/*"],
        )
    )
    release = _sa(ids, pay, "gh-release", description="Release workflow", last_authenticated=now - day)
    release.policy.append(
        Binding(
            "roles/iam.workloadIdentityUser",
            [f"principalSet://iam.googleapis.com/{pay.pool_name('github-release')}/attribute.repository/acme/payments"],
        )
    )

    pay.bindings = [
        Binding("roles/owner", ["user:cto@acme.example"]),
        Binding("roles/editor", [f"serviceAccount:{compute.email}"]),
        Binding("roles/iam.serviceAccountTokenCreator", [f"serviceAccount:{broker.email}"]),
        Binding("roles/cloudsql.client", [f"serviceAccount:{billing.email}"]),
        Binding(
            "roles/compute.serviceAgent",
            [f"serviceAccount:service-{pay.number}@compute-system.iam.gserviceaccount.com"],
        ),
        Binding(
            "roles/storage.objectViewer",
            [f"serviceAccount:{reporting.email}"],
            {"title": "business-hours", "expression": "request.time.getHours('UTC') < 18"},
        ),
    ]
    store.folders[f"folders/{PROD_FOLDER}"].bindings = [
        Binding("roles/storage.admin", [f"serviceAccount:{reporting.email}"]),
    ]
    store.org_bindings = [
        Binding("roles/iam.securityReviewer", [f"serviceAccount:{billing.email}", "group:secops@acme.example"]),
        Binding("roles/resourcemanager.organizationAdmin", ["user:cto@acme.example"]),
    ]

    # --- acme-data-staging: Policy Analyzer API disabled -> partial, no usage verdicts -----------------
    stg = store.add_project(
        Project(
            "acme-data-staging", "733018264159", f"folders/{PROD_FOLDER}", "Data staging", policy_analyzer="disabled"
        )
    )
    etl = _sa(ids, stg, "etl-loader", last_authenticated=now - 300 * day)
    etl_key = Key(ids.key_id(), now - 120 * day, last_authenticated=now - 300 * day)
    etl.keys.append(etl_key)
    _system_keys(ids, etl, now)
    seeded.keys["staging-unknown-usage"] = etl_key.key_id
    stg.bindings = [Binding("roles/bigquery.dataEditor", [f"serviceAccount:{etl.email}"])]

    # --- acme-sandbox-dev: the scanner is denied ------------------------------------------------------
    if denied_project:
        dev = store.add_project(
            Project("acme-sandbox-dev", "190384756620", f"organizations/{ORG_ID}", "Sandbox", denied=True)
        )
        _sa(ids, dev, "experiment")

    # --- not scanned: being deleted, and a project outside the organisation ----------------------------
    store.add_project(Project("acme-old-archive", "902817364512", f"organizations/{ORG_ID}", state="DELETE_REQUESTED"))
    other = store.add_project(Project("partner-shared-tools", "557190238461", "organizations/118822334455"))
    _sa(ids, other, "partner-sync")

    seeded.canaries = [
        CANARY_DESCRIPTION_SECRET,
        *(
            k.private_key_data
            for p in store.projects.values()
            for a in p.accounts.values()
            for k in a.keys
            if k.private_key_data
        ),
    ]
    store.canaries = list(seeded.canaries)
    return seeded


def seed_sprawl(store: Store, now: datetime, project_id: str = "acme-sprawl", accounts: int = 2000) -> Project:
    """One project with ``accounts`` service accounts, each with one key; three in four used recently."""
    ids = _Ids(4242)
    project = store.add_project(Project(project_id, "660512938407", f"organizations/{ORG_ID}", "Sprawl"))
    for n in range(accounts):
        used = now - timedelta(days=n % 30) if n % 4 else None
        account = ServiceAccount(
            f"svc-{n:04d}@{project_id}.iam.gserviceaccount.com", ids.unique_id(), f"svc {n}", last_authenticated=used
        )
        account.keys.append(Key(ids.key_id(), now - timedelta(days=30 + n % 200), last_authenticated=used))
        project.add(account)
    project.bindings = [
        Binding("roles/viewer", [f"serviceAccount:svc-{n:04d}@{project_id}.iam.gserviceaccount.com" for n in range(10)])
    ]
    return project
