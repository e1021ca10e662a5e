"""The fake apiserver's object store: etcd-like keys, resourceVersions, paging and two controllers.

Owns the objects of one fake cluster: it assigns ``uid``, ``resourceVersion`` and
``creationTimestamp`` like the apiserver, lists in key order (namespace/name) with label and field
selectors, ``limit`` and opaque ``continue`` tokens, expires old tokens on "compaction", and emulates
the two controllers governance tests depend on: ClusterRole aggregation and deletion of a
ServiceAccount's legacy token Secrets. Thread-safe. Never does I/O.

Tests may seed thousands of objects with ``put`` directly (no HTTP) to stay fast.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nhiwarden.sandbox.kubernetes.resources import RESOURCES, Resource, resource_for
from nhiwarden.sandbox.kubernetes.selectors import (
    match_label_selector,
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
)

Obj = dict[str, Any]


class ContinueExpired(Exception):
    """The continue token refers to a compacted resourceVersion (the server answers 410 Expired)."""

    def __init__(self, fresh_token: str) -> None:
        super().__init__("continue token expired")
        self.fresh_token = fresh_token


class BadContinue(ValueError):
    """The continue token cannot be decoded (the server answers 400)."""


@dataclass
class Page:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining: int | None


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
        start = str(data["start"])
        return int(data["rv"]), start[:-1] if start.endswith("\x00") else start
    except (ValueError, KeyError, TypeError) as exc:
        raise BadContinue(f"continue key is not valid: {exc}") from None


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


class Store:
    """All objects of one fake cluster."""

    def __init__(self, clock: datetime | None = None) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, Obj]] = {r.key: {} for r in RESOURCES}
        self._sorted: dict[str, list[str] | None] = {r.key: None for r in RESOURCES}
        self._rv = 1
        self.compacted_rv = 0
        self.clock = clock  # creationTimestamp for new objects; None = real time

    # -- revisions ---------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def compact(self) -> None:
        """Forget history: every continue token issued so far now gets 410 Expired."""
        with self._lock:
            self._rv += 1
            self.compacted_rv = self._rv

    def _now(self) -> str:
        return _rfc3339(self.clock or datetime.now(UTC))

    # -- writes ------------------------------------------------------------------------------
    def put(self, obj: Obj, *, controllers: bool = True, owned: bool = False) -> Obj:
        """Create or replace an object without validation (seeding); returns the stored copy.

        ``owned``: the caller hands the object over (no defensive copy in, none out).
        """
        res = resource_for(obj["apiVersion"], obj["kind"])
        stored = obj if owned else copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if not res.namespaced:
            meta.pop("namespace", None)
        elif not meta.get("namespace"):
            meta["namespace"] = "default"
        with self._lock:
            bucket = self._objects[res.key]
            key = object_key(stored)
            old = bucket.get(key)
            meta.setdefault("uid", (old or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self._now())
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            if key not in bucket:
                self._sorted[res.key] = None
            bucket[key] = stored
            if controllers and res.plural == "clusterroles":
                self._aggregate()
        return stored if owned else copy.deepcopy(stored)

    def put_many(self, objs: Iterable[Obj]) -> None:
        """Seed many objects fast: the store takes ownership of them; controllers run once at the end."""
        for obj in objs:
            self.put(obj, controllers=False, owned=True)
        with self._lock:
            self._aggregate()

    def delete(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            key = f"{namespace}/{name}" if res.namespaced else name
            obj = self._objects[res.key].pop(key, None)
            if obj is None:
                return None
            self._sorted[res.key] = None
            self._rv += 1
            if res.plural == "serviceaccounts":
                self._delete_legacy_tokens(obj)
            if res.plural == "clusterroles":
                self._aggregate()
            return obj

    def _delete_legacy_tokens(self, sa: Obj) -> None:
        """The tokens controller deletes an account's token Secrets with the account."""
        meta = sa["metadata"]
        secrets = self._objects["/secrets"]
        for key, secret in list(secrets.items()):
            ann = secret["metadata"].get("annotations") or {}
            if (
                secret.get("type") == "kubernetes.io/service-account-token"
                and secret["metadata"].get("namespace") == meta.get("namespace")
                and ann.get("kubernetes.io/service-account.name") == meta["name"]
            ):
                del secrets[key]
                self._sorted["/secrets"] = None

    def _aggregate(self) -> None:
        """The clusterrole-aggregation controller: fill ``rules`` of aggregated ClusterRoles."""
        roles = self._objects["rbac.authorization.k8s.io/clusterroles"]
        for role in roles.values():
            agg = role.get("aggregationRule")
            if not agg:
                continue
            rules: list[Obj] = []
            for other in sorted(roles.values(), key=lambda r: r["metadata"]["name"]):
                if other is role or other.get("aggregationRule"):
                    continue
                labels = other["metadata"].get("labels") or {}
                if any(match_label_selector(sel, labels) for sel in agg.get("clusterRoleSelectors") or []):
                    for r in other.get("rules") or []:
                        if r not in rules:
                            rules.append(copy.deepcopy(r))
            role["rules"] = rules

    # -- reads -------------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            key = f"{namespace}/{name}" if res.namespaced else name
            obj = self._objects[res.key].get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def exists(self, res: Resource, namespace: str | None, name: str) -> bool:
        with self._lock:
            key = f"{namespace}/{name}" if res.namespaced else name
            return key in self._objects[res.key]

    def count(self, res: Resource) -> int:
        with self._lock:
            return len(self._objects[res.key])

    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        copy_items: bool = True,
    ) -> Page:
        """One page in key order. Raises SelectorError, BadContinue or ContinueExpired.

        ``copy_items=False`` returns the stored objects themselves: the caller must not mutate them.
        """
        labels_ok = parse_label_selector(label_selector)
        fields_ok = parse_field_selector(field_selector, res.selectable)
        with self._lock:
            bucket = self._objects[res.key]
            keys = self._sorted[res.key]
            if keys is None:
                keys = sorted(bucket)
                self._sorted[res.key] = keys
            list_rv = self._rv
            start_index = 0
            if continue_token:
                token_rv, start = _decode_continue(continue_token)
                if token_rv < self.compacted_rv:
                    raise ContinueExpired(_encode_continue(self._rv, start))
                list_rv = token_rv
                start_index = bisect.bisect_right(keys, start)
            prefix = f"{namespace}/" if namespace and res.namespaced else ""
            if prefix and start_index == 0:
                start_index = bisect.bisect_left(keys, prefix)
            items: list[Obj] = []
            last_key = ""
            more = False
            filtered = bool(label_selector or field_selector)
            for i in range(start_index, len(keys)):
                key = keys[i]
                if prefix and not key.startswith(prefix):
                    break
                obj = bucket[key]
                if filtered:
                    if not labels_ok(obj["metadata"].get("labels") or {}):
                        continue
                    if not fields_ok(selectable_fields(res.plural, obj)):
                        continue
                if limit and len(items) >= limit:
                    more = True
                    break
                items.append(copy.deepcopy(obj) if copy_items else obj)
                last_key = key
            remaining: int | None = None
            if more and not filtered:
                end = len(keys)
                if prefix:
                    end = bisect.bisect_left(keys, prefix[:-1] + "0")  # '0' sorts right after '/'
                remaining = end - (bisect.bisect_left(keys, last_key) + 1)
            token = _encode_continue(list_rv, last_key) if more else ""
            return Page(items=items, resource_version=str(list_rv), continue_token=token, remaining=remaining)

    def namespace_exists(self, name: str) -> bool:
        return self.exists(resource_for("v1", "Namespace"), None, name)
