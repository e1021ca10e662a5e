"""Run a scan: providers discover scopes concurrently, rules judge, exceptions apply, a Report results.

This module owns the failure policy: a scope that fails becomes a scope with status ``error`` and a
redacted reason while every other scope completes. It never writes to any provider.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nhiwarden import ratelimit
from nhiwarden.config import Config
from nhiwarden.errors import NhiwardenError, ScopeError
from nhiwarden.findings import Finding
from nhiwarden.model import Credential, Inventory, Scope, ScopeResult
from nhiwarden.providers import Provider, load_provider
from nhiwarden.redact import redact
from nhiwarden.report import Report, ScanInfo, ToolInfo
from nhiwarden.retry import counting_into
from nhiwarden.rules.controls import rule_pack
from nhiwarden.rules.engine import effective_params, enabled_rules, evaluate
from nhiwarden.suppressions import apply_exceptions

log = logging.getLogger("nhiwarden.scan")


@dataclass(frozen=True)
class ScopeEvent:
    """Progress: a scope started (``result`` None) or finished."""

    provider: str
    scope: str
    result: ScopeResult | None = None


@dataclass
class ScanRequest:
    providers: list[str]
    as_of: datetime
    config: Config = field(default_factory=Config)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    concurrency: int | None = None
    on_progress: Callable[[ScopeEvent], None] | None = None
    provider_classes: Mapping[str, type[Provider]] | None = None  # for embedding; default: entry points
    shard: tuple[int, int] | None = None  # (k, n): scan only the k-th of n deterministic scope partitions
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def provider_settings(request: ScanRequest, name: str) -> dict[str, Any]:
    """Config-file section for the provider, overridden by command-line values."""
    merged = dict(request.config.providers.get(name, {}))
    merged.update(request.settings.get(name, {}))
    return merged


def in_shard(provider: str, scope_id: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic partition of scopes: the same scope lands in the same shard on every machine."""
    if shard is None:
        return True
    k, n = shard
    digest = hashlib.sha256(f"{provider}:{scope_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def scope_order(providers: list[str]) -> Callable[[ScopeResult], tuple[int, str]]:
    """Report order of scopes: by requested provider, then scope id (so shards merge identically)."""
    rank = {name: i for i, name in enumerate(providers)}
    return lambda s: (rank.get(s.provider, len(rank)), s.scope)


def run_scan(request: ScanRequest) -> Report:
    started = request.clock()
    ratelimit.configure(request.config.rate_limits)
    providers = _instantiate(request)
    try:
        scopes, failed = _list_scopes(providers, request)
        results = sorted(failed + _discover_all(providers, scopes, request), key=scope_order(request.providers))
        inventory = Inventory(scopes=results)
        findings = evaluate(inventory, as_of=request.as_of, config=request.config)
        workers = request.concurrency or request.config.concurrency
        if _resolve_provisional(providers, scopes, results, findings, workers):
            findings.clear()  # free the first evaluation before the second: at scale it is hundreds of MB
            findings = evaluate(inventory, as_of=request.as_of, config=request.config)
    finally:
        for provider in providers.values():
            try:
                provider.close()
            except Exception:  # closing must never mask the scan's outcome
                log.debug("closing %s failed", provider.name, exc_info=True)
    kept, suppressed, exceptions = apply_exceptions(findings, request.config.exceptions, request.as_of)
    report = Report(
        tool=ToolInfo(rule_pack=rule_pack()),
        scan=ScanInfo(
            id=str(uuid.uuid4()),
            started_at=started,
            finished_at=request.clock(),
            as_of=request.as_of,
            parameters=scan_parameters(request),
        ),
        scopes=results,
        identities=inventory.identities,
        findings=kept,
        suppressed=suppressed,
        exceptions=exceptions,
    )
    report.summarize()
    return report


def _instantiate(request: ScanRequest) -> dict[str, Provider]:
    classes = request.provider_classes or {}
    out: dict[str, Provider] = {}
    for name in request.providers:
        cls = classes.get(name) or load_provider(name)
        raw = provider_settings(request, name)
        cls.parse_settings(raw, source=request.config.source)  # config errors name the file
        out[name] = cls(raw, as_of=request.as_of)
    return out


def _list_scopes(
    providers: dict[str, Provider], request: ScanRequest
) -> tuple[list[tuple[Provider, Scope]], list[ScopeResult]]:
    """Every (provider, scope) to scan; a provider whose scope listing fails becomes one error scope."""
    scopes: list[tuple[Provider, Scope]] = []
    failed: list[ScopeResult] = []

    def listing(provider: Provider) -> list[Scope]:
        return provider.scopes()

    with ThreadPoolExecutor(max_workers=max(1, len(providers))) as pool:
        futures = {name: pool.submit(listing, p) for name, p in providers.items()}
    for name, future in futures.items():
        try:
            found = future.result()
        except NhiwardenError as exc:
            if not isinstance(exc, ScopeError):
                raise
            failed.append(_error_result(name, "*", exc))
        except Exception as exc:
            failed.append(_error_result(name, "*", exc))
        else:
            scopes.extend(
                (providers[name], scope)
                for scope in found
                if request.config.scopes.allows(scope.provider, scope.id) and in_shard(name, scope.id, request.shard)
            )
    if request.on_progress:
        for result in failed:
            request.on_progress(ScopeEvent(result.provider, result.scope, result))
    return scopes, failed


def _error_result(provider: str, scope: str, exc: BaseException, name: str | None = None) -> ScopeResult:
    now = datetime.now(UTC)
    return ScopeResult(
        provider=provider,
        scope=scope,
        name=name,
        status="error",
        error=_reason(exc),
        started_at=now,
        finished_at=now,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ScopeError):
        return redact(f"{exc.kind}: {exc.reason}")
    return redact(f"{type(exc).__name__}: {exc}")


def _discover_all(
    providers: dict[str, Provider], scopes: list[tuple[Provider, Scope]], request: ScanRequest
) -> list[ScopeResult]:
    workers = request.concurrency or request.config.concurrency

    def one(provider: Provider, scope: Scope) -> ScopeResult:
        result = ScopeResult(provider=provider.name, scope=scope.id, name=scope.name)
        result.started_at = datetime.now(UTC)
        if request.on_progress:
            request.on_progress(ScopeEvent(provider.name, scope.id))
        try:
            with counting_into(result):
                provider.discover(scope, result)
        except Exception as exc:
            log.debug("scope %s:%s failed", provider.name, scope.id, exc_info=True)
            result.status = "error"
            result.error = _reason(exc)
            result.identities = []
        result.finished_at = datetime.now(UTC)
        if provider.name not in ratelimit.SHARED_QUOTA:
            result.rate_limited_seconds = round(ratelimit.bucket(provider.name, scope.id).waited, 3)
        result.identity_count = len(result.identities)
        result.credential_count = sum(len(i.credentials) for i in result.identities)
        if request.on_progress:
            request.on_progress(ScopeEvent(provider.name, scope.id, result))
        return result

    if not scopes:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(scopes))) as pool:
        return list(pool.map(lambda ps: one(*ps), scopes))


