"""Over-privilege analysis of IAM policy documents into Grants. Pure: no I/O, no clock.

Owns what counts as admin, admin-equivalent and privilege escalation on AWS. Handles Action and
NotAction, a string or a list, and wildcards (``iam:Put*``). Deny statements are noted on the grants
they may restrict but are not fully evaluated (nor are conditions, permission boundaries or SCPs), so a
grant here means "an Allow says so", which is what an auditor needs to look at.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nhiwarden.model import Grant, Privilege

CIS_ADMIN = "CIS-AWS-1.16"
ADMIN_POLICIES = frozenset({"AdministratorAccess"})
IAM_FULL_POLICIES = frozenset({"IAMFullAccess"})

# Actions that alone let an identity raise its own privileges. The flag says whether the Allow must
# cover every resource ("*") to count: minting a key for oneself is routine, for anyone it is not.
SINGLE_ESCALATIONS: tuple[tuple[str, bool, str], ...] = (
    ("iam:CreateAccessKey", True, "can create access keys for any user"),
    ("iam:CreateLoginProfile", True, "can set a console password for any user"),
    ("iam:UpdateLoginProfile", True, "can change any user's console password"),
    ("iam:AttachUserPolicy", False, "can attach any managed policy to a user"),
    ("iam:AttachGroupPolicy", False, "can attach any managed policy to a group"),
    ("iam:AttachRolePolicy", False, "can attach any managed policy to a role"),
    ("iam:PutUserPolicy", False, "can write an inline policy on a user"),
    ("iam:PutGroupPolicy", False, "can write an inline policy on a group"),
    ("iam:PutRolePolicy", False, "can write an inline policy on a role"),
    ("iam:CreatePolicyVersion", False, "can rewrite a managed policy"),
    ("iam:SetDefaultPolicyVersion", False, "can switch a managed policy to another version"),
    ("iam:UpdateAssumeRolePolicy", False, "can let itself assume a role"),
    ("iam:AddUserToGroup", False, "can add a user to a more privileged group"),
    ("sts:AssumeRole", True, "can assume any role that trusts the account"),
)
# iam:PassRole combined with an action that runs code as the passed role.
PASSROLE_COMBOS: tuple[tuple[str, str], ...] = (
    ("ec2:RunInstances", "can launch an instance with a more privileged role"),
    ("lambda:CreateFunction", "can create a function that runs as a more privileged role"),
    ("lambda:UpdateFunctionConfiguration", "can switch a function to a more privileged role"),
    ("cloudformation:CreateStack", "can create a stack that runs as a more privileged role"),
    ("glue:CreateDevEndpoint", "can create a Glue endpoint with a more privileged role"),
    ("glue:CreateJob", "can create a Glue job that runs as a more privileged role"),
    ("ecs:RunTask", "can run a task with a more privileged role"),
    ("codebuild:CreateProject", "can create a build that runs as a more privileged role"),
    ("sagemaker:CreateNotebookInstance", "can create a notebook with a more privileged role"),
    ("datapipeline:CreatePipeline", "can create a pipeline that runs as a more privileged role"),
)
_READ_VERBS = (
    "get", "list", "describe", "view", "read", "batchget", "head", "search", "query", "lookup", "scan",
    "select", "check", "verify", "validate", "preview", "estimate", "filter", "poll", "simulate", "export",
    "download", "retrieve", "detect", "evaluate", "discover", "count", "compare", "partiqlselect",
)  # fmt: skip
# AWS-managed policies that only read, whatever verbs their long action lists use.
READ_ONLY_POLICIES = frozenset({"ReadOnlyAccess", "ViewOnlyAccess", "SecurityAudit"})


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy document that applies to an identity, and how it gets there."""

    name: str
    kind: str  # aws-managed-policy | managed-policy | inline-policy
    document: dict[str, Any]
    via: str | None = None  # e.g. group/admins
    arn: str | None = None


