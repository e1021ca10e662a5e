"""Plan the migration of an IAM user's access key to an IAM role trusted through OIDC (read-only).

Steps (group ``t:migrate``): ensure the OIDC identity provider of the consumer's issuer (created if
missing, or the ``sts.amazonaws.com`` audience added), ensure the role with a trust policy pinned to the
consumer's ``sub`` and ``aud``, copy the user's effective permissions (managed, inline and group
policies, and its permissions boundary), verify by reading the role back, and write the consumer
snippet. ``migrate_roles_anywhere`` is the on-premises variant (``x509:`` consumers): a Roles Anywhere
trust anchor for the issuing CA, the role trusting ``rolesanywhere.amazonaws.com`` pinned to the
certificate subject and the anchor, and a profile. Final stages, each run separately with
``apply --stage``: ``deactivate`` the old key after the verification window if its last-used signal
shows no use since the migration was verified, then ``delete`` it after ``--delete-after-days``. The
planned OIDC trust is itself checked with the ``federation-trust-too-broad`` judgement before the
plan is written. Never calls a mutating API.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml
from nhiwarden.findings import Finding
from nhiwarden.model import Identity
from nhiwarden.providers.aws.trust import trusts_from_policy
from nhiwarden.rules.builtin.federation import judge

from ..actions import Context
from ..actions import aws as act
from ..actions import aws_federation as fed
from ..model import Check, PlanError, Step
from ..planner import Built, Skip, observe_into
from .aws import _account_check, _target
from .steps import aws_deactivate_key_step, aws_delete_old_key_step, aws_old_key_quiet_check, consumer_config_step

if TYPE_CHECKING:
    from ..planner import PlanRequest

# Published thumbprints of GitHub's OIDC endpoint (IAM no longer checks them for GitHub, but older
# API versions require a list).
THUMBPRINTS = {
    "https://token.actions.githubusercontent.com": [
        "6938fd4d98bab03faadb97b34396831e3780aea1",
        "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
    ],
}
MAX_MANAGED_POLICIES = 10  # default IAM quota of managed policies per role


def role_name_for(user: str, override: str | None) -> str:
    name = override or f"{user}-federated"
    if not re.fullmatch(r"[\w+=,.@-]{1,64}", name):
        raise PlanError(f"--role-name {name!r}: IAM role names are 1-64 characters of [A-Za-z0-9+=,.@_-]")
    return name


def trust_policy(
    provider_arn: str, issuer: str, subject: str, pattern: bool, audience: str, user: str
) -> dict[str, Any]:
    host = issuer.removeprefix("https://").rstrip("/")
    conditions: dict[str, dict[str, str]] = {"StringEquals": {f"{host}:aud": audience}}
    if pattern:
        conditions["StringLike"] = {f"{host}:sub": subject}
    else:
        conditions["StringEquals"][f"{host}:sub"] = subject
    sid = re.sub(r"[^A-Za-z0-9]", "", f"NhiwardenMigratedFrom{user}")[:100]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": conditions,
            }
        ],
    }


def migrate(req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None) -> Built:
    from ..migrate import AWS_AUDIENCE, MigrateRequest, aws_snippet, parse_consumer

    assert isinstance(req, MigrateRequest)
    if finding.credential is None or finding.credential.kind != "aws-access-key":
        raise Skip("migration to an AWS role starts from an access-key finding")
    if not req.consumer:
        raise PlanError("--consumer is required: who uses the key (e.g. github:org/repo@main)")
    consumer = parse_consumer(req.consumer)
    if consumer.kind == "azure-mi":
        raise Skip("an Azure managed identity cannot assume an AWS role through this playbook")
    account, user = act.parse_uid(finding.identity.uid)
    key_id = finding.credential.id
    checks = [_account_check(ctx, t, account)]

    key_check = Check(
        id=f"{t}.key",
        observe="aws.access-key",
        params={"user": user, "key_id": key_id},
        invariant=True,
        until=f"{t}.delete",
        text=f"access key {key_id} exists on user {user}",
    )
    facts = observe_into(ctx, key_check, ["exists", "user"])
    if not facts.get("exists"):
        raise Skip(f"access key {key_id} is not on user {user} (keys are matched by id only)")
    checks.append(key_check)

    perms_check = Check(id=f"{t}.permissions", observe="awsfed.user-permissions", params={"user": user}, text="")
    perms = observe_into(ctx, perms_check, ["digest"])
    perms_check.text = f"user {user}'s permissions are unchanged: " + (", ".join(perms["sources"]) or "none")
    if len(perms["managed"]) > MAX_MANAGED_POLICIES:
        raise Skip(
            f"user {user} has {len(perms['managed'])} managed policies, more than a role's default quota of "
            f"{MAX_MANAGED_POLICIES}: consolidate them first"
        )
    checks.append(perms_check)

    url = consumer.issuer
    provider_check = Check(
        id=f"{t}.oidc-provider",
        observe="awsfed.oidc-provider",
        params={"url": url, "audience": AWS_AUDIENCE},
        text="",
    )
    prov = observe_into(ctx, provider_check, ["exists", "arn", "has_audience"])
    host = url.removeprefix("https://")
    provider_arn = prov["arn"] or f"arn:aws:iam::{account}:oidc-provider/{host}"
    provider_check.text = f"OIDC provider {host} " + (
        "exists" if prov["exists"] else "does not exist yet (it is created)"
    )
    checks.append(provider_check)

    role_name = role_name_for(user, getattr(req, "role_name", None))
    policy = trust_policy(provider_arn, url, consumer.subject, consumer.subject_is_pattern, AWS_AUDIENCE, user)
    for trust in trusts_from_policy(policy):
        verdict = judge(trust)
        if verdict is not None:  # never plan a trust the audit would flag
            raise PlanError(f"the planned trust would be too broad: {verdict[1]}")
    role_check = Check(id=f"{t}.role", observe="awsfed.role", params={"role_name": role_name}, text="")
    role = observe_into(ctx, role_check, ["exists", "trust"])
    if role["exists"] and role["trust"] != fed.digest(fed.canonical(policy)):
        raise Skip(f"role {role_name} already exists with another trust policy: pass --role-name")
    role_arn = role["arn"] or f"arn:aws:iam::{account}:role/{role_name}"
    role_check.text = f"role {role_name} " + ("exists with the planned trust" if role["exists"] else "does not exist")
    checks.append(role_check)

    region = ctx.connection("aws").get("region") or "us-east-1"
    snippet = aws_snippet(role_arn, region, consumer)
    group, retire = f"{t}:migrate", f"{t}:retire"
    role_params = {
        "role_name": role_name,
        "trust_policy": policy,
        "description": f"Keyless replacement of {user}'s access key {key_id} for {consumer.spec} (nhiwarden)",
        "max_session_seconds": 3600,
        "tags": {"nhiwarden:migrated-from": f"{user}/{key_id}", "nhiwarden:consumer": consumer.spec[:256]},
        "boundary": perms["boundary"],
    }
    perm_params = {"role_name": role_name, "managed": perms["managed"], "inline": perms["inline"]}
    subject_op = "StringLike" if consumer.subject_is_pattern else "StringEquals"
    steps = [
        Step(
            id=f"{t}.oidc-provider",
            stage="create",
            group=group,
            action="awsfed.ensure-oidc-provider",
            target=provider_arn,
            api_call=(
                f"iam:AddClientIDToOpenIDConnectProvider {provider_arn} ClientID={AWS_AUDIENCE}"
                if prov["exists"] and not prov["has_audience"]
                else "none: the provider exists with this audience"
                if prov["exists"]
                else f"iam:CreateOpenIDConnectProvider Url={url} ClientIDList=[{AWS_AUDIENCE}]"
            ),
            params={"url": url, "audience": AWS_AUDIENCE, "thumbprints": THUMBPRINTS.get(url, [])},
            rollback="iam:DeleteOpenIDConnectProvider if this plan created it (or remove the audience it added)",
        ),
        Step(
            id=f"{t}.role",
            stage="create",
            group=group,
            action="awsfed.ensure-role",
            target=role_arn,
            api_call=(
                f"iam:CreateRole RoleName={role_name} trust: {provider_arn} sts:AssumeRoleWithWebIdentity "
                f"if {host}:aud = {AWS_AUDIENCE} and {host}:sub {subject_op} {consumer.subject}"
                + (f", PermissionsBoundary={perms['boundary']}" if perms["boundary"] else "")
            ),
            params=role_params,
            rollback=f"iam:DeleteRole {role_name} (after removing its policies) if this plan created it",
        ),
        _copy_permissions_step(t, group, role_arn, role_name, perms, perm_params),
        _verify_role_step(t, group, role_arn, role_name, perm_params, policy),
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call=f"write the {consumer.kind} snippet naming {role_arn}"
            + (f" to {req.snippet_path}" if getattr(req, "snippet_path", None) else " (printed with the plan)"),
            kind="aws-role",
            consumer=consumer.spec,
            role_arn=role_arn,
            snippet=snippet,
            path=getattr(req, "snippet_path", None),
        ),
        aws_deactivate_key_step(
            t,
            finding.credential.uid,
            user,
            key_id,
            group=retire,
            manual=True,
            not_before={"after": f"{t}.verify", "days": getattr(req, "verify_days", 7)},
            requires=[
                aws_old_key_quiet_check(t, key_id, "consumers moved"),
                Check(
                    id=f"{t}.role-intact",
                    observe="awsfed.role",
                    params={"role_name": role_name},
                    expect={"exists": True, "trust": fed.digest(fed.canonical(policy))},
                    text=f"role {role_name} still exists with the planned trust",
                ),
            ],
        ),
        aws_delete_old_key_step(t, finding.credential.uid, user, key_id, req.delete_after_days),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)


def _copy_permissions_step(
    t: str, group: str, role_arn: str, role_name: str, perms: dict[str, Any], perm_params: dict[str, Any]
) -> Step:
    """Give the new role exactly the user's effective permissions (both AWS migrations).

    The api_call lists every managed and inline policy so the reviewer sees what the role will be able
    to do; the rollback removes only what this step added.
    """
    return Step(
        id=f"{t}.permissions",
        stage="create",
        group=group,
        action="awsfed.copy-permissions",
        target=role_arn,
        api_call=(
            f"iam:AttachRolePolicy {role_name} for {', '.join(perms['managed']) or 'no managed policy'}; "
            f"iam:PutRolePolicy {role_name} for {', '.join(perms['inline']) or 'no inline policy'}"
        ),
        params=perm_params,
        rollback="iam:DetachRolePolicy / iam:DeleteRolePolicy for exactly what this step added",
    )


def _verify_role_step(
    t: str, group: str, role_arn: str, role_name: str, perm_params: dict[str, Any], policy: dict[str, Any]
) -> Step:
    """Read the role back and compare its policies and trust with the plan before retiring the key."""
    return Step(
        id=f"{t}.verify",
        stage="verify",
        group=group,
        action="awsfed.verify-role",
        target=role_arn,
        api_call=f"iam:GetRole, iam:ListAttachedRolePolicies, iam:GetRolePolicy {role_name}: compare with the plan",
        params={**perm_params, "trust_policy": policy},
        rollback="none needed (read-only)",
    )


def snippet_of(plan_json: str) -> list[str]:
    """Snippets in a saved plan (for printing after ``plan``)."""
    data = json.loads(plan_json)
    return [s["params"]["snippet"] for s in data["steps"] if s["action"] == "migrate.consumer-config"]


# -- IAM Roles Anywhere for on-premises consumers (x509:CN=...,O=...) ----------------------------

RA_SERVICE = "rolesanywhere.amazonaws.com"
ANCHOR_ARN = "<trust-anchor-arn>"
CA_CERT_ENV = "NHIWARDEN_CA_CERT"  # the CA certificate path when the request names none (CLI)
PROFILE_ARN = "<profile-arn>"


def read_ca_certificate(path: str | None) -> tuple[str, str, str]:
    """(PEM, SHA-256 fingerprint, subject) of the CA certificate that issues the consumer's certificates."""
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    if not path:
        raise PlanError(
            f"aws-roles-anywhere needs the issuing CA certificate: MigrateRequest.ca_cert_path or ${CA_CERT_ENV} (PEM)"
        )
    try:
        pem = Path(path).read_text(encoding="utf-8")
        cert = x509.load_pem_x509_certificate(pem.encode())
    except (OSError, ValueError) as exc:
        raise PlanError(f"CA certificate {path}: {type(exc).__name__}: not a readable PEM certificate") from None
    try:
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise PlanError(f"CA certificate {path}: not a CA (BasicConstraints CA:TRUE is required for a trust anchor)")
    body = cert.public_bytes(Encoding.PEM)
    return body.decode(), cert.fingerprint(hashes.SHA256()).hex(), cert.subject.rfc4514_string()


