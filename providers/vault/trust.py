"""Turn a Vault/OpenBao JWT/OIDC auth role (``GET auth/<mount>/role/<name>`` data) into a FederationTrust.

Owns the mapping of ``bound_subject`` and ``bound_claims['sub']`` to ``subjects``, ``bound_audiences`` to
``audiences`` and every other bound claim to ``conditions``. ``bound_claims_type`` decides whether
``*`` is a wildcard (``glob``) or a literal character (``string``, the default). The issuer comes from
the mount's config (``bound_issuer`` or ``oidc_discovery_url``), which the caller passes. Pure: no API
call, no judgement.
"""

from __future__ import annotations

from typing import Any

from nhiwarden.model import FederationTrust


def _values(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, str) and "," in value:
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(value)]


def trust_from_role(role: dict[str, Any], *, issuer: str, source: str) -> FederationTrust:
    glob = role.get("bound_claims_type") == "glob"
    exact: list[str] = []
    subjects: list[str] = []
    if role.get("bound_subject"):
        subjects.append(str(role["bound_subject"]))
        exact.append(str(role["bound_subject"]))  # bound_subject is always an exact match
    conditions: dict[str, list[str]] = {}
    for claim, value in (role.get("bound_claims") or {}).items():
        values = _values(value)
        if claim == "sub":
            subjects += values
            if not glob:
                exact += values
        else:
            conditions[str(claim)] = values
    attributes: dict[str, Any] = {
        "provider": "vault",
        "bound_claims_type": role.get("bound_claims_type") or "string",
        "role_type": role.get("role_type"),
        "user_claim": role.get("user_claim"),
    }
    if exact:
        attributes["exact_subjects"] = sorted(set(exact))
    if not glob and conditions:
        attributes["exact_conditions"] = True
    return FederationTrust(
        issuer=issuer,
        source=source,
        subjects=sorted(set(subjects)) or None,
        audiences=_values(role.get("bound_audiences")) or None,
        conditions=conditions,
        attributes=attributes,
    )
