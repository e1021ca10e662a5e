"""Plan the migration of an Entra application's client secret to a federated identity credential.

Steps (group ``t:migrate``): ensure a federated identity credential on the application with the
consumer's issuer, exact subject and ``api://AzureADTokenExchange`` audience; verify it by reading it
back (and judging it with the federation trust audit); write the consumer snippet (``azure/login``
with ``client-id``/``tenant-id``, no secret). Final stage ``delete`` (run separately after the
verification window): ``removePassword`` for the old secret once a fresh scan report shows it unused
since the migration (Entra ID cannot disable a secret, so there is no deactivate stage). Read-only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions.azure import parse_uid
from ..model import Check, PlanError, Step
from ..planner import Built, Skip, observe_into
from .aws import _target

if TYPE_CHECKING:
    from ..planner import PlanRequest


def github_azure_snippet(app_id: str, tenant: str, environment: str | None) -> str:
    job: dict[str, object] = {
        "permissions": {"id-token": "write", "contents": "read"},
        "steps": [
            {
                "name": "Azure login (keyless: federated identity credential, no client secret)",
                "uses": "azure/login@v2",
                "with": {"client-id": app_id, "tenant-id": tenant, "allow-no-subscriptions": True},
            }
        ],
    }
    if environment:
        job = {"environment": environment, **job}
    return yaml.safe_dump({"jobs": {"deploy": job}}, sort_keys=False)


def k8s_azure_snippet(app_id: str, tenant: str, namespace: str, name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": {
                    "azure.workload.identity/client-id": app_id,
                    "azure.workload.identity/tenant-id": tenant,
                },
            },
        },
        sort_keys=False,
    )


def migrate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    from ..migrate import AZURE_AUDIENCE, MigrateRequest, parse_consumer

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "azure-client-secret":
        raise Skip("migration to a federated identity credential starts from a client-secret finding")
    if not req.consumer:
        raise PlanError("--consumer is required: who uses the secret (e.g. github:org/repo:production)")
    consumer = parse_consumer(req.consumer)
    if consumer.kind == "azure-mi":
        raise Skip(
            "managed-identity consumers (azure-mi:) are not implemented yet: use a GitHub, GitLab or k8s consumer"
        )
    if consumer.subject_is_pattern:
        raise Skip(
            "an Entra federated credential matches one exact subject: name a branch (@ref) or an environment "
            "(:environment) for GitHub, a branch for GitLab"
        )
    tenant, app_id = parse_uid(finding.identity.uid)
    name = re.sub(r"[^A-Za-z0-9-]", "-", consumer.name)[:120]
    params = {
        "app_id": app_id,
        "name": name,
        "issuer": consumer.issuer,
        "subject": consumer.subject,
        "audiences": [AZURE_AUDIENCE],
    }
    fic_check = Check(id=f"{t}.federated", observe="azurefed.credential", params=params, text="")
    facts = observe_into(ctx, fic_check, ["app_exists", "exists", "name_taken"])
    if not facts["app_exists"]:
        raise Skip(f"application {app_id} not found")
    if facts["name_taken"]:
        raise Skip(f"a federated credential named {name} exists with another issuer or subject")
    fic_check.text = f"application {app_id} " + (
        "already trusts this subject" if facts["exists"] else f"has no federated credential for {consumer.subject}"
    )
    secret_check = Check(
        id=f"{t}.secret",
        observe="azure.app-secret",
        params={"app_id": app_id, "key_id": cred.id},
        expect={"exists": True},
        invariant=True,
        until=f"{t}.remove-secret",
        text=f"client secret {cred.id} exists on application {app_id}",
    )
    if consumer.kind == "k8s":
        assert consumer.namespace and consumer.service_account
        snippet = k8s_azure_snippet(app_id, tenant, consumer.namespace, consumer.service_account)
    else:
        snippet = github_azure_snippet(app_id, tenant, consumer.environment)
    group = f"{t}:migrate"
    steps = [
        Step(
            id=f"{t}.federated",
            stage="create",
            group=group,
            action="azurefed.ensure-credential",
            target=finding.identity.uid,
            api_call=(
                "none: the credential exists"
                if facts["exists"]
                else f"POST /v1.0/applications/<object id of {app_id}>/federatedIdentityCredentials "
                f"{{name: {name}, issuer: {consumer.issuer}, subject: {consumer.subject}, "
                f"audiences: [{AZURE_AUDIENCE}]}}"
            ),
            params={**params, "description": f"nhiwarden: replaces client secret {cred.id} for {consumer.spec}"},
            rollback="DELETE .../federatedIdentityCredentials/<id> if this plan created it",
        ),
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group,
            action="azurefed.verify-credential",
            target=finding.identity.uid,
            api_call="GET .../federatedIdentityCredentials: the planned issuer, subject and audience, judged narrow",
            params=params,
            rollback="none needed (read-only)",
        ),
        Step(
            id=f"{t}.consumer",
            stage="deliver",
            group=group,
            action="migrate.consumer-config",
            target=consumer.spec,
            api_call=f"write the {consumer.kind} snippet naming client id {app_id} (printed with the plan)",
            params={
                "target": "azure-federated-credential",
                "consumer": consumer.spec,
                "role_arn": f"{app_id} federatedIdentityCredentials/{name}",
                "format": "yaml",
                "snippet": snippet,
                "path": req.snippet_path,
            },
            rollback="remove the snippet file if this step wrote it",
        ),
        Step(
            id=f"{t}.remove-secret",
            stage="delete",
            group=f"{t}:delete",
            manual=True,
            action="azure.remove-password",
            target=cred.uid,
            api_call=f"POST /v1.0/applications/<object id of {app_id}>/removePassword {{keyId: {cred.id}}}",
            params={"app_id": app_id, "key_id": cred.id},
            rollback=None,
            not_before={"after": f"{t}.verify", "days": req.verify_days},
            requires=[
                Check(
                    id=f"{t}.old-secret-unused",
                    observe="usage.unused-in-report",
                    params={"credential_uid": cred.uid, "since": f"${{{t}.verify.at}}"},
                    expect={"fresh": True, "usage_known": True, "used_after": False},
                    text=f"a scan made after the migration shows client secret {cred.id} unused since",
                )
            ],
        ),
    ]
    return Built(target=_target(finding, identity), checks=[fic_check, secret_check], steps=steps)