def ra_trust_policy(anchor_arn: str, subject: tuple[tuple[str, str], ...], user: str) -> dict[str, Any]:
    """Trust rolesanywhere.amazonaws.com for certificates of this anchor with exactly this subject."""
    sid = re.sub(r"[^A-Za-z0-9]", "", f"NhiwardenRolesAnywhere{user}")[:100]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": RA_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Condition": {
                    "StringEquals": {f"aws:PrincipalTag/x509Subject/{k}": v for k, v in subject},
                    "ArnEquals": {"aws:SourceArn": anchor_arn},
                },
            }
        ],
    }


def signing_helper_snippet(role_arn: str, region: str, profile: str, anchor: str, ra_profile: str) -> str:
    """~/.aws/config for the host, through aws_signing_helper (YAML wrapping the INI text)."""
    process = (
        "aws_signing_helper credential-process --certificate /etc/pki/nhiwarden/client.pem "
        f"--private-key /etc/pki/nhiwarden/client.key --trust-anchor-arn {anchor} --profile-arn {ra_profile} "
        f"--role-arn {role_arn}"
    )
    ini = f"[profile {profile}]\nregion = {region}\ncredential_process = {process}\n"
    return yaml.safe_dump(
        {
            "role-arn": role_arn,
            "trust-anchor-arn": anchor,
            "profile-arn": ra_profile,
            "aws-config-profile": profile,
            "credential_process": process,
            "aws_config": ini,
        },
        sort_keys=False,
        width=1000,
    )


