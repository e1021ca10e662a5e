"""Vault/OpenBao ACL policies (HCL) resolved to nhiwarden privilege levels, with the evidence.

Parses policy text with python-hcl2 (a real HCL parser) and judges each ``path`` stanza:

- ``root`` policy, ``path "*"`` with write or ``sudo``, or ``sudo`` with write on ``sys/*`` -> admin;
- write (create/update/patch/delete) on paths that hand out power -> privilege-escalation:
  ``sys/policy*``, ``sys/policies/*``, ``sys/auth*``, ``sys/mounts*``, ``sys/audit*``, ``sys/raw*``,
  ``auth/*`` (roles, users, token creation), ``identity/*``; any ``sudo`` together with write;
- other write -> write; read/list (also ``sudo`` with only read/list, e.g. listing token accessors)
  -> read. ``deny`` stanzas grant nothing.

Pure: no I/O. Never sees a secret (policy text is configuration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nhiwarden.model import Grant, Privilege

WRITE_CAPS = frozenset({"create", "update", "patch", "delete"})
READ_CAPS = frozenset({"read", "list"})
ROOT_POLICY = "root"

# Path prefixes where write access lets the holder give itself (or anyone) more power.
# Writes every token needs on itself (the built-in ``default`` policy): not escalation.
SELF_SERVICE_PATHS = frozenset(
    {
        "auth/token/renew-self",
        "auth/token/revoke-self",
        "auth/token/lookup-self",
        "identity/oidc/provider/+/authorize",
    }
)
# POST endpoints that only look things up: Vault calls the capability "update", but nothing changes.
_LOOKUP_SUFFIXES = (
    "/lookup",
    "/lookup-accessor",
    "/lookup-self",
    "/capabilities",
    "/capabilities-self",
    "/capabilities-accessor",
)
_LOOKUP_PREFIXES = ("sys/audit-hash/", "sys/tools/hash", "sys/wrapping/lookup", "sys/leases/lookup")


def is_lookup_only(path: str) -> bool:
    """True for paths whose 'update' capability only performs a lookup (lookup-accessor, audit-hash)."""
    bare = path.rstrip("*")
    unprefixed = re.sub(r"^(\+/)+", "", path)  # namespace-prefixed copies ("+/sys/audit-hash/*")
    return bare.endswith(_LOOKUP_SUFFIXES) or unprefixed.startswith(_LOOKUP_PREFIXES)


ESCALATION_PREFIXES = (
    "sys/policy",
    "sys/policies/",
    "sys/auth",
    "sys/mounts",
    "sys/audit",
    "sys/raw",
    "sys/plugins",
    "sys/namespaces",
    "sys/generate-root",
    "auth/",
    "identity/",
)


class PolicyParseError(ValueError):
    """The policy text is not valid HCL (message carries no policy content)."""


@dataclass(frozen=True)
class PathRule:
    path: str
    capabilities: frozenset[str]


@dataclass(frozen=True)
class PolicyVerdict:
    """The worst privilege a policy gives and why; ``privilege`` None means it grants nothing."""

    name: str
    privilege: Privilege | None
    reason: str
    permissions: tuple[str, ...] = ()


def _unquote(value: object) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse_policy(text: str) -> list[PathRule]:
    """The ``path`` stanzas of an HCL policy."""
    import hcl2

    if not text.strip():
        return []
    try:
        doc = hcl2.loads(text)
    except Exception as exc:  # the parser raises lark errors of several types
        raise PolicyParseError(f"invalid HCL policy ({type(exc).__name__})") from None
    rules: list[PathRule] = []
    blocks = doc.get("path") or []
    if isinstance(blocks, dict):
        blocks = [blocks]
    for block in blocks:
        for raw_path, body in block.items():
            caps: list[str] = []
            if isinstance(body, dict):
                raw_caps = body.get("capabilities") or []
                if isinstance(raw_caps, str):
                    raw_caps = [raw_caps]
                caps = [_unquote(c).lower() for c in raw_caps]
                policy = body.get("policy")  # legacy: policy = "write"
                if policy and not caps:
                    caps = _legacy_caps(_unquote(policy).lower())
            rules.append(PathRule(path=_unquote(raw_path), capabilities=frozenset(caps)))
    return rules


def _legacy_caps(policy: str) -> list[str]:
    return {
        "deny": ["deny"],
        "read": ["read", "list"],
        "write": ["create", "read", "update", "delete", "list"],
        "sudo": ["create", "read", "update", "delete", "list", "sudo"],
    }.get(policy, [])


def _segments_overlap(rule_path: str, prefix: str) -> bool:
    """Whether a policy path (trailing ``*`` glob, ``+`` segment wildcards) can match a path under ``prefix``."""
    glob = rule_path.endswith("*")
    body = rule_path[:-1] if glob else rule_path
    i = j = 0
    while i < len(body):
        if j >= len(prefix):
            return True  # the rule continues below the prefix
        is_segment_wildcard = (
            body[i] == "+" and (i == 0 or body[i - 1] == "/") and (i + 1 == len(body) or body[i + 1] == "/")
        )
        if is_segment_wildcard:
            k = prefix.find("/", j)
            if k == -1:
                return True  # the wildcard segment runs past the end of the prefix
            i, j = i + 1, k
            continue
        if body[i] != prefix[j]:
            return False
        i, j = i + 1, j + 1
    return j >= len(prefix) or glob


def judge_rule(rule: PathRule) -> tuple[Privilege | None, str]:
    caps = rule.capabilities
    if "deny" in caps or not caps:
        return None, ""
    writes = caps & WRITE_CAPS
    if is_lookup_only(rule.path):
        writes = writes - {"update"}
    sudo = "sudo" in caps
    label = f'path "{rule.path}" {sorted(caps)}'
    if rule.path in ("*", "+*", "+/*") and (writes or sudo):
        return Privilege.ADMIN, f"{label}: every path, with write or sudo"
    if rule.path in ("sys/*", "sys/+", "sys/") and sudo and writes:
        return Privilege.ADMIN, f"{label}: sudo and write on every sys/ endpoint"
    escalates = rule.path not in SELF_SERVICE_PATHS and any(
        _segments_overlap(rule.path, p) for p in ESCALATION_PREFIXES
    )
    if writes and escalates:
        return Privilege.PRIVILEGE_ESCALATION, f"{label}: write on policies, auth methods, mounts or identity"
    if sudo and writes:
        return Privilege.PRIVILEGE_ESCALATION, f"{label}: sudo with write"
    if writes:
        return Privilege.WRITE, f"{label}: write"
    if caps & (READ_CAPS | {"sudo", "update"}):
        return Privilege.READ, f"{label}: read"
    return None, ""


def judge_policy(name: str, text: str) -> PolicyVerdict:
    """The worst privilege of a named policy."""
    if name == ROOT_POLICY:
        return PolicyVerdict(name, Privilege.ADMIN, "the root policy allows every operation", ("*",))
    worst: Privilege | None = None
    reasons: list[str] = []
    permissions: list[str] = []
    for rule in parse_policy(text):
        level, reason = judge_rule(rule)
        if level is None:
            continue
        if worst is None or level.rank < worst.rank:
            worst, reasons, permissions = level, [reason], []
        elif level == worst:
            reasons.append(reason)
        if level == worst:
            permissions.append(f"{rule.path}:{','.join(sorted(rule.capabilities))}")
    if worst is None:
        return PolicyVerdict(name, None, "grants nothing")
    return PolicyVerdict(name, worst, "; ".join(reasons[:3]), tuple(permissions))


def grant_for(verdict: PolicyVerdict, *, scope: str, via: str | None = None) -> Grant | None:
    if verdict.privilege is None:
        return None
    return Grant(
        privilege=verdict.privilege,
        source=verdict.name,
        source_kind="vault-policy",
        via=via,
        resource_scope=scope,
        reason=verdict.reason,
        permissions=list(verdict.permissions),
    )
