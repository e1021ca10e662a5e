"""Plan the migration of an Entra application's client secret to a federated identity credential.

Steps (group ``t:migrate``): ensure a federated identity credential on the application with the
consumer's issuer, exact subject and ``api://AzureADTokenExchange`` audience; verify it by reading it
back (and judging it with the federation trust audit); write the consumer snippet (``azure/login``
with ``client-id``/``tenant-id``, no secret). Final stage ``delete`` (run separately after the
verification window): ``removePassword`` for the old secret once a fresh scan report shows it unused
since the migration (Entra ID cannot disable a secret, so there is no deactivate stage).
``migrate_mi`` (``--to azure-mi:<identity>``) puts the trust on a user-assigned managed identity
instead and carries the application's Azure role assignments over to it. Read-only.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity

from ..actions import Context
from ..actions.azure import parse_uid
from ..model import Check, PlanError, Step
from ..planner import Built, Skip, observe_into
from .aws import _target
from .steps import consumer_config_step, delete_after_step, unused_since_verify_check

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
        raise Skip("azure-mi:<name> names a managed identity to federate: pass it as --to azure-mi:<name>")
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
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call=f"write the {consumer.kind} snippet naming client id {app_id} (printed with the plan)",
            kind="azure-federated-credential",
            consumer=consumer.spec,
            role_arn=f"{app_id} federatedIdentityCredentials/{name}",
            snippet=snippet,
            path=req.snippet_path,
        ),
        _remove_secret_step(t, cred.uid, cred.id, app_id, req.verify_days),
    ]
    return Built(target=_target(finding, identity), checks=[fic_check, secret_check], steps=steps)


def _remove_secret_step(t: str, cred_uid: str, key_id: str, app_id: str, days: int) -> Step:
    """Remove the old client secret once a fresh scan shows it unused since the migration was verified.

    Both Azure migrations (federated credential and managed identity) retire the secret the same way.
    """
    return delete_after_step(
        t,
        "remove-secret",
        after="verify",
        days=days,
        action="azure.remove-password",
        target=cred_uid,
        api_call=f"POST /v1.0/applications/<object id of {app_id}>/removePassword {{keyId: {key_id}}}",
        params={"app_id": app_id, "key_id": key_id},
        requires=[
            unused_since_verify_check(
                t,
                "old-secret-unused",
                cred_uid,
                f"a scan made after the migration shows client secret {key_id} unused since",
            )
        ],
    )


def github_mi_snippet(client_id: str, tenant: str, subscription: str, environment: str | None) -> str:
    job: dict[str, object] = {
        "permissions": {"id-token": "write", "contents": "read"},
        "steps": [
            {
                "name": "Azure login as the managed identity (keyless: federated identity credential)",
                "uses": "azure/login@v2",
                "with": {"client-id": client_id, "tenant-id": tenant, "subscription-id": subscription},
            }
        ],
    }
    if environment:
        job = {"environment": environment, **job}
    return yaml.safe_dump({"jobs": {"deploy": job}}, sort_keys=False)


def gitlab_mi_snippet(client_id: str, tenant: str) -> str:
    job = {
        "deploy": {
            "id_tokens": {"AZURE_ID_TOKEN": {"aud": "api://AzureADTokenExchange"}},
            "variables": {"AZURE_CLIENT_ID": client_id, "AZURE_TENANT_ID": tenant},
            "script": [
                'az login --service-principal -u "$AZURE_CLIENT_ID" -t "$AZURE_TENANT_ID" '
                '--federated-token "$AZURE_ID_TOKEN"',
                "az account show",
            ],
        }
    }
    return yaml.safe_dump(job, sort_keys=False)


def assignment_name(scope: str, role_definition_id: str, principal_id: str) -> str:
    """A stable role-assignment name (a GUID), so reapplying finds the assignment it made."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"nhiwarden:{scope.lower()}|{role_definition_id.lower()}|{principal_id}"))


def _arm_settings(req: PlanRequest) -> dict[str, Any]:
    settings = (req.report.scan.parameters or {}).get("provider_settings") or {}
    return dict(settings.get("azure") or {})