def migrate_roles_anywhere(
    req: PlanRequest, ctx: Context, t: str, finding: Finding, identity: Identity | None
) -> Built:
    """IAM user key used on premises -> a role assumed through IAM Roles Anywhere with a client certificate."""
    from ..migrate import MigrateRequest, parse_consumer

    assert isinstance(req, MigrateRequest)
    if finding.credential is None or finding.credential.kind != "aws-access-key":
        raise Skip("migration to IAM Roles Anywhere starts from an access-key finding")
    if not req.consumer:
        raise PlanError("--consumer is required: the host's certificate subject (e.g. x509:CN=host.example,O=Acme)")
    consumer = parse_consumer(req.consumer)
    pem, fingerprint, ca_subject = read_ca_certificate(req.ca_cert_path or ctx.env.get(CA_CERT_ENV))
    account, user = act.parse_uid(finding.identity.uid)
    key_id = finding.credential.id
    checks = [_account_check(ctx, t, account)]
    key_check = Check(
        id=f"{t}.key",
        observe="aws.access-key",
        params={"user": user, "key_id": key_id},
        invariant=True,
        until=f"{t}.delete",
        text=f"access key {key_id} exists on user {user}",
    )
    if not observe_into(ctx, key_check, ["exists", "user"]).get("exists"):
        raise Skip(f"access key {key_id} is not on user {user} (keys are matched by id only)")
    checks.append(key_check)
    perms_check = Check(id=f"{t}.permissions", observe="awsfed.user-permissions", params={"user": user}, text="")
    perms = observe_into(ctx, perms_check, ["digest"])
    perms_check.text = f"user {user}'s permissions are unchanged: " + (", ".join(perms["sources"]) or "none")
    if len(perms["managed"]) > MAX_MANAGED_POLICIES:
        raise Skip(f"user {user} has more than {MAX_MANAGED_POLICIES} managed policies: consolidate them first")
    checks.append(perms_check)

    anchor_check = Check(id=f"{t}.anchor", observe="awsfed.trust-anchor", params={"fingerprint": fingerprint}, text="")
    anchor = observe_into(ctx, anchor_check, ["exists", "arn"])
    anchor_check.text = f"a trust anchor for CA {ca_subject} " + (
        f"exists ({anchor['arn']})" if anchor["exists"] else "does not exist (it is created)"
    )
    checks.append(anchor_check)
    anchor_ref = str(anchor["arn"]) if anchor["exists"] else f"${{{t}.anchor.trust_anchor_arn}}"

    role_name = role_name_for(user, req.role_name)
    role_arn = f"arn:aws:iam::{account}:role/{role_name}"
    policy = ra_trust_policy(anchor_ref, consumer.x509_subject, user)
    role_check = Check(id=f"{t}.role", observe="awsfed.role", params={"role_name": role_name}, text="")
    role = observe_into(ctx, role_check, ["exists", "trust"])
    if role["exists"] and (not anchor["exists"] or role["trust"] != fed.digest(fed.canonical(policy))):
        raise Skip(f"role {role_name} already exists with another trust policy: pass --role-name")
    role_check.text = f"role {role_name} " + ("exists with the planned trust" if role["exists"] else "does not exist")
    checks.append(role_check)

    profile_name = f"{role_name}-profile"[:255]
    duration = int(req.session_duration)
    if not 900 <= duration <= 43200:
        raise PlanError("session duration must be 900-43200 seconds (Roles Anywhere profile durationSeconds)")
    profile_params = {"name": profile_name, "role_arns": [role_arn], "duration_seconds": duration}
    profile_check = Check(id=f"{t}.profile", observe="awsfed.ra-profile", params=profile_params, text="")
    prof = observe_into(ctx, profile_check, ["exists", "matches"])
    if prof["exists"] and not prof["matches"]:
        raise Skip(f"Roles Anywhere profile {profile_name} exists with other roles or duration")
    profile_check.text = f"Roles Anywhere profile {profile_name} " + (
        "exists for the role" if prof["exists"] else "does not exist"
    )
    checks.append(profile_check)

    region = ctx.connection("aws").get("region") or "us-east-1"
    snippet = signing_helper_snippet(
        role_arn,
        region,
        role_name,
        str(anchor["arn"]) if anchor["exists"] else ANCHOR_ARN,
        str(prof["arn"]) if prof["exists"] else PROFILE_ARN,
    )
    subject_text = ", ".join(f"x509Subject/{k} = {v}" for k, v in consumer.x509_subject)
    group = f"{t}:migrate"
    role_params = {
        "role_name": role_name,
        "trust_policy": policy,
        "description": f"Keyless replacement of {user}'s access key {key_id} for {consumer.spec} (nhiwarden)",
        "max_session_seconds": max(3600, duration),
        "tags": {"nhiwarden:migrated-from": f"{user}/{key_id}", "nhiwarden:consumer": consumer.spec[:256]},
        "boundary": perms["boundary"],
    }
    perm_params = {"role_name": role_name, "managed": perms["managed"], "inline": perms["inline"]}
    anchor_name = re.sub(r"[^A-Za-z0-9_. -]", "-", f"nhiwarden-{ca_subject}")[:255]
    steps = [
        Step(
            id=f"{t}.anchor",
            stage="create",
            group=group,
            action="awsfed.ensure-trust-anchor",
            target=str(anchor["arn"] or f"trust anchor for {ca_subject}"),
            api_call=(
                "none: an enabled trust anchor holds this CA certificate"
                if anchor["exists"]
                else f"rolesanywhere:CreateTrustAnchor name={anchor_name} source={{sourceType: CERTIFICATE_BUNDLE, "
                f"x509CertificateData: <CA {ca_subject}, sha256 {fingerprint}>}} enabled=true"
            ),
            params={
                "name": anchor_name,
                "pem": pem,
                "fingerprint": fingerprint,
                "tags": {"nhiwarden:ca": ca_subject[:256]},
            },
            rollback="rolesanywhere:DeleteTrustAnchor if this plan created it",
        ),
        Step(
            id=f"{t}.role",
            stage="create",
            group=group,
            action="awsfed.ensure-role",
            target=role_arn,
            api_call=(
                f"iam:CreateRole RoleName={role_name} trust: {RA_SERVICE} sts:AssumeRole, sts:TagSession, "
                f"sts:SetSourceIdentity if {subject_text} (StringEquals) and aws:SourceArn = "
                f"{anchor['arn'] or 'the trust anchor ARN'} (ArnEquals)"
                + (f", PermissionsBoundary={perms['boundary']}" if perms["boundary"] else "")
            ),
            params=role_params,
            rollback=f"iam:DeleteRole {role_name} (after removing its policies) if this plan created it",
        ),
        _copy_permissions_step(t, group, role_arn, role_name, perms, perm_params),
        Step(
            id=f"{t}.profile",
            stage="create",
            group=group,
            action="awsfed.ensure-ra-profile",
            target=str(prof["arn"] or profile_name),
            api_call=(
                "none: the profile exists for the role"
                if prof["exists"]
                else f"rolesanywhere:CreateProfile name={profile_name} roleArns=[{role_arn}] "
                f"durationSeconds={duration} enabled=true"
            ),
            params=profile_params,
            rollback="rolesanywhere:DeleteProfile if this plan created it",
        ),
        _verify_role_step(t, group, role_arn, role_name, perm_params, policy),
        consumer_config_step(
            t,
            group,
            target=consumer.spec,
            api_call="write the aws_signing_helper credential_process profile for the host"
            + (f" to {req.snippet_path}" if req.snippet_path else " (printed with the plan)"),
            kind="aws-roles-anywhere",
            consumer=consumer.spec,
            role_arn=role_arn,
            snippet=snippet,
            path=req.snippet_path,
            substitute={
                ANCHOR_ARN: f"${{{t}.anchor.trust_anchor_arn}}",
                PROFILE_ARN: f"${{{t}.profile.profile_arn}}",
            },
        ),
        aws_deactivate_key_step(
            t,
            finding.credential.uid,
            user,
            key_id,
            group=f"{t}:retire",
            manual=True,
            not_before={"after": f"{t}.verify", "days": req.verify_days},
            requires=[aws_old_key_quiet_check(t, key_id, "the host moved")],
        ),
        aws_delete_old_key_step(t, finding.credential.uid, user, key_id, req.delete_after_days, check_unused=False),
    ]
    return Built(target=_target(finding, identity), checks=checks, steps=steps)
