"""Plan the migration of a GCP user-managed service-account key to Workload Identity Federation.

Steps (group ``t:migrate``): ensure the workload identity pool (``nhiwarden-ci``, or
``MigrateRequest.pool``), ensure an OIDC provider for the consumer's issuer with an
``attributeCondition`` that pins the consumer (mandatory), bind ``roles/iam.workloadIdentityUser``
on the service account for exactly that principal, verify by reading back and judging the trust, and
write the consumer snippet (``google-github-actions/auth``). A GKE consumer
(``gke:<project>/<namespace>/<ksa>``) needs no pool: the binding is for
``serviceAccount:<project>.svc.id.goog[<namespace>/<ksa>]`` and the snippet is the Kubernetes
ServiceAccount annotated ``iam.gke.io/gcp-service-account``. Final stages, separate: ``deactivate``
disables the old key (reversible) once a fresh scan report shows it unused since the migration, then
``delete`` removes it. Read-only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions import gcp_federation as fed
from ..actions.gcp import parse_uid
from ..model import Check, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .steps import consumer_config_step, delete_after_step, unused_since_verify_check

if TYPE_CHECKING:
    from ..migrate import Consumer, MigrateRequest
    from ..planner import PlanRequest


def mapping_and_condition(consumer: Consumer) -> tuple[dict[str, str], str, str]:
    """(attributeMapping, attributeCondition, member suffix) pinning the consumer."""
    mapping = {"google.subject": "assertion.sub"}
    if consumer.kind == "github":
        mapping["attribute.repository"] = "assertion.repository"
        repo = consumer.subject.split(":", 2)[1]
        if consumer.subject_is_pattern:
            return mapping, f"assertion.repository == '{repo}'", f"attribute.repository/{repo}"
        return mapping, f"assertion.sub == '{consumer.subject}'", f"subject/{consumer.subject}"
    if consumer.kind == "gitlab":
        mapping["attribute.project_path"] = "assertion.project_path"
        path = consumer.subject.split(":", 2)[1]
        if consumer.subject_is_pattern:
            return mapping, f"assertion.project_path == '{path}'", f"attribute.project_path/{path}"
        return mapping, f"assertion.sub == '{consumer.subject}'", f"subject/{consumer.subject}"
    return mapping, f"assertion.sub == '{consumer.subject}'", f"subject/{consumer.subject}"


def migrate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    from ..migrate import MigrateRequest, parse_consumer

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "gcp-sa-key":
        raise Skip("migration to workload identity federation starts from a service-account key finding")
    if not req.consumer:
        raise Skip("--consumer is required: who uses the key (e.g. github:org/repo@main)")
    consumer = parse_consumer(req.consumer)
    if consumer.kind == "azure-mi":
        raise Skip("azure-mi consumers are not implemented for GCP")
    project, email = parse_uid(finding.identity.uid)
    if consumer.kind == "gke":
        return _gke(req, ctx, t, finding, identity, consumer, project, email)
    number = fed.project_number(ctx, project)
    if number is None:
        raise Skip(f"project {project} not found (its number names the pool)")
    pool = fed.pool_name(number, str(getattr(req, "pool", None) or "nhiwarden-ci"))
    provider_id = re.sub(r"[^a-z0-9-]", "-", consumer.name.lower())[:32].strip("-")
    provider = f"{pool}/providers/{provider_id}"
    mapping, condition, suffix = mapping_and_condition(consumer)
    body: dict[str, Any] = {
        "displayName": provider_id[:32],
        "oidc": {"issuerUri": consumer.issuer},
        "attributeMapping": mapping,
        "attributeCondition": condition,
    }
    member = (
        "principalSet" if suffix.startswith("attribute.") else "principal"
    ) + f"://iam.googleapis.com/{pool}/{suffix}"
    state = {
        "project": project,
        "email": email,
        "pool": pool,
        "provider": provider,
        "member": member,
        "provider_body": body,
    }
    check = Check(id=f"{t}.wif", observe="gcpfed.state", params=state, text="")
    facts = observe_into(ctx, check, ["pool_exists", "provider_exists", "provider_matches", "bound"])
    if facts["provider_exists"] and not facts["provider_matches"]:
        raise Skip(f"provider {provider} exists with another issuer, mapping or condition")
    check.text = (
        f"pool {'exists' if facts['pool_exists'] else 'absent'}, provider "
        f"{'exists' if facts['provider_exists'] else 'absent'}, {member} "
        f"{'already' if facts['bound'] else 'not'} bound on {email}"
    )
    key_check = _key_check(t, project, email, cred.id)
    snippet = yaml.safe_dump(
        {
            "jobs": {
                "deploy": {
                    "permissions": {"id-token": "write", "contents": "read"},
                    "steps": [
                        {
                            "name": "Authenticate to Google Cloud (keyless: workload identity federation)",
                            "uses": "google-github-actions/auth@v2",
                            "with": {"workload_identity_provider": provider, "service_account": email},
                        }
                    ],
                }
            }
        },
        sort_keys=False,
    )
    group = f"{t}:migrate"
    steps = [
        Step(
            id=f"{t}.pool",
            stage="create",
            group=group,
            action="gcpfed.ensure-pool",
            target=pool,
            api_call="none: the pool exists"
            if facts["pool_exists"]
            else f"POST v1/projects/{number}/locations/global/workloadIdentityPools"
            f"?workloadIdentityPoolId={pool.rsplit('/', 1)[1]}",
            params={"name": pool, "description": "nhiwarden: keyless access replacing service-account keys"},
            rollback="DELETE the pool if this plan created it",
        ),
        Step(
            id=f"{t}.provider",
            stage="create",
            group=group,
            action="gcpfed.ensure-provider",
            target=provider,
            api_call=(
                "none: the provider exists"
                if facts["provider_exists"]
                else f"POST v1/{pool}/providers?workloadIdentityPoolProviderId={provider_id} "
                f"{{oidc.issuerUri: {consumer.issuer}, attributeCondition: {condition}}}"
            ),
            params={"name": provider, "body": body},
            rollback="DELETE the provider if this plan created it",
        ),
        Step(
            id=f"{t}.bind",
            stage="create",
            group=group,
            action="gcpfed.bind",
            target=f"projects/{project}/serviceAccounts/{email}",
            api_call=f"getIamPolicy + setIamPolicy (etag) on {email}: {fed.WIF_ROLE} += {member}",
            params={"project": project, "email": email, "member": member},
            rollback=f"setIamPolicy without {member} if this plan added it",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="gcpfed.verify",
            target=provider,
            api_call="GET the provider and getIamPolicy: the planned condition and binding, judged narrow",
            params=state,
            rollback="none needed (read-only)",
        ),
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call=f"write the GitHub Actions step naming {provider} (printed with the plan)",
            kind="gcp-wif",
            consumer=consumer.spec,
            role_arn=provider,
            snippet=snippet,
            path=req.snippet_path,
        ),
        *_retire(req, t, cred.uid, cred.id, project, email),
    ]
    return Built(target=_target(finding, identity), checks=[check, key_check], steps=steps)


def _key_check(t: str, project: str, email: str, key_id: str) -> Check:
    return Check(
        id=f"{t}.key",
        observe="gcp.sa-key",
        params={"project": project, "email": email, "key_id": key_id},
        expect={"exists": True},
        invariant=True,
        until=f"{t}.delete",
        text=f"key {key_id} exists on {email}",
    )


def _retire(req: MigrateRequest, t: str, cred_uid: str, key_id: str, project: str, email: str) -> list[Step]:
    """The separate final stages: disable the old key once unused since the migration, later delete it."""
    return [
        Step(
            id=f"{t}.deactivate",
            stage="deactivate",
            group=f"{t}:retire",
            manual=True,
            action="gcp.disable-sa-key",
            target=cred_uid,
            api_call=f"DisableServiceAccountKey {email} key {key_id}",
            params={"project": project, "email": email, "key_id": key_id},
            rollback=f"EnableServiceAccountKey {email} key {key_id}",
            not_before={"after": f"{t}.verify", "days": req.verify_days},
            requires=[
                unused_since_verify_check(
                    t, "old-key-unused", cred_uid, f"a scan made after the migration shows key {key_id} unused since"
                )
            ],
        ),
        delete_after_step(
            t,
            "delete",
            after="deactivate",
            days=req.delete_after_days,
            action="gcp.delete-sa-key",
            target=cred_uid,
            api_call=f"DeleteServiceAccountKey {email} key {key_id}",
            params={"project": project, "email": email, "key_id": key_id},
        ),
    ]


def gke_snippet(consumer: Consumer, email: str) -> str:
    """The Kubernetes ServiceAccount that GKE Workload Identity maps to the Google service account."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": consumer.service_account,
                "namespace": consumer.namespace,
                "annotations": {"iam.gke.io/gcp-service-account": email},
            },
        },
        sort_keys=False,
    )


