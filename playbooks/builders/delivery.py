"""Plan the delivery step of a rotation: where the new secret goes, and the check on that target.

Read-only. Every target is written with a precondition the plan records (KV version for check-and-set,
Kubernetes resourceVersion, Secrets Manager AWSCURRENT version), so a concurrent writer is never clobbered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..actions import Context
from ..delivery import parse
from ..model import Check, Step
from ..planner import Skip, observe_into


@dataclass
class DeliveryPlan:
    spec: str
    action: str
    params: dict[str, Any]
    api_call: str
    rollback: str
    check: Check


def plan_delivery(
    ctx: Context,
    t: str,
    spec: str,
    *,
    fields: dict[str, str],
    key_field: str,
    key_id: str,
    current_key_id: str | None = None,
    secret_step: str,
) -> DeliveryPlan:
    """``fields`` maps target field -> secret field; ``key_field`` holds the new credential's public id."""
    kind, where = parse(spec)
    common = {"fields": fields, "key_field": key_field, "key_id": key_id, "secret_step": secret_step}
    if kind == "vault-kv":
        mount, _, path = where.partition("/")
        if not path:
            raise Skip(f"--deliver {spec}: expected vault-kv:<mount>/<path>")
        check = Check(
            id=f"{t}.delivery",
            observe="vault-kv.secret",
            params={"mount": mount, "path": path, "key_field": key_field, "key_id": current_key_id},
            text="",
        )
        kv = observe_into(ctx, check, ["version", "holds_key_id"] if current_key_id else ["version"])
        if current_key_id and kv["exists"] and kv.get("key_field_present") and not kv["holds_key_id"]:
            raise Skip(f"{spec} holds a different {key_field}: not overwriting it")
        version = int(kv["version"])
        check.text = f"{spec} is at version {version}" + (
            f" and holds {key_field} {current_key_id}" if kv.get("holds_key_id") else ""
        )
        addr = ctx.connection("vault").get("addr", "$VAULT_ADDR")
        return DeliveryPlan(
            spec=spec,
            action="vault-kv.write",
            params={"mount": mount, "path": path, "cas": version, "previous_key_id": current_key_id, **common},
            api_call=(
                f"POST {addr}/v1/{mount}/data/{path} {{data: {', '.join(fields)} (other fields kept), "
                f"options.cas: {version}}}; POST {mount}/metadata/{path} custom_metadata"
            ),
            rollback=f"write version {version}'s data back as a new version (cas), if nobody wrote since",
            check=check,
        )
    if kind == "k8s-secret":
        ns, _, name = where.partition("/")
        if not name:
            raise Skip(f"--deliver {spec}: expected k8s-secret:<namespace>/<name>")
        check = Check(id=f"{t}.delivery", observe="k8s-secret.secret", params={"namespace": ns, "name": name}, text="")
        facts = observe_into(ctx, check, ["exists", "resource_version"])
        if facts["exists"] and facts["type"] != "Opaque":
            raise Skip(f"{spec} is a {facts['type']} Secret: deliver to an Opaque Secret")
        rv = str(facts["resource_version"] or "")
        check.text = f"{spec} " + (f"is at resourceVersion {rv}" if rv else "does not exist yet (it is created)")
        return DeliveryPlan(
            spec=spec,
            action="k8s-secret.write",
            params={"namespace": ns, "name": name, "resource_version": rv, **common},
            api_call=(
                f"PUT /api/v1/namespaces/{ns}/secrets/{name} (resourceVersion {rv}; fields {', '.join(fields)})"
                if rv
                else f"POST /api/v1/namespaces/{ns}/secrets {{name: {name}, type: Opaque, data: {', '.join(fields)}}}"
            ),
            rollback="delete the Secret it created" if not rv else "restore the previous data (same apply only)",
            check=check,
        )
    if kind == "aws-secretsmanager":
        check = Check(id=f"{t}.delivery", observe="aws-secretsmanager.secret", params={"secret_id": where}, text="")
        facts = observe_into(ctx, check, ["exists", "current_version"])
        current = facts["current_version"]
        check.text = f"{spec} " + (f"has AWSCURRENT version {current}" if current else "does not exist yet")
        return DeliveryPlan(
            spec=spec,
            action="aws-secretsmanager.write",
            params={"secret_id": where, "current_version": current, **common},
            api_call=(
                f"secretsmanager:PutSecretValue SecretId={where} (JSON: {', '.join(fields)}; other keys kept)"
                if current
                else f"secretsmanager:CreateSecret Name={where} (JSON: {', '.join(fields)})"
            ),
            rollback=(
                f"secretsmanager:PutSecretValue with version {current}'s value (if nobody wrote since)"
                if current
                else f"secretsmanager:DeleteSecret {where} (ForceDeleteWithoutRecovery)"
            ),
            check=check,
        )
    raise Skip(f"delivery to {kind} is not implemented")


def known_location(req: Any, credential_uid: str, credential_id: str) -> str | None:
    """Where the scan found the old secret, as a delivery target (the plan proposes updating it there).

    Either the credential's own ``locations`` (``vault-kv:``, ``k8s-secret:``, ``aws-secretsmanager:``) or,
    across providers, a Vault KV secret whose custom metadata names the same public key id (the Vault
    provider reports it as ``vault:<address>:<mount>/<path>``).
    """
    found: list[str] = []
    for identity in req.report.identities:
        for cred in identity.credentials:
            same = cred.uid == credential_uid
            linked = cred.id == credential_id and cred.uid != credential_uid
            if not (same or linked):
                continue
            for loc in cred.locations:
                if loc.startswith(("vault-kv:", "k8s-secret:", "aws-secretsmanager:")) and same:
                    found.append(loc)
                elif loc.startswith("vault:") and ":" in loc[len("vault:") :]:
                    found.append("vault-kv:" + loc.rsplit(":", 1)[1].strip("/"))
    for loc in found:
        if loc.startswith("vault-kv:"):
            return loc
    return found[0] if found else None


def deliver_step(target_id: str, group: str, delivery: DeliveryPlan) -> Step:
    """The step that writes the secret created by ``<target_id>.create`` to where its consumers read it."""
    return Step(
        id=f"{target_id}.deliver",
        stage="deliver",
        group=group,
        action=delivery.action,
        target=delivery.spec,
        api_call=delivery.api_call,
        params=delivery.params,
        rollback=delivery.rollback,
        secret_from=f"{target_id}.create",
    )
