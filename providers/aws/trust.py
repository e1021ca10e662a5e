"""Turn an IAM role's trust policy (AssumeRolePolicyDocument) into FederationTrust objects.

Owns the reading of OIDC web-identity statements only: ``Principal.Federated`` naming an
``oidc-provider`` ARN (or ``cognito-identity.amazonaws.com``) with ``sts:AssumeRoleWithWebIdentity``.
Condition keys ``<provider>:sub`` and ``<provider>:aud`` become ``subjects``/``audiences``; every other
key of that provider goes in ``conditions``. Only positive operators pin a claim (StringEquals,
StringLike and their IgnoreCase/ForAnyValue/ForAllValues forms); ``...IfExists`` and negated operators
do not, because a token without the claim, or with any other value, still passes. Also IAM Roles
Anywhere: ``Principal.Service`` ``rolesanywhere.amazonaws.com`` with ``sts:AssumeRole`` becomes a trust
with issuer ``rolesanywhere.amazonaws.com``, subjects ``<attr>=<value>`` from the
``aws:PrincipalTag/x509Subject/<attr>`` conditions and the trust anchor (``aws:SourceArn``) among
``conditions``. Pure: no API call, no judgement (the rule ``federation-trust-too-broad`` judges).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from nhiwarden.model import FederationTrust

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
COGNITO = "cognito-identity.amazonaws.com"
ROLES_ANYWHERE = "rolesanywhere.amazonaws.com"
X509_TAG = "aws:PrincipalTag/x509Subject/"
_EXACT = {"StringEquals", "StringEqualsIgnoreCase"}
_GLOB = {"StringLike"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _document(doc: dict[str, Any] | str) -> dict[str, Any]:
    """botocore decodes the URL-encoded document into a dict; other clients hand over the raw text."""
    if isinstance(doc, dict):
        return doc
    text = doc.strip()
    if not text.startswith("{"):
        text = unquote(text)
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}


def provider_host(principal: str) -> str | None:
    """``arn:aws:iam::123:oidc-provider/token.actions.githubusercontent.com`` -> the condition-key prefix."""
    if principal == COGNITO:
        return COGNITO
    marker = ":oidc-provider/"
    if marker in principal:
        return principal.split(marker, 1)[1]
    return None


def _operator(op: str) -> tuple[str, bool]:
    """Base operator without set qualifiers, and whether the clause really pins the claim."""
    base = op.split(":", 1)[1] if op.startswith(("ForAnyValue:", "ForAllValues:")) else op
    if base.endswith("IfExists"):
        return base[: -len("IfExists")], False
    return base, base in _EXACT or base in _GLOB


def trusts_from_policy(document: dict[str, Any] | str, *, role_arn: str = "") -> list[FederationTrust]:
    """One FederationTrust per Allow statement that lets an OIDC identity provider assume the role."""
    doc = _document(document)
    out: list[FederationTrust] = []
    for index, statement in enumerate(_as_list(doc.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if ROLES_ANYWHERE in services and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            out.append(_roles_anywhere_trust(statement, index, role_arn))
        if not any(a in (WEB_IDENTITY, "sts:*", "*") for a in actions):
            continue
        federated = _as_list(principal.get("Federated")) if isinstance(principal, dict) else []
        for fed in federated:
            host = provider_host(str(fed))
            if host is None:
                continue  # SAML providers carry no OIDC subject
            out.append(_trust(statement, index, str(fed), host, role_arn))
    return out


def _trust(statement: dict[str, Any], index: int, principal: str, host: str, role_arn: str) -> FederationTrust:
    subjects: list[str] = []
    exact_subjects: list[str] = []
    audiences: list[str] = []
    conditions: dict[str, list[str]] = {}
    loose: list[str] = []
    for op, clauses in (statement.get("Condition") or {}).items():
        base, pins = _operator(str(op))
        if not isinstance(clauses, dict):
            continue
        for key, value in clauses.items():
            prefix, _, claim = str(key).rpartition(":")
            if prefix.lower() != host.lower():
                continue
            values = [str(v) for v in _as_list(value)]
            if not pins:
                loose.append(f"{op} {key}")
                continue
            if claim == "sub":
                subjects += values
                if base in _EXACT:
                    exact_subjects += values
            elif claim == "aud":
                audiences += values
            else:
                conditions.setdefault(claim, []).extend(values)
    sid = statement.get("Sid")
    where = f"statement {index}" + (f" ({sid})" if sid else "")
    issuer = host if host == COGNITO else f"https://{host}"
    attributes: dict[str, Any] = {"principal": principal, "provider": "aws"}
    if exact_subjects:
        attributes["exact_subjects"] = sorted(set(exact_subjects))
    if loose:
        attributes["non_binding_conditions"] = loose
    return FederationTrust(
        issuer=issuer,
        source=f"{role_arn or 'role'} trust policy {where}",
        subjects=sorted(set(subjects)) or None,
        audiences=sorted(set(audiences)) or None,
        conditions={k: sorted(set(v)) for k, v in conditions.items()},
        attributes=attributes,
    )


# Operators that pin a value for Roles Anywhere conditions; exact ones take ``*`` literally.
_RA_EXACT = {"StringEquals", "StringEqualsIgnoreCase"}
_RA_PINS = _RA_EXACT | {"StringLike", "ArnEquals", "ArnLike"}  # ArnEquals/ArnLike both honour wildcards


def _roles_anywhere_trust(statement: dict[str, Any], index: int, role_arn: str) -> FederationTrust:
    """The certificates an IAM Roles Anywhere statement admits: x509 subject tags and the trust anchor."""
    subjects: list[str] = []
    exact_subjects: list[str] = []
    conditions: dict[str, list[str]] = {}
    exact_conditions: dict[str, list[str]] = {}
    loose: list[str] = []
    for op, clauses in (statement.get("Condition") or {}).items():
        base, _ = _operator(str(op))
        pins = base in _RA_PINS and not str(op).endswith("IfExists")
        if not isinstance(clauses, dict):
            continue
        for key, value in clauses.items():
            values = [str(v) for v in _as_list(value)]
            if not pins:
                loose.append(f"{op} {key}")
                continue
            if str(key).startswith(X509_TAG):
                attr = str(key)[len(X509_TAG) :]
                subjects += [f"{attr}={v}" for v in values]
                if base in _RA_EXACT:
                    exact_subjects += [f"{attr}={v}" for v in values]
            else:
                conditions.setdefault(str(key), []).extend(values)
                if base in _RA_EXACT:
                    exact_conditions.setdefault(str(key), []).extend(values)
    sid = statement.get("Sid")
    where = f"statement {index}" + (f" ({sid})" if sid else "")
    attributes: dict[str, Any] = {"principal": ROLES_ANYWHERE, "provider": "aws", "kind": "roles-anywhere"}
    if exact_subjects:
        attributes["exact_subjects"] = sorted(set(exact_subjects))
    if exact_conditions:  # values compared literally (``*`` is no wildcard there)
        attributes["exact_condition_values"] = {k: sorted(set(v)) for k, v in exact_conditions.items()}
    if loose:
        attributes["non_binding_conditions"] = loose
    return FederationTrust(
        issuer=ROLES_ANYWHERE,
        source=f"{role_arn or 'role'} trust policy {where}",
        subjects=sorted(set(subjects)) or None,
        audiences=None,
        conditions={k: sorted(set(v)) for k, v in conditions.items()},
        attributes=attributes,
    )
