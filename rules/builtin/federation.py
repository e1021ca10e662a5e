"""The federation trust audit (OWASP NHI6): who outside may obtain an identity's access without a secret.

Judges ``Identity.trusts`` only, which each provider fills from its own configuration (AWS role trust
policies, GCP workload identity pool providers and their IAM members, Entra federated identity
credentials, Vault/OpenBao JWT roles, AWS IAM Roles Anywhere statements). A trust is too broad when
it pins no subject at all (any token the issuer signs is accepted: with a public issuer such as
GitHub Actions, any repository on GitHub), or when a subject pattern's wildcard covers the part that
names the workload (``repo:acme/*`` admits every repository of the organisation;
``system:serviceaccount:*:*`` every service account). A trust whose claims are constrained only by an
expression that cannot be decomposed (a GCP CEL ``attributeCondition``) is not judged beyond its
presence. A Roles Anywhere trust needs both a certificate subject and its trust anchor.

Vault JWT/OIDC roles are judged by ``vault-auth-role-wildcard-binding`` (rules/builtin/vault.py) when
it is enabled, so one misconfiguration yields one finding; this rule covers them only when that rule
is disabled. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nhiwarden.findings import Severity
from nhiwarden.model import FederationTrust, Identity
from nhiwarden.rules import Hit, RuleContext, rule

RULE_ID = "federation-trust-too-broad"
VAULT_RULE = "vault-auth-role-wildcard-binding"
_WILDCARDS = ("*", "?")
# Claims that name one workload: a narrow value in one of them pins the trust even when ``sub`` is broad.
IDENTIFYING_CLAIMS = frozenset(
    {
        "sub",
        "repository",
        "repository_id",
        "job_workflow_ref",
        "workflow_ref",
        "project_path",
        "project_id",
        "google.subject",
        "kubernetes.io/serviceaccount/service-account.name",
    }
)
_BROAD = "broad"  # severity marker: medium
_ANY = "any"  # severity marker: high


def _wild(text: str) -> bool:
    return any(w in text for w in _WILDCARDS)


def pattern_breadth(pattern: str) -> tuple[str, str] | None:
    """(``any``|``broad``, why) when a subject glob admits more than one workload; None when narrow.

    Knows the subject formats of GitHub Actions (``repo:<owner>/<repo>:...``), GitLab
    (``project_path:<group>/<project>:...``) and Kubernetes (``system:serviceaccount:<ns>:<name>``);
    for any other format a pattern that starts with a wildcard is too broad.
    """
    p = pattern.strip()
    if p in ("", "*", "**", "*:*"):
        return _ANY, "matches every subject"
    for prefix, what in (("repo:", "repository"), ("project_path:", "project")):
        if p.startswith(prefix):
            path = p[len(prefix) :].split(":", 1)[0]
            owner, _, name = path.partition("/")
            if _wild(owner) or (not name and _wild(path)):
                return _ANY, f"matches every {what} of every owner"
            if _wild(name) or not name:
                return _BROAD, f"matches every {what} of {owner}"
            return None
    if p.startswith("system:serviceaccount:"):
        parts = p[len("system:serviceaccount:") :].split(":")
        ns = parts[0]
        name = parts[1] if len(parts) > 1 else "*"
        if _wild(ns):
            return (_ANY if _wild(name) else _BROAD), "matches service accounts in every namespace"
        if _wild(name):
            return _BROAD, f"matches every service account of namespace {ns}"
        return None
    if p[0] in _WILDCARDS:
        return _ANY, "starts with a wildcard"
    return None


def _pattern_values(values: list[str], exact: set[str]) -> list[str]:
    return [v for v in values if v not in exact]


def judge(trust: FederationTrust) -> tuple[Severity, str] | None:
    """Severity and reason when ``trust`` admits more than the workload it was made for; else None."""
    attrs = trust.attributes
    if attrs.get("disabled"):
        return None
    if attrs.get("kind") == "roles-anywhere":
        return judge_roles_anywhere(trust)
    exact = set(attrs.get("exact_subjects") or [])
    exact_conditions = bool(attrs.get("exact_conditions"))
    identifying = {k: v for k, v in trust.conditions.items() if k in IDENTIFYING_CLAIMS and v}
    narrow_condition = any(
        all(exact_conditions or (pattern_breadth(v) is None and not _wild(v)) for v in values)
        for values in identifying.values()
    )
    if trust.subjects is None and not identifying:
        if trust.expression:
            return None  # constrained by an expression (e.g. a GCP attributeCondition): present, not decomposed
        if attrs.get("provider") == "gcp":
            return (
                Severity.HIGH,
                "the provider has no attributeCondition: every identity the issuer vouches for is accepted",
            )
        if trust.issuer.startswith("cognito-identity") and trust.audiences:
            return None  # Cognito identity pools are pinned by their pool id (aud)
        return Severity.HIGH, f"no subject condition: any token issued by {trust.issuer} is accepted"
    broad: list[tuple[str, str, str]] = []
    for value in _pattern_values(trust.subjects or [], exact):
        verdict = pattern_breadth(value)
        if verdict is not None:
            broad.append((value, *verdict))
    if not broad or narrow_condition:
        return None
    if attrs.get("subject_logic") == "all" and len(broad) < len(trust.subjects or []):
        return None  # another AND-ed subject clause is narrow
    worst = Severity.HIGH if any(level == _ANY for _, level, _ in broad) else Severity.MEDIUM
    why = "; ".join(f"subject {value!r} {reason}" for value, _, reason in broad)
    return worst, why


def judge_roles_anywhere(trust: FederationTrust) -> tuple[Severity, str] | None:
    """IAM Roles Anywhere: narrow only with a certificate subject and the trust anchor (``aws:SourceArn``).

    Without a subject every certificate the anchor's CA issues is accepted; without ``aws:SourceArn``
    a certificate from any trust anchor of the account; without both, any certificate of any anchor.
    A wildcard (``StringLike``/``ArnLike``/``ArnEquals``) pins nothing; ``StringEquals`` is literal.
    """
    attrs = trust.attributes
    exact = set(attrs.get("exact_subjects") or [])
    subject = any(v in exact or not _wild(v.partition("=")[2]) for v in trust.subjects or [])
    literal = set((attrs.get("exact_condition_values") or {}).get("aws:SourceArn") or [])
    anchor = any(v in literal or not _wild(v) for v in trust.conditions.get("aws:SourceArn") or [])
    if subject and anchor:
        return None
    if not subject and not anchor:
        return (
            Severity.HIGH,
            "no x509Subject or aws:SourceArn condition: any certificate of any trust anchor in the account is accepted",
        )
    if not subject:
        return Severity.MEDIUM, "no x509Subject condition: every certificate the trust anchor's CA issues is accepted"
    return (
        Severity.MEDIUM,
        "no aws:SourceArn condition: a certificate with this subject from any trust anchor is accepted",
    )


def _defers_to_vault_rule(ctx: RuleContext, identity: Identity) -> bool:
    return identity.provider == "vault" and VAULT_RULE in ctx.enabled


def _evidence(trust: FederationTrust, reason: str) -> dict[str, Any]:
    return {
        "issuer": trust.issuer,
        "source": trust.source,
        "subjects": trust.subjects,
        "audiences": trust.audiences,
        "conditions": trust.conditions,
        "expression": trust.expression,
        "reason": reason,
    }


@rule(
    id=RULE_ID,
    title="Federation trust admits more workloads than intended",
    severity="high",
    rationale=(
        "Keyless federation replaces a static secret with a trust in an external issuer's tokens. A trust "
        "that does not pin the token's subject accepts every workload that issuer signs for: an AWS role "
        "trusting token.actions.githubusercontent.com without a 'sub' condition can be assumed from any "
        "repository on GitHub, a GCP workload identity provider without an attributeCondition admits "
        "every identity of the issuer, and a glob such as 'repo:acme/*' admits every repository and "
        "branch of an organisation, including forks' pull requests where allowed (OWASP NHI6)."
    ),
    remediation=("reconfigure",),
)
def federation_trust_too_broad(ctx: RuleContext) -> Iterator[Hit]:
    for identity in ctx.identities():
        if not identity.trusts or _defers_to_vault_rule(ctx, identity):
            continue
        verdicts = [(t, v) for t in identity.trusts if (v := judge(t)) is not None]
        if not verdicts:
            continue
        worst = Severity.HIGH if any(v[0] == Severity.HIGH for _, v in verdicts) else Severity.MEDIUM
        first, (_, reason) = verdicts[0]
        more = f" (and {len(verdicts) - 1} more trust(s))" if len(verdicts) > 1 else ""
        yield Hit(
            identity=identity,
            message=f"{identity.name} trusts {first.issuer} too broadly: {reason}{more}",
            evidence={"trusts": [_evidence(t, v[1]) for t, v in verdicts]},
            severity=None if worst == Severity.HIGH else Severity.MEDIUM,
        )