def _gke(
    req: MigrateRequest,
    ctx: Context,
    t: str,
    finding: Finding,
    identity: Identity | None,
    consumer: Consumer,
    project: str,
    email: str,
) -> Built:
    """GKE Workload Identity: bind the KSA's member on the service account; no pool or provider."""
    cred = finding.credential
    assert cred is not None
    member = f"serviceAccount:{consumer.subject}"
    state = {"project": project, "email": email, "pool": None, "provider": None, "member": member}
    check = Check(id=f"{t}.wif", observe="gcpfed.state", params=state, text="")
    facts = observe_into(ctx, check, ["bound"])
    check.text = f"{member} {'already' if facts['bound'] else 'not'} bound on {email}"
    group = f"{t}:migrate"
    steps = [
        Step(
            id=f"{t}.bind",
            stage="create",
            group=group,
            action="gcpfed.bind",
            target=f"projects/{project}/serviceAccounts/{email}",
            api_call=f"getIamPolicy + setIamPolicy (etag) on {email}: {fed.WIF_ROLE} += {member}",
            params={"project": project, "email": email, "member": member},
            rollback=f"setIamPolicy without {member} if this plan added it",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="gcpfed.verify",
            target=f"projects/{project}/serviceAccounts/{email}",
            api_call=f"getIamPolicy: {fed.WIF_ROLE} grants {member}",
            params=state,
            rollback="none needed (read-only)",
        ),
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call=f"write the Kubernetes ServiceAccount annotated with {email} (printed with the plan)",
            kind="gcp-wif",
            consumer=consumer.spec,
            role_arn=email,
            snippet=gke_snippet(consumer, email),
            path=req.snippet_path,
        ),
        *_retire(req, t, cred.uid, cred.id, project, email),
    ]
    return Built(target=_target(finding, identity), checks=[check, _key_check(t, project, email, cred.id)], steps=steps)
