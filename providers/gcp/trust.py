"""Turn a Workload Identity Federation pool provider (REST resource) into a FederationTrust.

Owns the reading of ``projects.locations.workloadIdentityPools.providers`` resources as returned by
``GET v1/projects/{p}/locations/global/workloadIdentityPools/{pool}/providers[/{id}]``: ``oidc``
(issuerUri, allowedAudiences), ``aws`` (accountId), ``saml``; ``attributeMapping``;
``attributeCondition`` (a CEL expression, kept whole in ``expression``); ``disabled``/``state``.
A provider without ``attributeCondition`` accepts every identity its issuer vouches for. Pure: no API
call, no judgement.
"""

from __future__ import annotations

from typing import Any

from nhiwarden.model import FederationTrust


def trust_from_provider(provider: dict[str, Any]) -> FederationTrust:
    name = str(provider.get("name") or "")
    oidc = provider.get("oidc") or {}
    audiences: list[str] | None = None
    if oidc:
        issuer = str(oidc.get("issuerUri") or "")
        # No allowedAudiences: Google accepts the provider's own resource name as audience.
        audiences = [str(a) for a in oidc.get("allowedAudiences") or []] or [f"//iam.googleapis.com/{name}"]
        kind = "oidc"
    elif provider.get("aws"):
        issuer, kind = f"aws:account/{provider['aws'].get('accountId')}", "aws"
    elif provider.get("saml"):
        issuer, kind = "saml", "saml"
    elif provider.get("x509"):
        issuer, kind = "x509", "x509"
    else:
        issuer, kind = "unknown", "unknown"
    condition = provider.get("attributeCondition")
    return FederationTrust(
        issuer=issuer,
        source=f"workload identity pool provider {name}",
        subjects=None,
        audiences=audiences,
        conditions={},
        expression=str(condition).strip() or None if condition is not None else None,
        attributes={
            "provider": "gcp",
            "kind": kind,
            "name": name,
            "attribute_mapping": dict(provider.get("attributeMapping") or {}),
            "disabled": bool(provider.get("disabled")) or provider.get("state") == "DELETED",
            "state": provider.get("state"),
        },
    )


def trusts_from_providers(providers: list[dict[str, Any]]) -> list[FederationTrust]:
    return [trust_from_provider(p) for p in providers]


def pool_of(resource_name: str) -> str:
    """``projects/N/locations/global/workloadIdentityPools/P[/providers/X]`` -> the pool's name."""
    head, sep, _ = resource_name.partition("/providers/")
    return head if sep else resource_name


def trust_for_member(provider: dict[str, Any], member: str) -> FederationTrust | None:
    """The trust one IAM member on a service account grants through ``provider``'s pool, or None.

    ``principal://iam.googleapis.com/<pool>/subject/S`` pins the subject S;
    ``principalSet://iam.googleapis.com/<pool>/attribute.A/V`` pins attribute A to exactly V (Google
    matches the value literally: ``attribute.repository/*`` admits only a repository named ``*``);
    ``principalSet://iam.googleapis.com/<pool>/*`` (or ``group/...``) admits every identity the pool's
    providers accept, so only the provider's ``attributeCondition`` narrows it.
    """
    trust = trust_from_provider(provider)
    pool = pool_of(str(provider.get("name") or ""))
    for scheme in ("principal://iam.googleapis.com/", "principalSet://iam.googleapis.com/"):
        if member.startswith(scheme + pool + "/"):
            rest = member[len(scheme + pool) + 1 :]
            break
    else:
        return None
    trust.attributes["member"] = member
    if rest.startswith("subject/"):
        trust.subjects = [rest[len("subject/") :]]
        trust.attributes["exact_subjects"] = list(trust.subjects)
    elif rest.startswith("attribute."):
        attr, _, value = rest[len("attribute.") :].partition("/")
        trust.conditions = {attr: [value]}
        trust.attributes["exact_conditions"] = True
    return trust
