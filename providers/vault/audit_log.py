"""Last use per token accessor, AppRole role and userpass user, from a Vault/OpenBao file audit log.

Vault and OpenBao keep no "last used" time anywhere in their API; only the audit log knows. This module
reads a ``file`` audit device's JSON lines (plain or gzip) in one streaming pass and keeps only the
newest time per key, so memory grows with the number of distinct tokens/roles/users, never with the
length of the log. It never keeps request or response bodies and never reads a secret: audit devices
HMAC secret values, and the fields read here (accessor, role name, username, secret-ID metadata,
namespace path, time) are identifiers.

Pure apart from reading the given file: no Vault API calls (mapping HMAC'd accessors is the caller's job).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

HMAC_PREFIX = "hmac-sha256:"
# Cheap pre-filter: only response entries count as use (every request also has a response entry).
_RESPONSE_MARK = '"type":"response"'
_MAX_META_VARIANTS_PER_ROLE = 64


@dataclass
class AuditUsage:
    """What one pass over an audit log learned; every time is UTC."""

    path: str
    lines: int = 0
    entries: int = 0
    bad_lines: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    by_accessor: dict[str, datetime] = field(default_factory=dict)
    by_role: dict[tuple[str, str], datetime] = field(default_factory=dict)
    by_user: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # Kubernetes/JWT/OIDC logins: ``auth.metadata.role``
    by_auth_role: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # (namespace, role) -> {sorted secret-ID metadata items: last time}, to tell secret-IDs apart
    by_role_metadata: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], datetime]] = field(default_factory=dict)

    @property
    def hmac_accessors(self) -> bool:
        """True when the device HMACs accessors (``hmac_accessor=true``, the default)."""
        return any(a.startswith(HMAC_PREFIX) for a in self.by_accessor)

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines": self.lines,
            "entries": self.entries,
            "bad_lines": self.bad_lines,
            "first_time": self.first_time.isoformat() if self.first_time else None,
            "last_time": self.last_time.isoformat() if self.last_time else None,
            "accessors": len(self.by_accessor),
            "hmac_accessors": self.hmac_accessors,
        }

    def role_metadata_last_use(self, namespace: str, role: str, metadata: dict[str, str]) -> datetime | None:
        """Newest use by a token whose metadata is exactly ``metadata`` (AppRole copies a secret-ID's
        metadata into the tokens it issues, next to ``role_name``)."""
        key = tuple(sorted((str(k), str(v)) for k, v in metadata.items()))
        return self.by_role_metadata.get((namespace, role), {}).get(key)


def parse_time(value: str) -> datetime:
    """RFC 3339 with nanoseconds (Go) to an aware datetime; Python keeps microseconds."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[: dot + 1] + text[dot + 1 : end][:6].ljust(6, "0") + text[end:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def open_log(path: Path) -> IO[str]:
    """Open a plain or gzip audit log as text (gzip detected by magic bytes, not by name)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def read_audit_log(path: str | Path) -> AuditUsage:
    """Stream the file once and return the newest use per accessor, role and user."""
    p = Path(path)
    with open_log(p) as handle:
        return scan_lines(handle, str(p))


def scan_lines(lines: Iterable[str], path: str = "<lines>") -> AuditUsage:
    usage = AuditUsage(path=path)
    for line in lines:
        usage.lines += 1
        if _RESPONSE_MARK not in line:
            continue
        try:
            entry = json.loads(line)
            _record(usage, entry)
        except (ValueError, TypeError, AttributeError):
            usage.bad_lines += 1
    return usage


def _record(usage: AuditUsage, entry: dict[str, Any]) -> None:
    if entry.get("type") != "response":
        return
    when = parse_time(entry["time"])
    usage.entries += 1
    if usage.first_time is None or when < usage.first_time:
        usage.first_time = when
    if usage.last_time is None or when > usage.last_time:
        usage.last_time = when
    auth = entry.get("auth") or {}
    request = entry.get("request") or {}
    namespace = _namespace_path(request.get("namespace"))
    accessor = auth.get("accessor")
    if accessor:
        _newest(usage.by_accessor, accessor, when)
    metadata = auth.get("metadata") or {}
    role = metadata.get("role_name")
    if isinstance(role, str) and role:
        _newest(usage.by_role, (namespace, role), when)
        items = tuple(sorted((k, str(v)) for k, v in metadata.items() if k != "role_name"))
        if items:
            variants = usage.by_role_metadata.setdefault((namespace, role), {})
            if items in variants or len(variants) < _MAX_META_VARIANTS_PER_ROLE:
                _newest(variants, items, when)
    auth_role = metadata.get("role")
    if isinstance(auth_role, str) and auth_role:
        _newest(usage.by_auth_role, (namespace, auth_role), when)
    user = metadata.get("username")
    if not (isinstance(user, str) and user):
        display = auth.get("display_name") or ""
        user = display[len("userpass-") :] if display.startswith("userpass-") else None
    if user:
        _newest(usage.by_user, (namespace, user), when)


def _namespace_path(namespace: Any) -> str:
    """'' for the root namespace, else the path without its trailing slash ('team-a/ci')."""
    if isinstance(namespace, dict):
        return str(namespace.get("path") or "").strip("/")
    return ""


def _newest(store: dict[Any, datetime], key: Any, when: datetime) -> None:
    old = store.get(key)
    if old is None or when > old:
        store[key] = when


def iter_entries(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every parseable JSON entry of a log (for tests and debugging)."""
    with open_log(Path(path)) as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except ValueError:
                continue
