"""Discover one Vault/OpenBao namespace into the normalized model.

Owns the translation of Vault's objects into Identities, Credentials and Grants:
tokens (accessor list + lookup-accessor), AppRole roles and their secret-ID accessors, userpass users,
ACL policies (resolved to privilege levels), audit devices (scope attributes), and KV v2 secrets that
hold static cloud credentials (found from field names via ``subkeys`` and metadata; values are never
read). Last use comes only from the audit log (``AuditUsage``), never guessed.

A 403 on one path marks the scope partial with the reason and goes on; a server that is down or a
refused token raises ``ScopeError``. Never writes, never reads a secret value.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, TypeVar

from nhiwarden.errors import ScopeError
from nhiwarden.model import Credential, Grant, Identity, ScopeResult
from nhiwarden.providers.vault.audit_log import AuditUsage, parse_time
from nhiwarden.providers.vault.client import BadRequest, NotFound, PermissionDenied, VaultApi
from nhiwarden.providers.vault.kv_classify import (
    KEY_ID_KEYS,
    OWNER_KEYS,
    classify_fields,
    classify_path,
    flatten_names,
    metadata_value,
)
from nhiwarden.providers.vault.policies import (
    PolicyParseError,
    PolicyVerdict,
    grant_for,
    judge_policy,
)
from nhiwarden.providers.vault.trust import trust_from_role
from nhiwarden.redact import redact

PROVIDER = "vault"
USAGE_SOURCE = "vault-audit-log"
NEVER = "0001-01-01T00:00:00Z"
R = TypeVar("R")
_DENIED: dict[str, Any] = {"__denied__": True}


@dataclass
class ScopeTarget:
    """What to scan: the address, namespace path ('' = root) and the public scope id."""

    addr: str
    namespace: str
    scope_id: str

    @property
    def prefix(self) -> str:
        return f"vault:{self.scope_id}"


@dataclass
class _Mounts:
    approle: list[str] = field(default_factory=list)
    userpass: list[str] = field(default_factory=list)
    federated: list[tuple[str, str]] = field(default_factory=list)  # (mount path, kubernetes|jwt|oidc)


FEDERATED_TYPES = {"kubernetes": "vault-k8s-auth-role", "jwt": "vault-jwt-role", "oidc": "vault-jwt-role"}


def _ts(value: Any) -> datetime | None:
    if value in (None, "", 0, NEVER):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    try:
        when = parse_time(str(value))
    except ValueError:
        return None
    return None if when.year <= 1 else when


def _clean(value: Any) -> Any:
    """Plain JSON for attributes, with any secret-shaped text masked."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