@dataclass
class Statement:
    effect: str
    actions: list[str] | None
    not_actions: list[str] | None
    resources: list[str] | None
    not_resources: list[str] | None
    conditional: bool

    def matches_action(self, action: str) -> bool:
        action = action.lower()
        if self.actions is not None:
            return any(fnmatch.fnmatchcase(action, p.lower()) for p in self.actions)
        if self.not_actions is not None:
            return not any(fnmatch.fnmatchcase(action, p.lower()) for p in self.not_actions)
        return False

    def could_apply(self, action: str) -> bool:
        """Whether any Resource could name something ``action`` acts on (by the ARN's service field)."""
        if self.not_resources is not None:
            return True
        service = action.split(":", 1)[0].lower()
        wanted = {"iam"} if service in {"iam", "sts"} else {service}
        for resource in self.resources or []:
            if resource.strip() == "*":
                return True
            parts = resource.lower().split(":")
            arn_service = parts[2] if len(parts) > 2 else ""
            if arn_service in wanted or "*" in arn_service or "?" in arn_service:
                return True
        return False

    @property
    def all_resources(self) -> bool:
        if self.not_resources is not None:
            return True  # everything except a few resources: treat as broad
        return any(r == "*" for r in self.resources or [])

    def covers_service(self, service: str) -> bool:
        """Whether the statement allows every action of ``service`` (``iam:*``, ``*``, NotAction ...)."""
        if self.actions is not None:
            return any(fnmatch.fnmatchcase(f"{service}:*", p.lower()) for p in self.actions)
        if self.not_actions is not None:
            return not any(
                p.lower().startswith(f"{service}:") or fnmatch.fnmatchcase(f"{service}:x", p.lower())
                for p in self.not_actions
            )
        return False

    @property
    def all_actions(self) -> bool:
        return self.actions is not None and any(p.strip() in {"*", "*:*"} for p in self.actions)


def _list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def statements(document: dict[str, Any]) -> list[Statement]:
    raw = document.get("Statement") if isinstance(document, dict) else None
    items = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        out.append(
            Statement(
                effect=str(item.get("Effect", "")).capitalize(),
                actions=_list(item.get("Action")),
                not_actions=_list(item.get("NotAction")),
                resources=_list(item.get("Resource")),
                not_resources=_list(item.get("NotResource")),
                conditional=bool(item.get("Condition")),
            )
        )
    return out


@dataclass
class _Allowed:
    """Which risky actions a policy allows, with the resource condition already applied."""

    policy: AttachedPolicy
    actions: dict[str, bool] = field(default_factory=dict)  # action -> on all resources


def _allowed_risky(policy: AttachedPolicy, allows: list[Statement]) -> _Allowed:
    found = _Allowed(policy)
    candidates = [a for a, _, _ in SINGLE_ESCALATIONS] + ["iam:PassRole"] + [a for a, _ in PASSROLE_COMBOS]
    for action in candidates:
        for stmt in allows:
            if stmt.matches_action(action) and stmt.could_apply(action):
                found.actions[action] = found.actions.get(action, False) or stmt.all_resources
    return found


def _source_kind(policy: AttachedPolicy) -> str:
    return policy.kind


def _grant(policy: AttachedPolicy, privilege: Privilege, reason: str, permissions: list[str]) -> Grant:
    return Grant(
        privilege=privilege,
        source=policy.name,
        source_kind=_source_kind(policy),
        via=policy.via,
        resource_scope=policy.arn,
        reason=reason,
        permissions=permissions,
        controls=[CIS_ADMIN] if privilege is Privilege.ADMIN else [],
    )


def _escalations(found: _Allowed) -> list[tuple[str, str]]:
    """(permission label, why) pairs for every escalation path in one policy's allowed actions."""
    out = []
    for action, needs_all, why in SINGLE_ESCALATIONS:
        if action in found.actions and (found.actions[action] or not needs_all):
            label = f"{action} on *" if found.actions[action] else action
            out.append((label, why))
    if "iam:PassRole" in found.actions:
        for action, why in PASSROLE_COMBOS:
            if action in found.actions:
                out.append((f"iam:PassRole + {action}", why))
    return out


def _is_read_only(stmt: Statement) -> bool:
    if stmt.actions is None:
        return False
    for pattern in stmt.actions:
        _, _, verb = pattern.lower().partition(":")
        if not verb or not verb.startswith(_READ_VERBS):
            return False
    return True


