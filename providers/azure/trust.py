"""Turn Entra federated identity credentials (Graph or ARM JSON) into FederationTrust objects.

Owns the reading of ``GET /applications/{id}/federatedIdentityCredentials`` items (``issuer``,
``subject``, ``audiences``, and, for flexible credentials, ``claimsMatchingExpression {value,
languageVersion}`` instead of ``subject``) and of user-assigned identity credentials from ARM
(``properties.issuer/subject/audiences`` or the flattened SDK shape). A flexible expression is kept
whole in ``expression``; its ``claims['sub'] matches|eq '...'`` clauses become ``subjects`` so the rule
can judge them. Pure: no API call, no judgement.
"""

from __future__ import annotations

import re
from typing import Any

from nhiwarden.model import FederationTrust

_CLAUSE = re.compile(r"claims\[\s*'(?P<claim>[^']+)'\s*\]\s+(?P<op>matches|eq)\s+'(?P<value>[^']*)'", re.IGNORECASE)


def trust_from_credential(fic: dict[str, Any], *, owner: str = "application") -> FederationTrust:
    props = fic.get("properties") if isinstance(fic.get("properties"), dict) else fic
    assert isinstance(props, dict)
    subject = props.get("subject")
    expression = props.get("claimsMatchingExpression")
    expr_text = str(expression.get("value") if isinstance(expression, dict) else expression or "").strip() or None
    subjects: list[str] | None = [str(subject)] if subject else None
    conditions: dict[str, list[str]] = {}
    attributes: dict[str, Any] = {"provider": "azure", "defined_on": owner, "name": fic.get("name")}
    if subjects:
        attributes["exact_subjects"] = list(subjects)  # a plain subject is matched exactly
    if expr_text is not None:
        attributes["flexible"] = True
        exact: list[str] = []
        for m in _CLAUSE.finditer(expr_text):
            claim, op, value = m.group("claim"), m.group("op").lower(), m.group("value")
            if claim == "sub":
                subjects = (subjects or []) + [value]
                if op == "eq":
                    exact.append(value)
            else:
                conditions.setdefault(claim, []).append(value)
        if exact:
            attributes["exact_subjects"] = sorted(set(attributes.get("exact_subjects", []) + exact))
        lowered = f" {expr_text.lower()} "
        attributes["subject_logic"] = "all" if " and " in lowered and " or " not in lowered else "any"
    return FederationTrust(
        issuer=str(props.get("issuer") or ""),
        source=f"federated identity credential {fic.get('name') or fic.get('id')} on the {owner}",
        subjects=subjects,
        audiences=[str(a) for a in props.get("audiences") or []] or None,
        conditions=conditions,
        expression=expr_text,
        attributes=attributes,
    )


def trusts_from_credentials(fics: list[dict[str, Any]], *, owner: str = "application") -> list[FederationTrust]:
    return [trust_from_credential(f, owner=owner) for f in fics]
