"""Azure-specific rules: facts only the Azure provider records (see providers/azure/build.py).

Pure functions of the inventory and ``ctx.as_of``; no I/O. Credentials are named by key id only.
"""

from __future__ import annotations

from collections.abc import Iterator

from nhiwarden.rules import Hit, RuleContext, rule
from nhiwarden.rules.builtin._common import iso, live

SP_CREDENTIAL = "azure-sp-credential"


@rule(
    id=SP_CREDENTIAL,
    title="Client secret added to a service principal directly",
    severity="medium",
    rationale=(
        "A client secret on a service principal (rather than on its app registration) does not show in the "
        "portal's App registrations blade, so owners rotating or reviewing the app's secrets never see it. "
        "Attackers use it to keep access to a tenant (it was part of the Solorigate intrusion), and on a "
        "third-party app it is a secret the vendor does not know about (OWASP NHI3, NHI7)."
    ),
    providers=("azure",),
    remediation=("remove-credential",),
)
def sp_credential(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("azure"):
        for credential in sorted(identity.credentials, key=lambda c: c.uid):
            if credential.kind != "azure-client-secret" or not live(ctx, credential):
                continue
            if credential.attributes.get("credential_origin") != "servicePrincipal":
                continue
            yield Hit(
                identity=identity,
                credential=credential,
                message=(
                    f"client secret {credential.id} is set on the service principal of {identity.name}, "
                    "where the app registration does not show it"
                ),
                evidence={
                    "credential_origin": "servicePrincipal",
                    "service_principal_id": identity.attributes.get("service_principal_id"),
                    "app_owner_organization_id": identity.attributes.get("app_owner_organization_id"),
                    "created_at": iso(credential.created_at),
                    "expires_at": iso(credential.expires_at),
                },
            )


SECRET_WITH_FEDERATION = "azure-secret-with-federation"


@rule(
    id=SECRET_WITH_FEDERATION,
    title="Client secret kept beside a federated credential",
    severity="low",
    rationale=(
        "An app that already trusts a federated credential (GitHub Actions, Kubernetes workload identity, "
        "another cloud) can authenticate without any secret. A client secret kept beside it is a migration "
        "left unfinished: the secret still works from anywhere and is the one thing worth stealing "
        "(OWASP NHI7)."
    ),
    providers=("azure",),
    remediation=("remove-credential",),
)
def secret_with_federation(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities("azure"):
        creds = sorted(identity.credentials, key=lambda c: c.uid)
        federated = [c for c in creds if c.kind == "azure-federated-credential"]
        if not federated:
            continue
        for credential in creds:
            if credential.kind != "azure-client-secret" or not live(ctx, credential):
                continue
            yield Hit(
                identity=identity,
                credential=credential,
                message=(
                    f"client secret {credential.id} of {identity.name} is still valid although the app "
                    f"authenticates with federated credential(s) {', '.join(c.id for c in federated)}"
                ),
                evidence={
                    "federated_credentials": [
                        {"id": c.id, "issuer": c.attributes.get("issuer"), "subject": c.attributes.get("subject")}
                        for c in federated
                    ],
                    "created_at": iso(credential.created_at),
                    "expires_at": iso(credential.expires_at),
                    "last_used_at": iso(credential.last_used_at),
                },
            )