def analyse_policy(policy: AttachedPolicy) -> tuple[Grant | None, _Allowed]:
    """The worst grant one policy gives on its own, and its risky allowed actions."""
    stmts = statements(policy.document)
    allows = [s for s in stmts if s.effect == "Allow"]
    found = _allowed_risky(policy, allows)
    if policy.kind == "aws-managed-policy" and policy.name in ADMIN_POLICIES:
        return _grant(policy, Privilege.ADMIN, "AWS-managed AdministratorAccess: Action * on Resource *", ["*"]), found
    for stmt in allows:
        if stmt.all_actions and stmt.all_resources:
            return _grant(policy, Privilege.ADMIN, "Allow Action * on Resource *", ["*"]), found
    if policy.kind == "aws-managed-policy" and policy.name in IAM_FULL_POLICIES:
        return (
            _grant(policy, Privilege.ADMIN, "AWS-managed IAMFullAccess: iam:* can grant itself anything", ["iam:*"]),
            found,
        )
    for stmt in allows:
        if stmt.covers_service("iam") and stmt.all_resources:
            how = "NotAction leaves iam:* allowed" if stmt.actions is None else "Allow iam:* on Resource *"
            return _grant(
                policy, Privilege.ADMIN, f"{how}: admin-equivalent, it can grant itself anything", ["iam:*"]
            ), found
    paths = _escalations(found)
    if paths:
        reason = "privilege escalation: " + "; ".join(f"{label} ({why})" for label, why in paths)
        return _grant(policy, Privilege.PRIVILEGE_ESCALATION, reason, [label for label, _ in paths]), found
    if not allows:
        return None, found
    read_only_name = policy.name in READ_ONLY_POLICIES or policy.name.endswith("ReadOnlyAccess")
    if (policy.kind == "aws-managed-policy" and read_only_name) or all(_is_read_only(s) for s in allows):
        return _grant(policy, Privilege.READ, "only Get/List/Describe-style actions", []), found
    return _grant(policy, Privilege.WRITE, "allows actions that change resources", []), found


def _cross_policy_combos(allowed: list[_Allowed], grants: list[Grant]) -> list[Grant]:
    """iam:PassRole in one policy and a compute action in another still add up to escalation."""
    passers = [a for a in allowed if "iam:PassRole" in a.actions]
    if not passers:
        return []
    out: list[Grant] = []
    already = {p for g in grants for p in g.permissions}
    for action, why in PASSROLE_COMBOS:
        label = f"iam:PassRole + {action}"
        if label in already:
            continue
        runners = [a for a in allowed if action in a.actions]
        if not runners:
            continue
        passer, runner = passers[0].policy, runners[0].policy
        out.append(
            Grant(
                privilege=Privilege.PRIVILEGE_ESCALATION,
                source=f"{passer.name} + {runner.name}",
                source_kind="policy-combination",
                via=passer.via or runner.via,
                reason=f"privilege escalation: {label} ({why}), across two policies",
                permissions=[label],
            )
        )
    return out


def _deny_note(grant: Grant, denies: list[tuple[AttachedPolicy, Statement]]) -> Grant:
    actions = [p.split(" ")[0] for perm in grant.permissions for p in perm.split(" + ")]
    for policy, stmt in denies:
        if any(stmt.matches_action(a if a != "*" else "iam:CreateAccessKey") for a in actions):
            note = f" (a Deny in {policy.name} may restrict this; Deny statements are not fully evaluated)"
            return grant.model_copy(update={"reason": grant.reason + note})
    return grant


_Analysis = tuple[Grant | None, _Allowed, list[Statement]]
_analysed: dict[tuple[str, str, str | None, str], _Analysis] = {}
_analysed_lock = threading.Lock()


def _analysis(policy: AttachedPolicy) -> _Analysis:
    """``analyse_policy`` and the Deny statements, once per distinct policy and attachment path.

    One policy is attached to many identities (``ReadOnlyAccess`` alone has thousands of action
    patterns); its analysis does not depend on the identity, so a scan does the work once.
    """
    document = policy.arn or json.dumps(policy.document, sort_keys=True)
    key = (policy.kind, policy.name, policy.via, document)
    with _analysed_lock:
        hit = _analysed.get(key)
    if hit is None:
        grant, found = analyse_policy(policy)
        hit = (grant, found, [s for s in statements(policy.document) if s.effect == "Deny"])
        with _analysed_lock:
            _analysed[key] = hit
    return hit


def analyse(policies: Iterable[AttachedPolicy]) -> list[Grant]:
    """Grants for every policy that applies to an identity, worst first, plus cross-policy escalation."""
    policies = list(policies)
    grants: list[Grant] = []
    allowed: list[_Allowed] = []
    denies: list[tuple[AttachedPolicy, Statement]] = []
    for policy in policies:
        grant, found, deny_statements = _analysis(policy)
        allowed.append(found)
        if grant is not None:
            grants.append(grant)  # shared by every identity the policy is attached to: never mutated
        denies.extend((policy, s) for s in deny_statements)
    if not any(g.privilege is Privilege.ADMIN for g in grants):
        grants.extend(_cross_policy_combos(allowed, grants))
    if denies:
        grants = [_deny_note(g, denies) for g in grants]
    return sorted(grants, key=lambda g: (g.privilege.rank, g.source))
