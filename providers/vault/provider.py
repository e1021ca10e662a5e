"""The Vault/OpenBao provider: scopes (address + namespace, child namespaces when asked) and discovery.

Imported only when the provider is loaded; hvac itself is imported inside the API client, so
``nhiwarden --help`` never pays for it. Read-only; the token never leaves ``settings.read_token``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from nhiwarden.errors import ScopeError
from nhiwarden.model import Scope, ScopeResult
from nhiwarden.providers.base import CallLog, DoctorCheck, Permission, Provider, ProviderSettings
from nhiwarden.providers.vault.audit_log import AuditUsage, read_audit_log
from nhiwarden.providers.vault.settings import VaultSettings, read_token
from nhiwarden.redact import redact

PERMISSIONS: tuple[Permission, ...] = (
    Permission("read auth/token/lookup-self", "check the scanner's own token before scanning"),
    Permission(
        "list+sudo auth/token/accessors",
        "enumerate every token; Vault only lists token accessors with sudo (the list lets a holder of "
        "revoke-accessor revoke tokens, which this policy does not grant)",
    ),
    Permission("update auth/token/lookup-accessor", "policies, TTL, expiry, orphan, period, meta per token"),
    Permission("read sys/auth", "find AppRole and userpass mounts"),
    Permission("read+sudo sys/audit", "check that an audit device is enabled (sys/audit needs sudo)"),
    Permission(
        "update sys/audit-hash/*",
        "match accessors in an audit log written with hmac_accessor=true",
        optional=True,
    ),
    Permission("read sys/policies/acl/*", "resolve each identity's policies to a privilege level"),
    Permission("list auth/<approle>/role, read auth/<approle>/role/*", "AppRole roles and their settings"),
    Permission(
        "list auth/<approle>/role/*/secret-id, update .../secret-id-accessor/lookup",
        "secret-ID accessors: creation, expiry, TTL 0 = never expires, uses, metadata",
    ),
    Permission("list auth/<userpass>/users, read auth/<userpass>/users/*", "userpass machine accounts"),
    Permission("read sys/mounts", "find KV v2 mounts"),
    Permission(
        "list <kv>/metadata/*, read <kv>/subkeys/*",
        "field names (values nulled) and version age of KV secrets; never <kv>/data/*",
    ),
    Permission("list sys/namespaces", "walk child namespaces (--vault-recursive-namespaces)", optional=True),
    Permission("update sys/capabilities-self", "`nhiwarden doctor` checks the token's capabilities", optional=True),
)

DOCTOR_PATHS = {
    "auth/token/accessors": {"list", "sudo"},
    "auth/token/lookup-accessor": {"update"},
    "sys/auth": {"read"},
    "sys/audit": {"read", "sudo"},
    "sys/policies/acl/default": {"read"},
    "sys/mounts": {"read"},
}


class VaultProvider(Provider):
    name: ClassVar[str] = "vault"
    title: ClassVar[str] = "HashiCorp Vault / OpenBao"
    Settings: ClassVar[type[ProviderSettings]] = VaultSettings
    permissions: ClassVar[tuple[Permission, ...]] = PERMISSIONS

    def __init__(self, settings: Any = None, *, as_of: Any) -> None:
        super().__init__(settings, as_of=as_of)
        self._usage_lock = threading.Lock()
        self._usage: AuditUsage | None = None
        self._usage_problem: str | None = None
        self._usage_loaded = False
        self.sleep: Callable[[float], None] = time.sleep  # retry back-off; tests inject a no-op

    @property
    def vault_settings(self) -> VaultSettings:
        assert isinstance(self.settings, VaultSettings)
        return self.settings

    # -- scopes ------------------------------------------------------------------------------------

    def _api(self, namespace: str, result: ScopeResult) -> Any:
        from nhiwarden.providers.vault.client import VaultApi
        from nhiwarden.retry import RetryPolicy

        token, _where = read_token()
        s = self.vault_settings
        return VaultApi(
            s.resolved_addr(),
            token,
            namespace=namespace or None,
            calls=CallLog(result),
            retry=RetryPolicy(attempts=4, base_delay=0.2, max_delay=5.0, sleep=self.sleep),
            verify=s.resolved_ca(),
        )

    @staticmethod
    def scope_id(addr: str, namespace: str) -> str:
        return f"{addr}/{namespace}" if namespace else addr

    def scopes(self) -> list[Scope]:
        s = self.vault_settings
        addr = s.resolved_addr()
        root_ns = s.resolved_namespace()
        namespaces = [root_ns]
        if s.recursive_namespaces:
            namespaces = self._walk_namespaces(root_ns)
        return [
            Scope(
                provider=self.name,
                id=self.scope_id(addr, ns),
                name=f"{addr} namespace {ns}" if ns else addr,
                params={"addr": addr, "namespace": ns},
            )
            for ns in namespaces
        ]

    def _walk_namespaces(self, start: str) -> list[str]:
        from nhiwarden.providers.vault.client import NotFound, PermissionDenied

        probe = ScopeResult(provider=self.name, scope=self.scope_id(self.vault_settings.resolved_addr(), start))
        found = [start]
        queue = [start]
        while queue:
            ns = queue.pop(0)
            api = self._api(ns, probe)
            try:
                info = api.list_with_info("sys/namespaces", "sys/namespaces (list)")
            except PermissionDenied:
                raise ScopeError(
                    f"cannot list child namespaces of {ns or 'root'}: permission denied on sys/namespaces",
                    kind="permission",
                ) from None
            except NotFound:
                info = {}
            finally:
                api.close()
            key_info = info.get("key_info") or {}
            for key in sorted(info.get("keys") or []):
                child = f"{ns}/{key}" if ns else str(key)
                full = str((key_info.get(key) or {}).get("path") or child).strip("/")
                if full not in found:
                    found.append(full)
                    queue.append(full)
        return found

    # -- discovery ---------------------------------------------------------------------------------

    def _load_usage(self) -> tuple[AuditUsage | None, str | None]:
        with self._usage_lock:
            if not self._usage_loaded:
                self._usage_loaded = True
                path = self.vault_settings.audit_log
                if path is not None:
                    try:
                        self._usage = read_audit_log(Path(path).expanduser())
                    except OSError as exc:
                        self._usage_problem = f"audit log {path} unreadable: {exc.strerror or type(exc).__name__}"
                    except EOFError:
                        self._usage_problem = f"audit log {path} is a truncated gzip file"
            return self._usage, self._usage_problem

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        from nhiwarden.providers.vault.discover import NamespaceScan, ScopeTarget

        s = self.vault_settings
        addr = str(scope.params.get("addr") or s.resolved_addr())
        namespace = str(scope.params.get("namespace") or "")
        usage, problem = self._load_usage()
        api = self._api(namespace, result)
        try:
            NamespaceScan(
                api,
                ScopeTarget(addr=addr, namespace=namespace, scope_id=scope.id),
                result,
                usage=usage,
                usage_problem=redact(problem) if problem else None,
                kv_mounts=s.kv_mounts,
                max_items=s.max_items,
                audit_log_name=Path(s.audit_log).name if s.audit_log else None,
                workers=s.lookup_concurrency,
            ).run()
        finally:
            api.close()

    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        from nhiwarden.providers.vault.client import PermissionDenied

        result = ScopeResult(provider=self.name, scope=scope.id)
        checks: list[DoctorCheck] = []
        try:
            api = self._api(str(scope.params.get("namespace") or ""), result)
        except Exception as exc:  # ConfigError: no token
            return [DoctorCheck(scope=scope.id, check="token", ok=False, detail=redact(exc))]
        try:
            api.get("auth/token/lookup-self", "auth/token/lookup-self")
            checks.append(DoctorCheck(scope=scope.id, check="token", ok=True, detail="token accepted"))
            data = api.post("sys/capabilities-self", {"paths": sorted(DOCTOR_PATHS)}, "sys/capabilities-self")
            for path, needed in sorted(DOCTOR_PATHS.items()):
                have = set(data.get(path) or data.get("capabilities") or [])
                ok = "root" in have or needed <= have
                detail = f"has {sorted(have)}" if ok else f"needs {sorted(needed)}, has {sorted(have)}"
                checks.append(DoctorCheck(scope=scope.id, check=path, ok=ok, detail=detail))
        except PermissionDenied as exc:
            checks.append(DoctorCheck(scope=scope.id, check="token", ok=False, detail=str(exc)))
        except ScopeError as exc:
            checks.append(DoctorCheck(scope=scope.id, check="connect", ok=False, detail=exc.reason))
        finally:
            api.close()
        log = self.vault_settings.audit_log
        if log is None:
            detail, ok = "not given (optional): no unused/dormant verdicts for Vault", True
        else:
            log_path = Path(log).expanduser()
            ok = log_path.is_file() and os.access(log_path, os.R_OK)
            detail = f"{log_path} readable" if ok else f"{log_path} missing or unreadable"
        checks.append(DoctorCheck(scope=scope.id, check="audit log", ok=ok, detail=detail))
        return checks
