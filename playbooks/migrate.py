"""The ``migrate`` playbook: replace a static secret with keyless federation, as a reviewed plan.

Owns the consumer syntax (``github:org/repo[@ref|:environment]``, ``gitlab:group/project[@ref]``,
``k8s:<cluster-issuer>/<namespace>/<serviceaccount>``, ``gke:<project>/<namespace>/<serviceaccount>`` for GKE
Workload Identity, ``x509:CN=...`` for on-premises certificates;
``azure-mi:<name>`` names a managed identity, a target: ``--to azure-mi:<name>``), the token claims each
consumer presents (issuer, ``sub``, ``aud``), the consumer-side snippets (GitHub Actions step, GitLab job,
Kubernetes ServiceAccount), and ``make_migrate_plan``, which plans through the Playbooks I engine
(same ``Plan``/``Step``/``Check`` model, same preconditions and state hash, same apply/rollback/journal).
Per-target step builders live in ``builders/migrate_<provider>.py``. Read-only: nothing mutates here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity
from nhiwarden.redact import redact

from .actions import Context, StepError
from .engine import mismatches
from .model import Plan, PlanError, state_hash
from .planner import Builder, Built, PlanRequest, Skip, _identity, _who, select

# Action/check name prefixes of the migration modules (lazy-loaded by the engine like the others).
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"

TARGETS = {
    "aws-role": "IAM role trusted through an OIDC identity provider (GitHub, GitLab, or EKS/IRSA consumers)",
    "vault-approle": "Vault/OpenBao AppRole with bounded secret-id and token TTLs",
    "vault-jwt": "Vault/OpenBao JWT auth role bound to the consumer's OIDC token (no secret), bounded token TTLs",
    "azure-federated-credential": "federated identity credential (issuer, subject, audience) on the Entra app",
    "k8s-projected-token": "projected, expiring service-account tokens in every workload that mounted the Secret",
    "gcp-wif": "workload identity pool + OIDC provider with a mandatory attributeCondition + workloadIdentityUser",
    "vault-dynamic-secrets": "static cloud/database keys held in Vault KV -> the matching dynamic secrets engine "
    "(aws, gcp, azure, database) with a role bounded by TTLs, where the server has the engine",
    "azure-mi": "federated identity credential on a user-assigned managed identity (--to azure-mi:<identity>) "
    "for an OIDC consumer, with the application's Azure role assignments carried over",
    "aws-roles-anywhere": "IAM Roles Anywhere trust anchor (CA certificate) + profile + role trusting "
    "rolesanywhere.amazonaws.com pinned to the consumer's certificate subject (x509: consumers, on premises)",
}
_OIDC = frozenset({"github", "gitlab", "k8s"})
# Which consumer forms each target accepts (None: no --consumer needed, any given one is only named).
CONSUMER_KINDS: dict[str, frozenset[str] | None] = {
    "aws-role": _OIDC,
    "vault-approle": None,
    "vault-jwt": _OIDC,
    "azure-federated-credential": _OIDC,
    "k8s-projected-token": None,
    "gcp-wif": _OIDC | {"gke"},
    "vault-dynamic-secrets": None,
    "azure-mi": _OIDC,
    "aws-roles-anywhere": frozenset({"x509"}),
}
# Identity kinds whose credentials migrate somewhere else than their credential kind suggests.
DEFAULT_TARGET_BY_IDENTITY = {"vault-kv-secret": "vault-dynamic-secrets"}
DEFAULT_TARGET = {
    "aws-access-key": "aws-role",
    "vault-token": "vault-approle",
    "azure-client-secret": "azure-federated-credential",
    "k8s-legacy-token": "k8s-projected-token",
    "gcp-sa-key": "gcp-wif",
}

_NAME = r"[A-Za-z0-9_.-]+"
_GITHUB = re.compile(rf"^github:(?P<owner>{_NAME})/(?P<repo>{_NAME})(?:@(?P<ref>[^\s:@]+)|:(?P<env>[^\s:@/]+))?$")
_GITLAB = re.compile(rf"^gitlab:(?P<path>{_NAME}(?:/{_NAME})+?)(?:@(?P<ref>[^\s:@]+))?$")
_K8S = re.compile(r"^k8s:(?P<issuer>.+)/(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/(?P<sa>[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$")
_GKE = re.compile(
    r"^gke:(?P<project>[a-z][-a-z0-9]{4,28}[a-z0-9])/(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
    r"/(?P<sa>[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$"
)
_AZURE_MI = re.compile(r"^azure-mi:(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{1,127})$")
# azure-mi:<name>, azure-mi:<resource-group>/<name> or azure-mi:<subscription>/<resource-group>/<name>
_AZURE_MI_TARGET = re.compile(
    r"^azure-mi:(?:(?:(?P<sub>[0-9a-fA-F-]{36})/)?(?P<rg>[-\w.()]{1,90})/)?(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{1,127})$"
)
_X509 = re.compile(r"^x509:(?P<dn>.+)$")


@dataclass(frozen=True)
class Consumer:
    """The workload that used the static secret, and the token it will present instead."""

    spec: str
    kind: str  # github | gitlab | k8s | gke | azure-mi | x509
    issuer: str
    subject: str
    subject_is_pattern: bool
    name: str  # short, for generated resource names
    ref: str | None = None
    environment: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    x509_subject: tuple[tuple[str, str], ...] = ()  # x509: consumers, (attribute, value) in DN order

    def audience(self, target: str) -> str:
        return AZURE_AUDIENCE if target.startswith("azure") else AWS_AUDIENCE


def _ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def parse_consumer(spec: str) -> Consumer:
    """Parse ``--consumer``; a wrong form is a PlanError naming the accepted forms."""
    text = spec.strip()
    if m := _GITHUB.match(text):
        repo = f"{m['owner']}/{m['repo']}"
        if m["env"]:
            sub, pattern = f"repo:{repo}:environment:{m['env']}", False
        elif m["ref"]:
            sub, pattern = f"repo:{repo}:ref:{_ref(m['ref'])}", False
        else:
            sub, pattern = f"repo:{repo}:*", True  # one repository, any branch/environment
        return Consumer(text, "github", GITHUB_ISSUER, sub, pattern, f"gh-{m['owner']}-{m['repo']}", m["ref"], m["env"])
    if m := _GITLAB.match(text):
        path = m["path"]
        if m["ref"]:
            sub, pattern = f"project_path:{path}:ref_type:branch:ref:{m['ref']}", False
        else:
            sub, pattern = f"project_path:{path}:*", True
        return Consumer(text, "gitlab", GITLAB_ISSUER, sub, pattern, "gl-" + path.replace("/", "-"), m["ref"])
    if m := _K8S.match(text):
        issuer = m["issuer"] if m["issuer"].startswith("https://") else f"https://{m['issuer']}"
        return Consumer(
            text,
            "k8s",
            issuer.rstrip("/"),
            f"system:serviceaccount:{m['ns']}:{m['sa']}",
            False,
            f"k8s-{m['ns']}-{m['sa']}",
            namespace=m["ns"],
            service_account=m["sa"],
        )
    if m := _GKE.match(text):
        pool = f"{m['project']}.svc.id.goog"  # the cluster project's workload identity pool
        return Consumer(
            text,
            "gke",
            pool,
            f"{pool}[{m['ns']}/{m['sa']}]",
            False,
            f"gke-{m['ns']}-{m['sa']}",
            namespace=m["ns"],
            service_account=m["sa"],
        )
    if m := _AZURE_MI.match(text):
        return Consumer(text, "azure-mi", "", "", False, f"mi-{m['name']}")
    if m := _X509.match(text):
        pairs = parse_dn(m["dn"], spec)
        cn = dict(pairs).get("CN") or pairs[0][1]
        name = "x509-" + re.sub(r"[^A-Za-z0-9-]", "-", cn).strip("-")
        return Consumer(text, "x509", "", dn_text(pairs), False, name[:64], x509_subject=pairs)
    raise PlanError(
        f"--consumer {spec!r}: expected github:org/repo[@ref|:environment], gitlab:group/project[@ref], "
        "k8s:<cluster-issuer>/<namespace>/<serviceaccount>, gke:<project>/<namespace>/<serviceaccount>, "
        "azure-mi:<name> or x509:CN=<name>[,O=<org>,...]"
    )


# Subject attributes IAM Roles Anywhere maps to session tags (aws:PrincipalTag/x509Subject/<attr>).
X509_ATTRIBUTES = ("CN", "O", "OU", "C", "ST", "L")


def parse_dn(text: str, spec: str) -> tuple[tuple[str, str], ...]:
    """``CN=host.example,O=Acme`` -> (("CN", "host.example"), ("O", "Acme")); ``\\,`` escapes a comma."""
    parts = [p.replace("\\,", ",").strip() for p in re.split(r"(?<!\\),", text)]
    pairs: list[tuple[str, str]] = []
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip().upper()
        if not sep or not value.strip() or key not in X509_ATTRIBUTES or any(k == key for k, _ in pairs):
            raise PlanError(
                f"--consumer {spec!r}: expected x509:CN=<name>[,O=<org>,OU=<unit>,C=..,ST=..,L=..] "
                "(each attribute once, none empty)"
            )
        if "*" in value or "?" in value:
            raise PlanError(f"--consumer {spec!r}: a certificate subject is pinned exactly, no wildcards")
        pairs.append((key, value.strip()))
    if "CN" not in dict(pairs):
        raise PlanError(f"--consumer {spec!r}: the subject must name the host or service (CN=...)")
    return tuple(pairs)


def dn_text(pairs: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{k}={v.replace(',', chr(92) + ',')}" for k, v in pairs)


# -- consumer-side snippets -----------------------------------------------------------------------


def github_actions_snippet(role_arn: str, region: str, consumer: Consumer) -> str:
    job: dict[str, Any] = {
        "permissions": {"id-token": "write", "contents": "read"},
        "steps": [
            {
                "name": "Configure AWS credentials (keyless: OIDC federation, no stored key)",
                "uses": "aws-actions/configure-aws-credentials@v4",
                "with": {"role-to-assume": role_arn, "aws-region": region, "audience": AWS_AUDIENCE},
            }
        ],
    }
    if consumer.environment:
        job = {"environment": consumer.environment, **job}
    return yaml.safe_dump({"jobs": {"deploy": job}}, sort_keys=False)


def gitlab_snippet(role_arn: str, region: str) -> str:
    job = {
        "deploy": {
            "id_tokens": {"AWS_ID_TOKEN": {"aud": AWS_AUDIENCE}},
            "variables": {"AWS_ROLE_ARN": role_arn, "AWS_REGION": region},
            "script": [
                'export $(printf "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s" '
                '$(aws sts assume-role-with-web-identity --role-arn "$AWS_ROLE_ARN" '
                '--role-session-name "gitlab-$CI_PROJECT_ID-$CI_PIPELINE_ID" '
                '--web-identity-token "$AWS_ID_TOKEN" --duration-seconds 3600 '
                "--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text))",
                "aws sts get-caller-identity",
            ],
        }
    }
    return yaml.safe_dump(job, sort_keys=False)


def irsa_snippet(role_arn: str, consumer: Consumer) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": consumer.service_account,
                "namespace": consumer.namespace,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            },
        },
        sort_keys=False,
    )


def aws_snippet(role_arn: str, region: str, consumer: Consumer) -> str:
    if consumer.kind == "github":
        return github_actions_snippet(role_arn, region, consumer)
    if consumer.kind == "gitlab":
        return gitlab_snippet(role_arn, region)
    return irsa_snippet(role_arn, consumer)


# -- planning ------------------------------------------------------------------------------------


@dataclass
class MigrateRequest(PlanRequest):
    """A PlanRequest for ``migrate``: the target (``--to``) and the consumer (``--consumer``)."""

    to: str | None = None
    consumer: str | None = None
    role_name: str | None = None
    verify_days: int = 7
    secret_id_ttl: str = "24h"
    approle_token_ttl: str = "1h"
    approle_token_max_ttl: str = "4h"
    snippet_path: str | None = None
    auth_mount: str | None = None
    pool: str | None = None
    notes: list[str] = field(default_factory=list)
    # vault-dynamic-secrets: lease bounds, the engine's mount and its engine-specific settings
    # (also read from NHIWARDEN_ENGINE_CONFIG, a JSON object, when not given here).
    lease_ttl: str = "1h"
    lease_max_ttl: str = "4h"
    engine_mount: str | None = None
    engine_config: dict[str, Any] = field(default_factory=dict)
    # aws-roles-anywhere: the CA certificate (PEM file) that issues the consumer's certificates
    ca_cert_path: str | None = None
    session_duration: int = 3600


def migrate_request_from(req: PlanRequest, **extra: Any) -> MigrateRequest:
    """A MigrateRequest carrying every field of a PlanRequest built by ``nhiwarden plan``, plus ``extra``."""
    from dataclasses import fields

    base = {f.name: getattr(req, f.name) for f in fields(PlanRequest)}
    return MigrateRequest(**base, **extra)


def _builder(target: str) -> Builder:
    if target == "aws-role":
        from .builders import migrate_aws

        return migrate_aws.migrate
    if target == "vault-approle":
        from .builders import migrate_vault

        return migrate_vault.migrate
    if target == "vault-jwt":
        from .builders import migrate_vault

        return migrate_vault.migrate_jwt
    if target == "azure-federated-credential":
        from .builders import migrate_azure

        return migrate_azure.migrate
    if target == "k8s-projected-token":
        from .builders import migrate_kubernetes

        return migrate_kubernetes.migrate
    if target == "gcp-wif":
        from .builders import migrate_gcp

        return migrate_gcp.migrate
    if target == "vault-dynamic-secrets":
        from .builders import migrate_vault

        return migrate_vault.migrate_dynamic
    if target == "azure-mi":
        from .builders import migrate_azure

        return migrate_azure.migrate_mi
    if target == "aws-roles-anywhere":
        from .builders import migrate_aws

        return migrate_aws.migrate_roles_anywhere
    raise Skip(f"migration to {target} is not implemented yet (choose from {', '.join(TARGETS)})")


def parse_mi_target(to: str) -> tuple[str | None, str | None, str]:
    """``azure-mi:[[<subscription>/]<resource-group>/]<name>`` -> (subscription, resource group, name)."""
    m = _AZURE_MI_TARGET.match(to.strip())
    if not m:
        raise PlanError(
            f"--to {to!r}: expected azure-mi:<identity>, azure-mi:<resource-group>/<identity> or "
            "azure-mi:<subscription>/<resource-group>/<identity>"
        )
    return m["sub"], m["rg"], m["name"]


def target_for(req: MigrateRequest, finding: Finding) -> str:
    if req.to:
        if req.to.startswith("azure-mi:"):
            parse_mi_target(req.to)
            return "azure-mi"
        if req.to == "azure-mi":
            raise PlanError("--to azure-mi needs the managed identity: --to azure-mi:[<resource-group>/]<identity>")
        if req.to not in TARGETS:
            raise PlanError(f"--to {req.to!r}: choose from {', '.join(TARGETS)}")
        return req.to
    if finding.identity.kind in DEFAULT_TARGET_BY_IDENTITY:
        return DEFAULT_TARGET_BY_IDENTITY[finding.identity.kind]
    kind = finding.credential.kind if finding.credential else finding.identity.kind
    if kind not in DEFAULT_TARGET:
        raise Skip(f"no migration target for {kind}: pass --to")
    return DEFAULT_TARGET[kind]


def with_arm(req: MigrateRequest) -> dict[str, dict[str, Any]]:
    """The plan's connections, with the scan's ARM endpoint and subscriptions for Azure (non-secret)."""
    out = {name: dict(values) for name, values in req.connections.items()}
    settings = ((req.report.scan.parameters or {}).get("provider_settings") or {}).get("azure") or {}
    azure = out.setdefault("azure", {})
    for key in ("arm_endpoint", "subscriptions"):
        if azure.get(key) is None and settings.get(key):
            azure[key] = settings[key]
    if not azure:
        del out["azure"]
    return out


def check_consumer(req: MigrateRequest, target: str) -> None:
    """Refuse a consumer form the target cannot trust (e.g. an x509 subject for an OIDC role)."""
    allowed = CONSUMER_KINDS.get(target)
    if allowed is None or not req.consumer:
        return
    kind = parse_consumer(req.consumer).kind
    if kind not in allowed:
        hint = {
            "azure-mi": "azure-mi:<name> names a managed identity to federate: pass it as --to azure-mi:<name> "
            "with the workload as --consumer (github:, gitlab: or k8s:)",
            "x509": "x509: consumers (on-premises certificates) migrate with --to aws-roles-anywhere",
            "gke": "gke: consumers (GKE Workload Identity) migrate GCP service-account keys with --to gcp-wif",
        }.get(kind, f"{target} trusts {', '.join(sorted(allowed))} consumers")
        raise Skip(f"--consumer {req.consumer}: {hint}")


def make_migrate_plan(req: MigrateRequest) -> Plan:
    """Plan a migration exactly like ``planner.make_plan`` plans a rotation (same limits and checks)."""
    if req.max_changes < 1:
        raise PlanError("--max-changes must be at least 1")
    findings = select(req)
    now = req.now or datetime.now(UTC)
    plan = Plan(
        id="plan-" + uuid.uuid4().hex[:16],
        playbook="migrate",
        created_at=now,
        valid_until=now + req.valid_for,
        created_by=_who(),
        report={"file": req.report_path, "scan_id": req.report.scan.id, "as_of": req.report.scan.as_of.isoformat()},
        targets=[],
        max_changes=req.max_changes,
        grace_days=req.grace_days,
        connections=with_arm(req),
        preconditions=[],
        state_hash="",
        steps=[],
    )
    ctx = Context(plan=plan, now=now)
    if req.env is not None:
        ctx.env = dict(req.env)
    built: list[Built] = []
    seen: set[str] = set()
    for finding in findings:
        key = finding.credential.uid if finding.credential else finding.identity.uid
        if key in seen:
            continue
        seen.add(key)
        tag = f"t{len(built) + 1}"
        try:
            target = target_for(req, finding)
            check_consumer(req, target)
            builder = _builder(target)
            built.append(builder(req, ctx, tag, finding, _identity(req.report, finding.identity.uid)))
        except (Skip, StepError) as exc:
            plan.skipped.append(f"{finding.id} ({finding.identity.uid}): {redact(exc)}")
    if len(built) > req.max_changes:
        raise PlanError(
            f"the plan would migrate {len(built)} credentials, more than --max-changes {req.max_changes}: "
            "narrow it with --finding/--scope or raise --max-changes"
        )
    if not built:
        raise PlanError("nothing can be planned safely: " + "; ".join(plan.skipped))
    plan.targets = [b.target for b in built]
    plan.preconditions = [c for b in built for c in b.checks]
    plan.steps = [s for b in built for s in b.steps if not s.manual] + [s for b in built for s in b.steps if s.manual]
    problems, seen_state = mismatches(ctx, plan.preconditions)
    if problems:
        raise PlanError("live state changed while planning: " + "; ".join(problems))
    plan.state_hash = state_hash(seen_state)
    return plan


def consumer_outputs(plan: Plan) -> list[dict[str, Any]]:
    """The role/provider names and consumer snippets a migration plan produces (public, no secret)."""
    out = []
    for step in plan.steps:
        if step.action == "migrate.consumer-config":
            out.append({k: step.params.get(k) for k in ("target", "consumer", "role_arn", "format", "snippet")})
    return out


def describe_identity(identity: Identity | None) -> str:
    return identity.name if identity else "?"
