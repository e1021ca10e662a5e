"""AWS actions and checks of the ``migrate`` playbook: OIDC identity provider, role, permissions copy.

Every action is an *ensure*: it compares live state with the plan and changes only what differs, and
returns what it changed, so a second apply (or a new plan after a completed migration) changes
nothing and a rollback undoes exactly what this plan did. Resources this plan creates carry the tag
``nhiwarden:plan`` so a step interrupted by a crash is recognised as ours when it runs again.
Never touches a resource that exists with a different definition (the builder refuses to plan that).
Imports boto3 lazily (through ``actions.aws``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nhiwarden.redact import redact

from . import Action, Context, StepError, action, observer
from .aws import client, error_code, iso

PLAN_TAG = "nhiwarden:plan"


def canonical(doc: Any) -> str:
    """One text per policy document, whatever the client returned (dict or URL-encoded JSON)."""
    from urllib.parse import unquote

    if isinstance(doc, str):
        text = doc if doc.lstrip().startswith("{") else unquote(doc)
        doc = json.loads(text)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _fail(what: str, exc: Exception) -> StepError:
    return StepError(f"{what}: {redact(exc)}")


# -- reads ---------------------------------------------------------------------------------------


def find_oidc_provider(ctx: Context, url: str) -> dict[str, Any] | None:
    iam = client(ctx, "iam")
    host = url.removeprefix("https://").rstrip("/")
    for entry in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        arn = str(entry["Arn"])
        if arn.split(":oidc-provider/", 1)[-1].rstrip("/") == host:
            info = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            return {
                "arn": arn,
                "client_ids": sorted(info.get("ClientIDList", [])),
                "tags": {t["Key"]: t["Value"] for t in info.get("Tags", [])},
            }
    return None


def get_role(ctx: Context, name: str) -> dict[str, Any] | None:
    try:
        return dict(client(ctx, "iam").get_role(RoleName=name)["Role"])
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise _fail(f"GetRole {name}", exc) from None


def role_permissions(ctx: Context, name: str) -> dict[str, Any]:
    iam = client(ctx, "iam")
    managed = sorted(
        p["PolicyArn"]
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        for p in page["AttachedPolicies"]
    )
    inline = {}
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for pname in page["PolicyNames"]:
            inline[pname] = canonical(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"])
    return {"managed": managed, "inline": inline}


def user_permissions(ctx: Context, user: str) -> dict[str, Any]:
    """The user's effective permission sources: managed, inline and group policies, and its boundary."""
    iam = client(ctx, "iam")
    managed: set[str] = set()
    inline: dict[str, str] = {}
    sources: list[str] = []
    for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=user):
        for p in page["AttachedPolicies"]:
            managed.add(p["PolicyArn"])
            sources.append(f"managed {p['PolicyArn']} (user)")
    for page in iam.get_paginator("list_user_policies").paginate(UserName=user):
        for pname in page["PolicyNames"]:
            doc = iam.get_user_policy(UserName=user, PolicyName=pname)["PolicyDocument"]
            inline[f"user-{pname}"[:128]] = canonical(doc)
            sources.append(f"inline {pname} (user)")
    for page in iam.get_paginator("list_groups_for_user").paginate(UserName=user):
        for group in page["Groups"]:
            gname = group["GroupName"]
            for gpage in iam.get_paginator("list_attached_group_policies").paginate(GroupName=gname):
                for p in gpage["AttachedPolicies"]:
                    managed.add(p["PolicyArn"])
                    sources.append(f"managed {p['PolicyArn']} (group {gname})")
            for gpage in iam.get_paginator("list_group_policies").paginate(GroupName=gname):
                for pname in gpage["PolicyNames"]:
                    doc = iam.get_group_policy(GroupName=gname, PolicyName=pname)["PolicyDocument"]
                    inline[f"group-{gname}-{pname}"[:128]] = canonical(doc)
                    sources.append(f"inline {pname} (group {gname})")
    boundary = (iam.get_user(UserName=user)["User"].get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    return {"managed": sorted(managed), "inline": inline, "boundary": boundary, "sources": sources}


@observer("awsfed.oidc-provider")
def observe_oidc_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    found = find_oidc_provider(ctx, params["url"])
    if found is None:
        return {"exists": False, "arn": None, "has_audience": False}
    return {"exists": True, "arn": found["arn"], "has_audience": params["audience"] in found["client_ids"]}


@observer("awsfed.role")
def observe_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = get_role(ctx, params["role_name"])
    if role is None:
        return {"exists": False, "trust": None, "arn": None, "permissions": None}
    return {
        "exists": True,
        "arn": role["Arn"],
        "trust": digest(canonical(role["AssumeRolePolicyDocument"])),
        "permissions": digest(role_permissions(ctx, params["role_name"])),
        "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
    }


@observer("awsfed.user-permissions")
def observe_user_permissions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    perms = user_permissions(ctx, params["user"])
    return {"digest": digest({k: perms[k] for k in ("managed", "inline", "boundary")}), **perms}


# -- changes -------------------------------------------------------------------------------------


@action
class EnsureOidcProvider(Action):
    """Create the IAM OIDC identity provider, or add the audience to an existing one."""

    name = "awsfed.ensure-oidc-provider"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        iam = client(ctx, "iam")
        found = find_oidc_provider(ctx, params["url"])
        try:
            if found is None:
                arn = iam.create_open_id_connect_provider(
                    Url=params["url"],
                    ClientIDList=[params["audience"]],
                    ThumbprintList=list(params.get("thumbprints") or []),
                    Tags=[{"Key": PLAN_TAG, "Value": ctx.plan.id}],
                )["OpenIDConnectProviderArn"]
                return {"arn": arn, "created": True, "added_audience": False}
            if found["tags"].get(PLAN_TAG) == ctx.plan.id:  # created by this plan in an interrupted apply
                return {"arn": found["arn"], "created": True, "added_audience": False}
            if params["audience"] not in found["client_ids"]:
                iam.add_client_id_to_open_id_connect_provider(
                    OpenIDConnectProviderArn=found["arn"], ClientID=params["audience"]
                )
                return {"arn": found["arn"], "created": False, "added_audience": True}
        except StepError:
            raise
        except Exception as exc:
            raise _fail(f"OIDC provider {params['url']}", exc) from None
        return {"arn": found["arn"], "created": False, "added_audience": False}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        iam = client(ctx, "iam")
        arn = outputs.get("arn")
        try:
            if outputs.get("created"):
                iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            elif outputs.get("added_audience"):
                iam.remove_client_id_from_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, ClientID=params["audience"]
                )
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise _fail(f"undo OIDC provider {arn}", exc) from None