class NamespaceScan:
    """One pass over one namespace; fills ``result``."""

    def __init__(
        self,
        api: VaultApi,
        target: ScopeTarget,
        result: ScopeResult,
        *,
        usage: AuditUsage | None,
        usage_problem: str | None,
        kv_mounts: list[str],
        max_items: int,
        audit_log_name: str | None,
        workers: int = 1,
    ) -> None:
        self.api = api
        self.target = target
        self.result = result
        self.usage = usage
        self.usage_problem = usage_problem
        self.kv_mounts = [m.strip("/") + "/" for m in kv_mounts if m.strip("/")]
        self.max_items = max_items
        self.audit_log_name = audit_log_name
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._policies: dict[str, PolicyVerdict | None] = {}
        self._accessor_hash: dict[str, str] = {}
        self.identities: dict[str, Identity] = {}

    # -- helpers -----------------------------------------------------------------------------------

    def _partial(self, signal: str) -> None:
        with self._lock:
            self.result.mark_partial(redact(signal))

    def _map(self, fn: Callable[[str], R], items: list[str]) -> list[R]:
        """``fn`` over ``items`` in order, on up to ``workers`` threads (per-item lookups only)."""
        if self.workers == 1 or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _list(self, what: str, path: str, action: str) -> list[str]:
        """LIST one folder; a 403 marks the scope partial with the reason and yields nothing."""
        try:
            return self.api.list(path, action)
        except PermissionDenied as exc:
            self._partial(f"{what}: permission denied on {exc.path}")
            return []

    def _capped(self, what: str, items: list[str]) -> list[str]:
        if len(items) > self.max_items:
            self._partial(f"{what}: {len(items)} found, only the first {self.max_items} looked up (max_items)")
            return items[: self.max_items]
        return items

    # -- entry -------------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            me = self.api.get("auth/token/lookup-self", "auth/token/lookup-self")
        except PermissionDenied:
            raise ScopeError(
                f"Vault at {self.target.addr} refused the token (403): expired, revoked or not valid in "
                f"namespace {self.target.namespace or 'root'}",
                kind="auth",
            ) from None
        except NotFound:
            raise ScopeError(
                f"namespace {self.target.namespace!r} not found at {self.target.addr}", kind="not-found"
            ) from None
        self.result.attributes["namespace"] = self.target.namespace
        self.result.attributes["scanner_accessor"] = me.get("accessor")
        mounts = self._auth_mounts()
        self._audit_devices()
        self._usage_attributes()
        for mount in mounts.approle:
            self._approle(mount)
        for mount in mounts.userpass:
            self._userpass(mount)
        for mount, kind in mounts.federated:
            self._federated(mount, kind)
        self._tokens(mounts)
        self._kv()
        identities = list(self.identities.values())
        self.result.identities.extend(identities)
        self.result.identity_count = len(identities)
        self.result.credential_count = sum(len(i.credentials) for i in identities)

    # -- scope-level facts -------------------------------------------------------------------------

    def _auth_mounts(self) -> _Mounts:
        found = _Mounts()
        try:
            data = self.api.get("sys/auth", "sys/auth")
        except PermissionDenied:
            self._partial("auth-methods: permission denied on sys/auth; assumed approle/ and userpass/")
            return _Mounts(approle=["approle/"], userpass=["userpass/"])
        for path, info in sorted(data.items()):
            kind = (info or {}).get("type") if isinstance(info, dict) else None
            if kind == "approle":
                found.approle.append(path)
            elif kind == "userpass":
                found.userpass.append(path)
            elif kind in FEDERATED_TYPES:
                found.federated.append((path, str(kind)))
        self.result.attributes["auth_methods"] = sorted(
            f"{p}:{(i or {}).get('type')}" for p, i in data.items() if isinstance(i, dict)
        )
        return found

    def _audit_devices(self) -> None:
        if self.target.namespace:
            self.result.skipped.append("audit devices: configured in the root namespace only")
            return
        try:
            data = self.api.get("sys/audit", "sys/audit")
        except PermissionDenied:
            self._partial("audit-devices: permission denied on sys/audit (needs read + sudo)")
            self.result.attributes["audit_devices"] = None
            return
        except NotFound:
            self.result.attributes["audit_devices"] = None
            return
        devices = []
        for path, info in sorted(data.items()):
            if not isinstance(info, dict):
                continue
            options = info.get("options") or {}
            devices.append(
                {
                    "path": path,
                    "type": info.get("type"),
                    "file_path": redact(options.get("file_path")) if options.get("file_path") else None,
                    "hmac_accessor": str(options.get("hmac_accessor", "true")).lower() != "false",
                }
            )
        self.result.attributes["audit_devices"] = devices

    def _usage_attributes(self) -> None:
        if self.usage is None:
            reason = self.usage_problem or (
                "no audit log given (--vault-audit-log); Vault/OpenBao record last use only in the audit log"
            )
            self._partial(f"last-used: {reason}")
            self.result.attributes["usage_signal"] = None
            self.result.attributes["usage_signal_missing"] = redact(reason)
            return
        self.result.attributes["usage_signal"] = {"source": USAGE_SOURCE, **_clean(self.usage.summary())}

    # -- policies ----------------------------------------------------------------------------------

    def _verdict(self, name: str) -> PolicyVerdict | None:
        if name in self._policies:
            return self._policies[name]
        verdict: PolicyVerdict | None
        if name == "root":
            verdict = judge_policy("root", "")
        else:
            try:
                data = self.api.get(f"sys/policies/acl/{name}", "sys/policies/acl/<name>")
                verdict = judge_policy(name, str(data.get("policy") or data.get("rules") or ""))
            except PermissionDenied as exc:
                self._partial(f"grants: permission denied on {exc.path}; policies not resolved")
                verdict = None
            except NotFound:
                verdict = None  # a token may name a policy that does not exist: it grants nothing
            except PolicyParseError as exc:
                self._partial(f"grants: policy {name!r} could not be parsed ({exc})")
                verdict = None
        self._policies[name] = verdict
        return verdict

    def _grants(self, policies: list[str], via: str | None = None) -> list[Grant]:
        grants = []
        for name in sorted(set(policies)):
            verdict = self._verdict(name)
            grant = grant_for(verdict, scope=self.target.scope_id, via=via) if verdict else None
            if grant is not None:
                grants.append(grant)
        return grants

    # -- usage -------------------------------------------------------------------------------------

    def _usage_fields(self, last: datetime | None) -> dict[str, Any]:
        if self.usage is None:
            return {"last_used_at": None, "last_used_source": None, "last_used_tracking_since": None}
        return {
            "last_used_at": last,
            "last_used_source": USAGE_SOURCE,
            "last_used_tracking_since": self.usage.first_time,
        }

    def _token_last_use(self, accessor: str) -> datetime | None:
        if self.usage is None:
            return None
        key = self._accessor_hash.get(accessor, accessor)
        return self.usage.by_accessor.get(key)

    def _hash_accessors(self, accessors: list[str]) -> None:
        """Map accessors to the HMACs the audit device logged (``hmac_accessor=true``, the default)."""
        if self.usage is None or not self.usage.hmac_accessors or not accessors:
            return
        devices = self.result.attributes.get("audit_devices") or []
        device = _pick_device(devices, self.audit_log_name)
        if device is None:
            self._partial("last-used: the audit log HMACs accessors and no audit device is readable to hash them")
            return
        for accessor in accessors:
            try:
                data = self.api.post(
                    f"sys/audit-hash/{device.strip('/')}", {"input": accessor}, "sys/audit-hash/<device>"
                )
            except (PermissionDenied, NotFound, BadRequest) as exc:
                self._partial(f"last-used: cannot hash accessors with sys/audit-hash ({type(exc).__name__})")
                return
            hashed = data.get("hash")
            if isinstance(hashed, str):
                self._accessor_hash[accessor] = hashed

    # -- AppRole -----------------------------------------------------------------------------------

    def _approle(self, mount: str) -> None:
        base = f"auth/{mount}"
        roles = self._list(f"approle {mount}", f"{base}role", f"{base}role (list)")
        for role in self._capped(f"approle {mount} roles", roles):
            self._one_role(base, role)

    def _one_role(self, base: str, role: str) -> None:
        uid = f"{self.target.prefix}:{base}role/{role}"
        try:
            info = self.api.get(f"{base}role/{role}", f"{base}role/<role>")
        except PermissionDenied as exc:
            self._partial(f"approle: permission denied on {exc.path}")
            info = {}
        except NotFound:
            return  # deleted between LIST and GET
        policies = list(info.get("token_policies") or info.get("policies") or [])
        if not info.get("token_no_default_policy") and "default" not in policies:
            policies.append("default")
        ns = self.target.namespace
        role_last = self.usage.by_role.get((ns, role)) if self.usage else None
        accessors = self._list(
            f"approle {role} secret-ids", f"{base}role/{role}/secret-id", f"{base}role/<role>/secret-id (list)"
        )

        def lookup(accessor: str) -> dict[str, Any] | None:
            try:
                return self.api.post(
                    f"{base}role/{role}/secret-id-accessor/lookup",
                    {"secret_id_accessor": accessor},
                    f"{base}role/<role>/secret-id-accessor/lookup",
                )
            except PermissionDenied:
                return _DENIED
            except (NotFound, BadRequest):
                return None  # expired between LIST and lookup

        found = self._map(lookup, self._capped(f"approle {role} secret-ids", accessors))
        if any(data is _DENIED for data in found):
            self._partial(f"approle: permission denied on {base}role/{role}/secret-id-accessor/lookup")
        lookups = [data for data in found if data is not None and data is not _DENIED]
        signatures = [tuple(sorted((data.get("metadata") or {}).items())) for data in lookups]
        credentials = []
        for data, signature in zip(lookups, signatures, strict=True):
            accessor = str(data.get("secret_id_accessor") or "")
            metadata = {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}
            ttl = int(data.get("secret_id_ttl") or 0)
            usage_fields = {"last_used_at": None, "last_used_source": None, "last_used_tracking_since": None}
            attribution = "none: the audit log names the role, not the secret-ID"
            if self.usage is not None and metadata and signatures.count(signature) == 1:
                usage_fields = self._usage_fields(self.usage.role_metadata_last_use(ns, role, metadata))
                attribution = "secret-ID metadata in login entries"
            credentials.append(
                Credential(
                    uid=f"{uid}:secret-id/{accessor}",
                    kind="vault-secret-id",
                    id=accessor,
                    name=f"{role} secret-id",
                    created_at=_ts(data.get("creation_time")),
                    expires_at=_ts(data.get("expiration_time")),
                    static=ttl == 0,
                    **usage_fields,
                    attributes=_clean(
                        {
                            "secret_id_ttl": ttl,
                            "never_expires": ttl == 0,
                            "secret_id_num_uses": data.get("secret_id_num_uses"),
                            "cidr_list": data.get("cidr_list") or [],
                            "metadata": metadata,
                            "last_updated_time": data.get("last_updated_time"),
                            "usage_attribution": attribution,
                        }
                    ),
                )
            )
        owner = next(
            (metadata_value(c.attributes.get("metadata"), OWNER_KEYS) for c in credentials if c.attributes),
            None,
        )
        self.identities[uid] = Identity(
            uid=uid,
            provider=PROVIDER,
            kind="vault-approle",
            scope=self.target.scope_id,
            name=role,
            **self._usage_fields(role_last),
            owner=owner,
            grants=self._grants(policies, via=f"{base}role/{role}"),
            credentials=credentials,
            attributes=_clean(
                {
                    "mount": base,
                    "bind_secret_id": info.get("bind_secret_id", True),
                    "secret_id_ttl": info.get("secret_id_ttl"),
                    "secret_id_num_uses": info.get("secret_id_num_uses"),
                    "secret_id_bound_cidrs": info.get("secret_id_bound_cidrs") or [],
                    "token_bound_cidrs": info.get("token_bound_cidrs") or [],
                    "token_ttl": info.get("token_ttl"),
                    "token_max_ttl": info.get("token_max_ttl"),
                    "token_period": info.get("token_period"),
                    "token_type": info.get("token_type"),
                    "policies": sorted(set(policies)),
                }
            ),
        )

    # -- userpass ----------------------------------------------------------------------------------

    def _userpass(self, mount: str) -> None:
        base = f"auth/{mount}"
        users = self._list(f"userpass {mount}", f"{base}users", f"{base}users (list)")
        for user in self._capped(f"userpass {mount} users", users):
            try:
                info = self.api.get(f"{base}users/{user}", f"{base}users/<user>")
            except PermissionDenied as exc:
                self._partial(f"userpass: permission denied on {exc.path}")
                info = {}
            except NotFound:
                continue
            policies = list(info.get("token_policies") or info.get("policies") or [])
            if not info.get("token_no_default_policy") and "default" not in policies:
                policies.append("default")
            uid = f"{self.target.prefix}:{base}users/{user}"
            last = self.usage.by_user.get((self.target.namespace, user)) if self.usage else None
            usage_fields = self._usage_fields(last)
            password = Credential(
                uid=f"{uid}:password",
                kind="vault-userpass",
                id=user,
                name=f"userpass password of {user}",
                static=True,
                interactive=False,
                **usage_fields,
                attributes={"note": "userpass records no creation or password-change time"},
            )
            self.identities[uid] = Identity(
                uid=uid,
                provider=PROVIDER,
                kind="vault-userpass",
                scope=self.target.scope_id,
                name=user,
                **usage_fields,
                grants=self._grants(policies, via=f"{base}users/{user}"),
                credentials=[password],
                attributes=_clean(
                    {
                        "mount": base,
                        "token_ttl": info.get("token_ttl"),
                        "token_bound_cidrs": info.get("token_bound_cidrs") or [],
                        "policies": sorted(set(policies)),
                    }
                ),
            )

    # -- Kubernetes / JWT / OIDC auth roles (federated: no secret of their own) ----------------------

    def _federated(self, mount: str, kind: str) -> None:
        base = f"auth/{mount}"
        roles = self._list(f"{kind} {mount}", f"{base}role", f"{base}role (list)")
        for role in self._capped(f"{kind} {mount} roles", roles):
            try:
                info = self.api.get(f"{base}role/{role}", f"{base}role/<role>")
            except PermissionDenied as exc:
                self._partial(f"{kind}: permission denied on {exc.path}")
                info = {}
            except NotFound:
                continue
            policies = list(info.get("token_policies") or info.get("policies") or [])
            if not info.get("token_no_default_policy") and "default" not in policies:
                policies.append("default")
            uid = f"{self.target.prefix}:{base}role/{role}"
            last = self.usage.by_auth_role.get((self.target.namespace, role)) if self.usage else None
            binding = {
                "bound_service_account_names": info.get("bound_service_account_names"),
                "bound_service_account_namespaces": info.get("bound_service_account_namespaces"),
                "bound_service_account_namespace_selector": info.get("bound_service_account_namespace_selector"),
                "role_type": info.get("role_type"),
                "bound_subject": info.get("bound_subject"),
                "bound_claims": info.get("bound_claims"),
                "bound_claims_type": info.get("bound_claims_type"),
                "bound_audiences": info.get("bound_audiences"),
                "user_claim": info.get("user_claim"),
            }
            self.identities[uid] = Identity(
                uid=uid,
                provider=PROVIDER,
                kind=FEDERATED_TYPES[kind],
                scope=self.target.scope_id,
                name=role,
                **self._usage_fields(last),
                grants=self._grants(policies, via=f"{base}role/{role}"),
                trusts=(
                    # The issuer is configured on the mount; the role's bindings are what the audit judges.
                    [trust_from_role(info, issuer=f"{self.target.prefix}:{base}", source=f"{base}role/{role}")]
                    if kind in ("jwt", "oidc")
                    else []
                ),
                attributes=_clean(
                    {
                        "mount": base,
                        "auth_type": kind,
                        "policies": sorted(set(policies)),
                        "token_ttl": info.get("token_ttl"),
                        "token_bound_cidrs": info.get("token_bound_cidrs") or [],
                        **{k: v for k, v in binding.items() if v not in (None, "", [], {})},
                    }
                ),
            )

    # -- tokens ------------------------------------------------------------------------------------

    def _tokens(self, mounts: _Mounts) -> None:
        try:
            accessors = self.api.list("auth/token/accessors", "auth/token/accessors (list)")
        except PermissionDenied:
            self._partial("tokens: permission denied on auth/token/accessors (listing token accessors needs 'sudo')")
            return
        accessors = self._capped("tokens", accessors)
        self._hash_accessors(accessors)

        def lookup(accessor: str) -> dict[str, Any] | None:
            try:
                return self.api.post("auth/token/lookup-accessor", {"accessor": accessor}, "auth/token/lookup-accessor")
            except PermissionDenied:
                return _DENIED
            except (BadRequest, NotFound):
                return None  # revoked or expired between LIST and lookup

        found = self._map(lookup, accessors)
        if any(data is _DENIED for data in found):
            self._partial("tokens: permission denied on auth/token/lookup-accessor")
        for accessor, data in zip(accessors, found, strict=True):
            if data is not None and data is not _DENIED:
                self._one_token(accessor, data, mounts)

    def _one_token(self, accessor: str, data: dict[str, Any], mounts: _Mounts) -> None:
        policies = [str(p) for p in data.get("policies") or []]
        period = int(data.get("period") or 0)
        expire = _ts(data.get("expire_time"))
        never_expires = expire is None and int(data.get("ttl") or 0) == 0
        path = str(data.get("path") or "")
        meta = {str(k): str(v) for k, v in (data.get("meta") or {}).items()}
        usage_fields = self._usage_fields(self._token_last_use(accessor))
        attributes = _clean(
            {
                "path": path,
                "display_name": data.get("display_name"),
                "policies": policies,
                "root": "root" in policies,
                "orphan": bool(data.get("orphan")),
                "period": period,
                "ttl": data.get("ttl"),
                "creation_ttl": data.get("creation_ttl"),
                "explicit_max_ttl": data.get("explicit_max_ttl"),
                "expire_time": data.get("expire_time"),
                "never_expires": never_expires,
                "renewable": data.get("renewable"),
                "num_uses": data.get("num_uses"),
                "type": data.get("type"),
                "entity_id": data.get("entity_id") or None,
                "meta": meta,
                "last_renewal_time": data.get("last_renewal_time"),
                "scanner": accessor == self.result.attributes.get("scanner_accessor"),
            }
        )
        identity_policies = sorted({str(p) for p in data.get("identity_policies") or []})
        if identity_policies:
            attributes["identity_policies"] = identity_policies
        entity_via = f"identity entity {data.get('entity_id')} (entity and group policies)"
        owner_uid = self._login_owner(path, meta, mounts)
        base_uid = owner_uid or f"{self.target.prefix}:auth/token/accessor/{accessor}"
        credential = Credential(
            uid=f"{base_uid}:token/{accessor}",
            kind="vault-token",
            id=accessor,
            name=str(data.get("display_name") or "token"),
            created_at=_ts(data.get("creation_time")),
            expires_at=None if period else expire,
            static=never_expires or period > 0,
            **usage_fields,
            attributes=attributes,
        )
        if owner_uid:
            owner = self.identities[owner_uid]
            owner.credentials.append(credential)
            have = {(g.source, g.via) for g in owner.grants}
            owner.grants.extend(
                g for g in self._grants(identity_policies, via=entity_via) if (g.source, g.via) not in have
            )
            return
        self.identities[base_uid] = Identity(
            uid=base_uid,
            provider=PROVIDER,
            kind="vault-token",
            scope=self.target.scope_id,
            name=str(data.get("display_name") or accessor),
            created_at=credential.created_at,
            **usage_fields,
            owner=metadata_value(meta, OWNER_KEYS),
            tags=meta,
            grants=self._grants(policies) + self._grants(identity_policies, via=entity_via),
            credentials=[credential],
            attributes=attributes,
        )

    def _login_owner(self, path: str, meta: dict[str, str], mounts: _Mounts) -> str | None:
        """The AppRole role or userpass user a login token belongs to, when that identity was found."""
        for mount in mounts.approle:
            if path == f"auth/{mount}login" and meta.get("role_name"):
                uid = f"{self.target.prefix}:auth/{mount}role/{meta['role_name']}"
                return uid if uid in self.identities else None
        for mount, _kind in mounts.federated:
            if path == f"auth/{mount}login" and meta.get("role"):
                uid = f"{self.target.prefix}:auth/{mount}role/{meta['role']}"
                return uid if uid in self.identities else None
        for mount in mounts.userpass:
            prefix = f"auth/{mount}login/"
            if path.startswith(prefix):
                uid = f"{self.target.prefix}:auth/{mount}users/{path[len(prefix) :]}"
                return uid if uid in self.identities else None
        return None

    # -- KV v2 -------------------------------------------------------------------------------------

    def _kv(self) -> None:
        mounts = self._kv_v2_mounts()
        budget = [self.max_items]
        for mount in mounts:
            paths = list(self._walk(mount, "", budget))
            fetched = self._map(functools.partial(self._fetch_secret, mount), paths)
            for path, secret in zip(paths, fetched, strict=True):
                if secret is not None:
                    self._one_secret(mount, path, *secret)

    def _kv_v2_mounts(self) -> list[str]:
        try:
            data = self.api.get("sys/mounts", "sys/mounts")
        except PermissionDenied:
            if self.kv_mounts:
                return self.kv_mounts
            self._partial("kv: permission denied on sys/mounts; name KV v2 mounts with --vault-kv-mounts")
            return []
        found = sorted(
            path
            for path, info in data.items()
            if isinstance(info, dict)
            and info.get("type") == "kv"
            and str((info.get("options") or {}).get("version")) == "2"
        )
        if self.kv_mounts:
            missing = [m for m in self.kv_mounts if m not in found]
            if missing:
                self.result.skipped.append(f"kv: not KV v2 mounts here: {', '.join(missing)}")
            return [m for m in self.kv_mounts if m in found]
        return found

    def _walk(self, mount: str, prefix: str, budget: list[int]) -> Iterator[str]:
        try:
            keys = self.api.list(f"{mount}metadata/{prefix}", "<kv>/metadata (list)")
        except PermissionDenied as exc:
            self._partial(f"kv: permission denied on {exc.path}")
            return
        for key in sorted(keys):
            if key.endswith("/"):
                yield from self._walk(mount, prefix + key, budget)
                continue
            if budget[0] <= 0:
                self._partial(f"kv: more than max_items secrets; stopped at {mount}{prefix}{key}")
                return
            budget[0] -= 1
            yield prefix + key

    def _fetch_secret(
        self, mount: str, path: str
    ) -> tuple[list[str] | None, dict[str, Any], datetime | None, Any] | None:
        """Field names (None when only metadata is readable), metadata, current version time and number."""
        try:
            data = self.api.get(f"{mount}subkeys/{path}", "<kv>/subkeys/<path>")
        except NotFound:
            return None  # current version deleted or destroyed: nothing usable is stored
        except PermissionDenied:
            self._partial(f"kv-fields: permission denied on {mount}subkeys/*; classified by path only")
        else:
            meta = data.get("metadata") or {}
            names = flatten_names(data.get("subkeys") or {})
            return names, meta, _ts(meta.get("created_time")), meta.get("version")
        try:
            full = self.api.get(f"{mount}metadata/{path}", "<kv>/metadata/<path>")
        except (PermissionDenied, NotFound):
            return None
        version = full.get("current_version")
        current = (full.get("versions") or {}).get(str(version)) or {}
        if current.get("deletion_time") or current.get("destroyed"):
            return None
        return None, {"custom_metadata": full.get("custom_metadata")}, _ts(current.get("created_time")), version

    def _one_secret(
        self,
        mount: str,
        path: str,
        names: list[str] | None,
        meta: dict[str, Any],
        created: datetime | None,
        version: Any,
    ) -> None:
        kind = classify_fields(path, names) if names is not None else classify_path(path)
        if kind is None:
            return
        custom = meta.get("custom_metadata") or {}
        location = f"vault:{self.target.scope_id}:{mount}{path}"
        uid = f"{self.target.prefix}:kv/{mount}{path}"
        key_id = metadata_value(custom, KEY_ID_KEYS)
        credential = Credential(
            uid=f"{uid}:{kind.kind}",
            kind=kind.kind,
            id=redact(key_id) if key_id else f"{mount}{path}",
            name=f"{kind.cloud} credential in {mount}{path}",
            created_at=created,
            static=True,
            locations=[location],
            attributes=_clean(
                {
                    "cloud": kind.cloud,
                    "classified_by": kind.reason if names is not None else f"{kind.reason} (no field names)",
                    "fields": sorted(names) if names is not None else None,
                    "kv_version": version,
                    "age_from": "created_time of the current version",
                }
            ),
        )
        self.identities[uid] = Identity(
            uid=uid,
            provider=PROVIDER,
            kind="vault-kv-secret",
            scope=self.target.scope_id,
            name=f"{mount}{path}",
            created_at=created,
            owner=metadata_value(custom, OWNER_KEYS),
            tags={str(k): redact(str(v)) for k, v in custom.items()},
            credentials=[credential],
            attributes={"mount": mount, "path": path, "cloud": kind.cloud},
        )


def _pick_device(devices: list[dict[str, Any]], log_name: str | None) -> str | None:
    if not devices:
        return None
    if log_name:
        for device in devices:
            if device.get("file_path") and PurePosixPath(str(device["file_path"])).name == log_name:
                return str(device["path"])
    files = [d for d in devices if d.get("type") == "file"]
    return str((files or devices)[0]["path"])