def migrate_mi(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    """Client secret of an app -> a federated credential on a user-assigned managed identity.

    The consumer (GitHub, GitLab, Kubernetes) logs in as the managed identity with its OIDC token; the
    application's Azure role assignments are carried over to the identity's principal.
    """
    from ..migrate import AZURE_AUDIENCE, MigrateRequest, parse_consumer, parse_mi_target

    assert isinstance(req, MigrateRequest)
    cred = finding.credential
    if cred is None or cred.kind != "azure-client-secret":
        raise Skip("migration to a managed identity starts from a client-secret finding")
    if not req.consumer:
        raise PlanError("--consumer is required: the workload that used the secret (e.g. github:org/repo@main)")
    consumer = parse_consumer(req.consumer)
    if consumer.subject_is_pattern:
        raise Skip(
            "a managed identity's federated credential matches one exact subject: name a branch (@ref) or an "
            "environment (:environment) for GitHub, a branch for GitLab"
        )
    sub, group, mi_name = parse_mi_target(str(req.to))
    tenant, app_id = parse_uid(finding.identity.uid)
    settings = _arm_settings(req)
    subscriptions = list(settings.get("subscriptions") or [])
    mi_check = Check(
        id=f"{t}.mi",
        observe="azurefed.mi",
        params={"subscription": sub, "resource_group": group, "name": mi_name, "subscriptions": subscriptions},
        text="",
    )
    mi = observe_into(ctx, mi_check, ["exists", "id", "principal_id", "client_id"])
    if not mi["exists"]:
        raise Skip(str(mi["reason"]))
    mi_check.text = f"managed identity {mi['id']} exists (client id {mi['client_id']})"
    fic = re.sub(r"[^A-Za-z0-9-]", "-", consumer.name)[:120]
    where = {"subscription": mi["subscription"], "resource_group": mi["resource_group"], "identity": mi["name"]}
    fic_params = {
        **where,
        "fic": fic,
        "issuer": consumer.issuer,
        "subject": consumer.subject,
        "audiences": [AZURE_AUDIENCE],
    }
    fic_check = Check(id=f"{t}.mi-federated", observe="azurefed.mi-credential", params=fic_params, text="")
    ff = observe_into(ctx, fic_check, ["exists", "name_taken"])
    if ff["name_taken"]:
        raise Skip(f"a federated credential named {fic} exists on {mi['name']} with another issuer or subject")
    fic_check.text = f"managed identity {mi['name']} " + (
        "already trusts this subject" if ff["exists"] else f"has no federated credential for {consumer.subject}"
    )
    sp_check = Check(id=f"{t}.sp", observe="azure.sp", params={"app_id": app_id}, text="")
    sp = observe_into(ctx, sp_check, ["exists", "object_id"])
    if not sp.get("exists"):
        raise Skip(f"no service principal for application {app_id}: its permissions cannot be carried over")
    sp_check.text = f"application {app_id} has service principal {sp['object_id']}"
    ra_check = Check(
        id=f"{t}.roles",
        observe="azurefed.role-assignments",
        params={"subscriptions": sorted({*subscriptions, mi["subscription"]}), "principal_id": sp["object_id"]},
        text="",
    )
    assignments = observe_into(ctx, ra_check, ["assignments"])["assignments"]
    ra_check.text = f"service principal {sp['object_id']} holds {len(assignments)} Azure role assignment(s)"
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
        snippet = k8s_azure_snippet(str(mi["client_id"]), tenant, consumer.namespace, consumer.service_account)
    elif consumer.kind == "gitlab":
        snippet = gitlab_mi_snippet(str(mi["client_id"]), tenant)
    else:
        snippet = github_mi_snippet(str(mi["client_id"]), tenant, str(mi["subscription"]), consumer.environment)
    group_id = f"{t}:migrate"
    base = f"{mi['id']}/federatedIdentityCredentials/{fic}"
    steps = [
        Step(
            id=f"{t}.mi-federated",
            stage="create",
            group=group_id,
            action="azurefed.ensure-mi-credential",
            target=str(mi["id"]),
            api_call=(
                "none: the credential exists"
                if ff["exists"]
                else f"PUT {base} {{properties: {{issuer: {consumer.issuer}, "
                f"subject: {consumer.subject}, audiences: [{AZURE_AUDIENCE}]}}}}"
            ),
            params=fic_params,
            rollback=f"DELETE {base} if this plan created it",
        )
    ]
    for i, a in enumerate(assignments):
        name = assignment_name(a["scope"], a["role_definition_id"], str(mi["principal_id"]))
        steps.append(
            Step(
                id=f"{t}.mi-role-{i}",
                stage="create",
                group=group_id,
                action="azurefed.ensure-role-assignment",
                target=a["scope"],
                api_call=(
                    f"PUT {a['scope']}/providers/Microsoft.Authorization/roleAssignments/{name} "
                    f"{{roleDefinitionId: {a['role_definition_id']}, principalId: {mi['principal_id']}, "
                    "principalType: ServicePrincipal}"
                ),
                params={
                    "subscription": mi["subscription"],
                    "scope": a["scope"],
                    "role_definition_id": a["role_definition_id"],
                    "principal_id": mi["principal_id"],
                    "name": name,
                },
                rollback="DELETE the role assignment if this plan created it",
            )
        )
    graph_grants = [g.source for g in (identity.grants if identity else []) if g.source_kind == "graph-app-permission"]
    if graph_grants:
        note = (
            f"Microsoft Graph application permissions of {app_id} are not carried over to the managed identity: "
            f"{', '.join(sorted(set(graph_grants)))} (grant them to its service principal {mi['principal_id']})"
        )
        steps.append(
            Step(
                id=f"{t}.graph-note",
                stage="notify",
                group=group_id,
                action="migrate.note",
                target=str(mi["id"]),
                api_call=f"none: {note}",
                params={"note": note},
                rollback="none needed (nothing changes)",
            )
        )
    steps += [
        Step(
            id=f"{t}.verify",
            stage="verify",
            group=group_id,
            action="azurefed.verify-mi-credential",
            target=str(mi["id"]),
            api_call=f"GET {mi['id']}/federatedIdentityCredentials: the planned issuer, subject and audience, "
            "judged narrow",
            params=fic_params,
            rollback="none needed (read-only)",
        ),
        consumer_config_step(
            t,
            group_id,
            target=consumer.spec,
            api_call=f"write the {consumer.kind} snippet naming the managed identity's client id {mi['client_id']}",
            kind="azure-mi",
            consumer=consumer.spec,
            role_arn=base,
            snippet=snippet,
            path=req.snippet_path,
        ),
        _remove_secret_step(t, cred.uid, cred.id, app_id, req.verify_days),
    ]
    return Built(
        target=_target(finding, identity),
        checks=[mi_check, fic_check, sp_check, ra_check, secret_check],
        steps=steps,
    )