@action
class EnsureRole(Action):
    """Create the role with exactly the planned trust policy; an identical existing role is kept."""

    name = "awsfed.ensure-role"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        name = params["role_name"]
        trust = canonical(params["trust_policy"])
        role = get_role(ctx, name)
        if role is not None:
            if canonical(role["AssumeRolePolicyDocument"]) != trust:
                raise StepError(f"role {name} exists with a different trust policy: not changing it")
            ours = any(t["Key"] == PLAN_TAG and t["Value"] == ctx.plan.id for t in role.get("Tags", []))
            return {"arn": role["Arn"], "created": ours, "at": iso(ctx.now)}
        tags = [{"Key": PLAN_TAG, "Value": ctx.plan.id}] + [
            {"Key": k, "Value": v} for k, v in sorted((params.get("tags") or {}).items())
        ]
        try:
            kwargs: dict[str, Any] = {
                "RoleName": name,
                "AssumeRolePolicyDocument": trust,
                "Description": params.get("description", "")[:1000],
                "MaxSessionDuration": int(params.get("max_session_seconds", 3600)),
                "Tags": tags,
            }
            if params.get("boundary"):
                kwargs["PermissionsBoundary"] = params["boundary"]
            arn = client(ctx, "iam").create_role(**kwargs)["Role"]["Arn"]
        except Exception as exc:
            raise _fail(f"CreateRole {name}", exc) from None
        return {"arn": arn, "created": True, "at": iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        iam = client(ctx, "iam")
        name = params["role_name"]
        try:
            perms = role_permissions(ctx, name)
            for arn in perms["managed"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            for pname in perms["inline"]:
                iam.delete_role_policy(RoleName=name, PolicyName=pname)
            iam.delete_role(RoleName=name)
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise _fail(f"DeleteRole {name}", exc) from None


@action
class CopyPermissions(Action):
    """Attach the user's managed policies and put its (and its groups') inline policies on the role."""

    name = "awsfed.copy-permissions"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        iam = client(ctx, "iam")
        name = params["role_name"]
        have = role_permissions(ctx, name)
        attached: list[str] = []
        put: list[str] = []
        try:
            for arn in params["managed"]:
                if arn not in have["managed"]:
                    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
                    attached.append(arn)
            for pname, doc in sorted(params["inline"].items()):
                if have["inline"].get(pname) != canonical(doc):
                    iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=canonical(doc))
                    put.append(pname)
        except Exception as exc:
            self._undo(ctx, name, attached, put)
            raise _fail(f"copy permissions to role {name}", exc) from None
        return {"attached": attached, "put": put, "changed": bool(attached or put)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._undo(ctx, params["role_name"], outputs.get("attached", []), outputs.get("put", []))

    @staticmethod
    def _undo(ctx: Context, name: str, attached: list[str], put: list[str]) -> None:
        iam = client(ctx, "iam")
        for arn in attached:
            try:
                iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise _fail(f"DetachRolePolicy {arn}", exc) from None
        for pname in put:
            try:
                iam.delete_role_policy(RoleName=name, PolicyName=pname)
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise _fail(f"DeleteRolePolicy {pname}", exc) from None


@action
class VerifyRole(Action):
    """Read back the role: trust policy byte-for-byte, every planned permission present (read-only)."""

    name = "awsfed.verify-role"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        role = get_role(ctx, params["role_name"])
        if role is None:
            raise StepError(f"role {params['role_name']} does not exist")
        if canonical(role["AssumeRolePolicyDocument"]) != canonical(params["trust_policy"]):
            raise StepError(f"role {params['role_name']} has a different trust policy than planned")
        perms = role_permissions(ctx, params["role_name"])
        missing = [a for a in params["managed"] if a not in perms["managed"]]
        missing += [n for n, d in params["inline"].items() if perms["inline"].get(n) != canonical(d)]
        if missing:
            raise StepError(f"role {params['role_name']} lacks {', '.join(missing)}")
        return {"arn": role["Arn"], "verified": True, "at": iso(ctx.now)}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None


# -- IAM Roles Anywhere: trust anchor (CA), profile; the role trusts rolesanywhere.amazonaws.com ------


def rolesanywhere(ctx: Context) -> Any:
    """The Roles Anywhere client (``AWS_ENDPOINT_URL_ROLESANYWHERE`` overrides the endpoint)."""

    def make() -> Any:
        from .aws import _config, session

        conn = ctx.connection("aws")
        kwargs: dict[str, Any] = {"config": _config()}
        endpoint = ctx.env.get("AWS_ENDPOINT_URL_ROLESANYWHERE") or conn.get("rolesanywhere_endpoint_url")
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        elif conn.get("endpoint_url"):
            kwargs["endpoint_url"] = conn["endpoint_url"]
        return session(ctx).client("rolesanywhere", **kwargs)

    return ctx.cached("aws:rolesanywhere", make)


def cert_fingerprint(pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def _paged(ctx: Context, op: str, key: str) -> list[dict[str, Any]]:
    ra = rolesanywhere(ctx)
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        try:
            page = getattr(ra, op)(**kwargs)
        except Exception as exc:
            raise _fail(f"rolesanywhere:{op}", exc) from None
        out += list(page.get(key) or [])
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]


def _anchor_pem(anchor: dict[str, Any]) -> str | None:
    source = anchor.get("source") or {}
    if source.get("sourceType") != "CERTIFICATE_BUNDLE":
        return None
    return (source.get("sourceData") or {}).get("x509CertificateData")


def find_trust_anchor(ctx: Context, fingerprint: str) -> dict[str, Any] | None:
    """An enabled trust anchor whose certificate bundle is exactly this CA certificate."""
    for anchor in _paged(ctx, "list_trust_anchors", "trustAnchors"):
        pem = _anchor_pem(anchor)
        if pem and anchor.get("enabled") and cert_fingerprint(pem) == fingerprint:
            return anchor
    return None


def find_profile(ctx: Context, name: str) -> dict[str, Any] | None:
    return next((p for p in _paged(ctx, "list_profiles", "profiles") if p.get("name") == name), None)


def _ours(ctx: Context, arn: str) -> bool:
    try:
        tags = rolesanywhere(ctx).list_tags_for_resource(resourceArn=arn).get("tags") or []
    except Exception as exc:
        raise _fail("rolesanywhere:ListTagsForResource", exc) from None
    return any(t.get("key") == PLAN_TAG and t.get("value") == ctx.plan.id for t in tags)


def _profile_matches(profile: dict[str, Any], params: dict[str, Any]) -> bool:
    return (
        sorted(profile.get("roleArns") or []) == sorted(params["role_arns"])
        and int(profile.get("durationSeconds") or 3600) == int(params["duration_seconds"])
        and bool(profile.get("enabled"))
    )


@observer("awsfed.trust-anchor")
def observe_trust_anchor(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    found = find_trust_anchor(ctx, params["fingerprint"])
    return {"exists": found is not None, "arn": (found or {}).get("trustAnchorArn")}


@observer("awsfed.ra-profile")
def observe_ra_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    found = find_profile(ctx, params["name"])
    if found is None:
        return {"exists": False, "arn": None, "matches": False}
    return {"exists": True, "arn": found.get("profileArn"), "matches": _profile_matches(found, params)}


@action
class EnsureTrustAnchor(Action):
    """rolesanywhere:CreateTrustAnchor with the CA certificate, unless an enabled anchor holds it already."""

    name = "awsfed.ensure-trust-anchor"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        found = find_trust_anchor(ctx, params["fingerprint"])
        if found is not None:
            arn = str(found["trustAnchorArn"])
            return {"trust_anchor_arn": arn, "trust_anchor_id": found["trustAnchorId"], "created": _ours(ctx, arn)}
        tags = [{"key": PLAN_TAG, "value": ctx.plan.id}] + [
            {"key": k, "value": v} for k, v in sorted((params.get("tags") or {}).items())
        ]
        try:
            made = rolesanywhere(ctx).create_trust_anchor(
                name=params["name"],
                source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": params["pem"]}},
                enabled=True,
                tags=tags,
            )["trustAnchor"]
        except Exception as exc:
            raise _fail(f"rolesanywhere:CreateTrustAnchor {params['name']}", exc) from None
        return {"trust_anchor_arn": made["trustAnchorArn"], "trust_anchor_id": made["trustAnchorId"], "created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        try:
            rolesanywhere(ctx).delete_trust_anchor(trustAnchorId=outputs["trust_anchor_id"])
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _fail("rolesanywhere:DeleteTrustAnchor", exc) from None


@action
class EnsureRaProfile(Action):
    """rolesanywhere:CreateProfile naming the role; an identical profile is kept, another one refused."""

    name = "awsfed.ensure-ra-profile"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        found = find_profile(ctx, params["name"])
        if found is not None:
            if not _profile_matches(found, params):
                raise StepError(f"Roles Anywhere profile {params['name']} exists with other roles or duration")
            arn = str(found["profileArn"])
            return {"profile_arn": arn, "profile_id": found["profileId"], "created": _ours(ctx, arn)}
        try:
            made = rolesanywhere(ctx).create_profile(
                name=params["name"],
                roleArns=list(params["role_arns"]),
                durationSeconds=int(params["duration_seconds"]),
                enabled=True,
                tags=[{"key": PLAN_TAG, "value": ctx.plan.id}],
            )["profile"]
        except Exception as exc:
            raise _fail(f"rolesanywhere:CreateProfile {params['name']}", exc) from None
        return {"profile_arn": made["profileArn"], "profile_id": made["profileId"], "created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("created"):
            return
        try:
            rolesanywhere(ctx).delete_profile(profileId=outputs["profile_id"])
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _fail("rolesanywhere:DeleteProfile", exc) from None
