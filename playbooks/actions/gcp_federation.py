"""GCP actions and checks of the ``migrate`` playbook: Workload Identity Federation for a service account.

Ensures a workload identity pool, an OIDC provider in it whose ``attributeCondition`` pins the
consumer (mandatory: a provider without one accepts every identity of the issuer), and the binding
``roles/iam.workloadIdentityUser`` on the service account for exactly the consumer's principal
(``principal://.../subject/<sub>``, or ``principalSet://.../attribute.repository/<repo>``; for a GKE
consumer no pool: ``serviceAccount:<project>.svc.id.goog[<namespace>/<ksa>]``). REST only
(there is no GAPIC client for pools), through the GCP provider's API layer; ``setIamPolicy`` carries the
``etag`` it read, so a concurrent policy change fails instead of being overwritten. Every ensure
changes only what differs; a rollback undoes exactly what this plan did.
"""

from __future__ import annotations

from typing import Any

from nhiwarden.redact import redact

from . import Action, Context, StepError, action, observer
from .gcp import api

WIF_ROLE = "roles/iam.workloadIdentityUser"


class GcpFedError(StepError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def _rest(ctx: Context, method: str, path: str, *, base: str = "iam", **kw: Any) -> dict[str, Any]:
    client = api(ctx)
    root = client.endpoints.iam if base == "iam" else client.endpoints.resource_manager
    try:
        return dict(client.rest(None, path, method, f"{root}/{path.lstrip('/')}", **kw))
    except Exception as exc:
        code = getattr(exc, "code", 0)
        raise GcpFedError(code if isinstance(code, int) else 0, f"{method} {path}: {redact(exc)}") from None


def pool_name(project_number: str, pool: str) -> str:
    return f"projects/{project_number}/locations/global/workloadIdentityPools/{pool}"


def project_number(ctx: Context, project: str) -> str | None:
    page = _rest(ctx, "GET", "v3/projects:search", base="rm", params={"query": f"id:{project}"})
    for item in page.get("projects") or []:
        if item.get("projectId") == project:
            return str(item["name"]).split("/", 1)[1]
    return None


def get_any(ctx: Context, name: str) -> dict[str, Any] | None:
    """The pool or provider, including a soft-deleted one (Google keeps those for 30 days)."""
    try:
        return _rest(ctx, "GET", f"v1/{name}")
    except GcpFedError as exc:
        if exc.status == 404:
            return None
        raise


def get(ctx: Context, name: str) -> dict[str, Any] | None:
    found = get_any(ctx, name)
    return None if found is None or found.get("state") == "DELETED" else found


def revive(ctx: Context, name: str) -> bool:
    """Undelete a soft-deleted pool or provider: its id cannot be created again until it is purged."""
    found = get_any(ctx, name)
    if found is None or found.get("state") != "DELETED":
        return False
    _rest(ctx, "POST", f"v1/{name}:undelete", body={})
    return True


def sa_policy(ctx: Context, project: str, email: str) -> dict[str, Any]:
    return _rest(ctx, "POST", f"v1/projects/{project}/serviceAccounts/{email}:getIamPolicy", body={})


def has_member(policy: dict[str, Any], member: str) -> bool:
    return any(b.get("role") == WIF_ROLE and member in (b.get("members") or []) for b in policy.get("bindings") or [])


def provider_matches(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return bool(
        (live.get("oidc") or {}).get("issuerUri") == wanted["oidc"]["issuerUri"]
        and live.get("attributeCondition") == wanted["attributeCondition"]
        and dict(live.get("attributeMapping") or {}) == wanted["attributeMapping"]
    )


@observer("gcpfed.state")
def observe_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    pool = get(ctx, params["pool"]) if params.get("pool") else None  # GKE Workload Identity: no pool
    provider = get(ctx, params["provider"]) if pool else None
    policy = sa_policy(ctx, params["project"], params["email"])
    return {
        "pool_exists": pool is not None,
        "provider_exists": provider is not None,
        "provider_matches": provider is not None and provider_matches(provider, params["provider_body"]),
        "bound": has_member(policy, params["member"]),
    }


@action
class EnsurePool(Action):
    name = "gcpfed.ensure-pool"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        if get(ctx, params["name"]) is not None:
            return {"created": False}
        if revive(ctx, params["name"]):
            return {"created": True, "undeleted": True}
        parent, _, pool_id = params["name"].rpartition("/workloadIdentityPools/")
        _rest(
            ctx,
            "POST",
            f"v1/{parent}/workloadIdentityPools",
            params={"workloadIdentityPoolId": pool_id},
            body={"displayName": pool_id[:32], "description": params.get("description", "")[:256]},
        )
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            _rest(ctx, "DELETE", f"v1/{params['name']}")


@action
class EnsureProvider(Action):
    name = "gcpfed.ensure-provider"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        body = params["body"]
        if not body.get("attributeCondition"):
            raise StepError("refusing a workload identity provider without attributeCondition")
        live = get(ctx, params["name"])
        if live is not None:
            if not provider_matches(live, body):
                raise StepError(f"provider {params['name']} exists with another issuer, mapping or condition")
            return {"created": False}
        if revive(ctx, params["name"]):
            revived = get(ctx, params["name"]) or {}
            if not provider_matches(revived, body):
                _rest(ctx, "DELETE", f"v1/{params['name']}")
                raise StepError(f"deleted provider {params['name']} had another issuer, mapping or condition")
            return {"created": True, "undeleted": True}
        pool, _, provider_id = params["name"].rpartition("/providers/")
        _rest(ctx, "POST", f"v1/{pool}/providers", params={"workloadIdentityPoolProviderId": provider_id}, body=body)
        return {"created": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("created"):
            _rest(ctx, "DELETE", f"v1/{params['name']}")


@action
class BindWorkloadIdentityUser(Action):
    """Add exactly one member to ``roles/iam.workloadIdentityUser`` on the service account."""

    name = "gcpfed.bind"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        policy = sa_policy(ctx, params["project"], params["email"])
        if has_member(policy, params["member"]):
            return {"added": False}
        bindings = [dict(b) for b in policy.get("bindings") or []]
        for b in bindings:
            if b.get("role") == WIF_ROLE and not b.get("condition"):
                b["members"] = sorted({*b.get("members", []), params["member"]})
                break
        else:
            bindings.append({"role": WIF_ROLE, "members": [params["member"]]})
        self._set(ctx, params, policy, bindings)
        return {"added": True}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if not outputs.get("added"):
            return
        policy = sa_policy(ctx, params["project"], params["email"])
        bindings = []
        for b in policy.get("bindings") or []:
            b = dict(b)
            if b.get("role") == WIF_ROLE:
                b["members"] = [m for m in b.get("members") or [] if m != params["member"]]
                if not b["members"]:
                    continue
            bindings.append(b)
        self._set(ctx, params, policy, bindings)

    @staticmethod
    def _set(ctx: Context, params: dict[str, Any], policy: dict[str, Any], bindings: list[dict[str, Any]]) -> None:
        new = {"bindings": bindings, "version": policy.get("version", 1)}
        if policy.get("etag"):
            new["etag"] = policy["etag"]
        _rest(
            ctx,
            "POST",
            f"v1/projects/{params['project']}/serviceAccounts/{params['email']}:setIamPolicy",
            body={"policy": new},
        )


@action
class VerifyFederation(Action):
    """Read back provider and binding and judge them with the federation trust audit (read-only)."""

    name = "gcpfed.verify"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from nhiwarden.providers.gcp.trust import trust_for_member
        from nhiwarden.rules.builtin.federation import judge

        if not params.get("provider"):  # GKE Workload Identity: the binding names one KSA, nothing to judge
            if not has_member(sa_policy(ctx, params["project"], params["email"]), params["member"]):
                raise StepError(f"{params['email']} does not grant {WIF_ROLE} to {params['member']}")
            return {"verified": True, "at": ctx.now.replace(microsecond=0).isoformat()}
        provider = get(ctx, params["provider"])
        if provider is None or not provider_matches(provider, params["provider_body"]):
            raise StepError(f"provider {params['provider']} is missing or differs from the plan")
        if not has_member(sa_policy(ctx, params["project"], params["email"]), params["member"]):
            raise StepError(f"{params['email']} does not grant {WIF_ROLE} to {params['member']}")
        trust = trust_for_member(provider, params["member"])
        verdict = judge(trust) if trust is not None else None
        if verdict is not None:
            raise StepError(f"the federation trust is too broad: {verdict[1]}")
        return {"verified": True, "at": ctx.now.replace(microsecond=0).isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None
