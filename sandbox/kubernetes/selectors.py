"""Label and field selectors as the kube-apiserver parses and applies them.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a)``, ``k``, ``!k``, joined by
commas. Field selectors: ``f=v``, ``f==v``, ``f!=v`` over a per-kind whitelist. Also the structured
``LabelSelector`` (matchLabels/matchExpressions) that aggregated ClusterRoles use. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any


class SelectorError(ValueError):
    """The selector cannot be parsed or names an unsupported field (the server answers 400)."""


Predicate = Callable[[Mapping[str, str]], bool]


def _test(key: str, op: str, values: frozenset[str] = frozenset()) -> Predicate:
    """One requirement: ``op`` is in, notin, eq, ne, exists or absent."""

    def check(labels: Mapping[str, str]) -> bool:
        value = labels.get(key)
        if op in ("in", "eq"):
            return value in values
        if op in ("notin", "ne"):
            return value not in values
        return (key in labels) is (op == "exists")

    return check


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQ = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (s.strip() for s in parts) if p]


def parse_label_selector(selector: str | None) -> Predicate:
    """A predicate over an object's labels; an empty selector matches everything."""
    if not selector or not selector.strip():
        return lambda _labels: True
    tests: list[Predicate] = []
    for term in _split(selector):
        if m := _SET.match(term):
            key, values = m["key"], {v.strip() for v in m["values"].split(",") if v.strip()}
            tests.append(_test(key, m["op"], frozenset(values)))
        elif m := _EQ.match(term):
            key, value = m["key"], m["value"]
            tests.append(_test(key, "ne" if m["op"] == "!=" else "eq", frozenset({value})))
        elif m := _EXISTS.match(term):
            key = m["key"]
            tests.append(_test(key, "absent" if m["neg"] else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(t(labels) for t in tests)


def parse_field_selector(selector: str | None, allowed: tuple[str, ...]) -> Predicate:
    """A predicate over an object's selectable fields; unknown fields raise ``SelectorError``."""
    if not selector or not selector.strip():
        return lambda _fields: True
    tests: list[Predicate] = []
    for term in _split(selector):
        m = re.match(r"^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{term}'")
        field, op, value = m.groups()
        if field not in allowed:
            only = ", ".join(f'"{a}"' for a in allowed)
            raise SelectorError(f'"{field}" is not a known field selector: only {only}')
        tests.append(_test(field, "ne" if op == "!=" else "eq", frozenset({value})))
    return lambda fields: all(t(fields) for t in tests)


def match_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Structured ``metav1.LabelSelector`` semantics; an empty selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selectable_fields(resource_plural: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The field values a field selector may test, as the apiserver renders them (strings)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
    if resource_plural == "secrets":
        fields["type"] = obj.get("type", "Opaque")
    elif resource_plural == "pods":
        fields["spec.nodeName"] = spec.get("nodeName", "")
        fields["spec.restartPolicy"] = spec.get("restartPolicy", "Always")
        fields["spec.schedulerName"] = spec.get("schedulerName", "default-scheduler")
        fields["spec.serviceAccountName"] = spec.get("serviceAccountName", "")
        fields["spec.hostNetwork"] = str(bool(spec.get("hostNetwork", False))).lower()
        fields["status.phase"] = status.get("phase", "")
        fields["status.podIP"] = status.get("podIP", "")
        fields["status.podIPs"] = status.get("podIP", "")
        fields["status.nominatedNodeName"] = status.get("nominatedNodeName", "")
    elif resource_plural == "namespaces":
        fields["status.phase"] = status.get("phase", "Active")
    elif resource_plural == "nodes":
        fields["spec.unschedulable"] = str(bool(spec.get("unschedulable", False))).lower()
    elif resource_plural == "replicasets":
        fields["status.replicas"] = str(status.get("replicas", 0))
    elif resource_plural == "jobs":
        fields["status.successful"] = str(status.get("succeeded", 0))
    return fields