_LISTS_CREDENTIALS = frozenset({"multiple-active-credentials", "over-privileged"})


def _resolve_provisional(
    providers: dict[str, Provider],
    scopes: list[tuple[Provider, Scope]],
    results: list[ScopeResult],
    findings: list[Finding],
    workers: int,
) -> bool:
    """Ask providers to make provisional credentials with findings precise, all scopes concurrently.

    True if any provider was asked (the rules then run again on the precise credentials).
    """
    flagged = {f.credential.uid for f in findings if f.credential is not None}
    # Identity-level findings whose evidence lists credential ids must name real ids too.
    listing_ids = {f.identity.uid for f in findings if f.rule_id in _LISTS_CREDENTIALS}
    by_key = {(p.name, s.id): (p, s) for p, s in scopes}
    jobs: list[tuple[ScopeResult, list[Credential]]] = []
    for result in results:
        if result.status == "error":
            continue
        pending = [
            c
            for i in result.identities
            for c in i.credentials
            if c.provisional and (c.uid in flagged or i.uid in listing_ids)
        ]
        if pending:
            jobs.append((result, pending))

    def one(job: tuple[ScopeResult, list[Credential]]) -> None:
        result, pending = job
        provider, scope = by_key[(result.provider, result.scope)]
        try:
            with counting_into(result):
                provider.resolve(scope, result, pending)
        except Exception as exc:
            result.mark_partial(f"credential ids: could not resolve ({_reason(exc)})")
        result.credential_count = sum(len(i.credentials) for i in result.identities)

    if jobs:
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            list(pool.map(one, jobs))
    return bool(jobs)


def scan_parameters(request: ScanRequest) -> dict[str, Any]:
    """Exactly what the scan applied, for auditors: providers, settings, thresholds, rules, filters."""
    config = request.config
    source = config.source
    digest = None
    if source and Path(source).is_file():
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    rules = {
        r.id: {
            "severity": (config.rules[r.id].severity or r.severity) if r.id in config.rules else r.severity,
            "params": effective_params(r, config),
            "version": r.version,
        }
        for r in enabled_rules(config)
    }
    settings = {name: provider_settings(request, name) for name in request.providers}
    return {
        "providers": list(request.providers),
        "provider_settings": _redacted(settings),
        "thresholds": config.thresholds.model_dump(),
        "rules": rules,
        "include_system": config.include_system,
        "fail_on": config.fail_on.value if config.fail_on else None,
        "scope_filter": config.scopes.model_dump(),
        "concurrency": request.concurrency or config.concurrency,
        "rate_limits": config.rate_limits,
        "shard": f"{request.shard[0]}/{request.shard[1]}" if request.shard else None,
        "config_file": source,
        "config_sha256": digest,
    }


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
