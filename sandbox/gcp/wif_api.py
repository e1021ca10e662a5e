"""Fake IAM v1 Workload Identity Federation REST API: pools and their providers, over the shared store.

Paths, fields and behaviour follow ``projects.locations.workloadIdentityPools[.providers]``: list (paged,
``showDeleted``), get, create (``?workloadIdentityPoolId=`` / ``?workloadIdentityPoolProviderId=``,
answered with a finished long-running Operation), delete (soft: ``state`` DELETED with an
``expireTime`` 30 days on; the id cannot be reused meanwhile) and ``:undelete``. Names always carry the
project number, whichever of id or number the request used. JSON omits unset fields, as Google's does.
Never judges a trust; never logs a request body.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.sandbox.gcp.errors import ApiError, not_found, permission_denied
from nhiwarden.sandbox.gcp.store import (
    Project,
    Store,
    WorkloadIdentityPool,
    WorkloadIdentityPoolProvider,
    paginate,
    rfc3339,
)

POOLS = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<loc>[^/]+)/workloadIdentityPools(?P<rest>(?:/.*)?)$"
)
_ID = re.compile(r"^[a-z0-9-]{4,32}$")
_PROVIDER_KINDS = ("oidc", "aws", "saml", "x509")
SOFT_DELETE = timedelta(days=30)
MAX_POOL_PAGE = 1000
MAX_PROVIDER_PAGE = 100
_OP_META = "type.googleapis.com/google.iam.admin.v1.WorkloadIdentityPoolOperationMetadata"


def matches(path: str) -> bool:
    return POOLS.match(path) is not None


def route(store: Store, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
    m = POOLS.match(path)
    assert m is not None
    if m["loc"] != "global":
        raise ApiError(400, f"Invalid location: {m['loc']}. Workload identity pools exist only in 'global'.")
    project_ref = m["project"]
    rest = m["rest"]
    if "/operations/" in rest:
        if method != "GET":
            raise not_found(f"The requested URL {path} was not found on this server.")
        return {"name": path[len("/v1/") :], "done": True, "metadata": {"@type": _OP_META}}
    rest, _, verb = rest.partition(":")
    parts = [p for p in rest.split("/") if p]
    body = body if isinstance(body, dict) else {}
    key = (method, len(parts), verb)
    if parts[1:2] not in ([], ["providers"]) or len(parts) > 3:
        raise not_found(f"The requested URL {path} was not found on this server.")
    if key == ("GET", 0, ""):
        return _list_pools(store, project_ref, query)
    if key == ("POST", 0, ""):
        return _create_pool(store, project_ref, query, body)
    if key == ("GET", 1, ""):
        return _get_pool(store, project_ref, parts[0])
    if key == ("DELETE", 1, ""):
        return _delete_pool(store, project_ref, parts[0])
    if key == ("POST", 1, "undelete"):
        return _undelete_pool(store, project_ref, parts[0])
    if key == ("GET", 2, ""):
        return _list_providers(store, project_ref, parts[0], query)
    if key == ("POST", 2, ""):
        return _create_provider(store, project_ref, parts[0], query, body)
    if key == ("GET", 3, ""):
        return _get_provider(store, project_ref, parts[0], parts[2])
    if key == ("DELETE", 3, ""):
        return _delete_provider(store, project_ref, parts[0], parts[2])
    if key == ("POST", 3, "undelete"):
        return _undelete_provider(store, project_ref, parts[0], parts[2])
    raise not_found(f"The requested URL {path} was not found on this server.")


# --- JSON shapes ---------------------------------------------------------------------------------
def pool_json(project: Project, pool: WorkloadIdentityPool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": project.pool_name(pool.pool_id), "state": pool.state}
    if pool.display_name:
        out["displayName"] = pool.display_name
    if pool.description:
        out["description"] = pool.description
    if pool.disabled:
        out["disabled"] = True
    if pool.expire_time is not None:
        out["expireTime"] = rfc3339(pool.expire_time)
    return out


def provider_json(
    project: Project, pool: WorkloadIdentityPool, provider: WorkloadIdentityPoolProvider
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"{project.pool_name(pool.pool_id)}/providers/{provider.provider_id}",
        "state": provider.state,
    }
    if provider.display_name:
        out["displayName"] = provider.display_name
    if provider.description:
        out["description"] = provider.description
    if provider.disabled:
        out["disabled"] = True
    if provider.attribute_mapping:
        out["attributeMapping"] = dict(provider.attribute_mapping)
    if provider.attribute_condition:
        out["attributeCondition"] = provider.attribute_condition
    if provider.expire_time is not None:
        out["expireTime"] = rfc3339(provider.expire_time)
    for kind in ("oidc", "aws", "saml"):
        value = getattr(provider, kind)
        if value is not None:
            out[kind] = {k: (list(v) if isinstance(v, list) else v) for k, v in value.items()}
    return out


def _operation(resource_name: str, response: dict[str, Any] | None, type_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"{resource_name}/operations/{secrets.token_hex(16)}",
        "metadata": {"@type": _OP_META},
        "done": True,
    }
    if response is not None:
        out["response"] = {"@type": f"type.googleapis.com/google.iam.admin.v1.{type_name}", **response}
    else:
        out["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
    return out


# --- lookups -------------------------------------------------------------------------------------
def _project(store: Store, ref: str, permission: str) -> Project:
    project = store.project(ref)
    if project is None or project.denied:
        raise permission_denied(permission, f"projects/{ref}")
    if project.pools_denied:
        raise permission_denied(permission, f"projects/{project.project_id}")
    return project


def _pool(store: Store, ref: str, pool_id: str, permission: str) -> tuple[Project, WorkloadIdentityPool]:
    project = _project(store, ref, permission)
    pool = project.pools.get(pool_id)
    if pool is None:
        raise not_found("Requested entity was not found.")
    return project, pool


def _provider(
    store: Store, ref: str, pool_id: str, provider_id: str, permission: str
) -> tuple[Project, WorkloadIdentityPool, WorkloadIdentityPoolProvider]:
    project, pool = _pool(store, ref, pool_id, permission)
    provider = pool.providers.get(provider_id)
    if provider is None:
        raise not_found("Requested entity was not found.")
    return project, pool, provider


def _page(store: Store, items: list[dict[str, Any]], query: dict[str, str], field: str, cap: int) -> dict[str, Any]:
    try:
        requested = int(query.get("pageSize", "0") or 0)
    except ValueError:
        raise ApiError(400, "Invalid value for pageSize.") from None
    requested = min(requested, cap)  # Google truncates larger values to the maximum
    page = paginate(items, query.get("pageToken"), requested, min(store.page_size, cap))
    if page is None:
        raise ApiError(400, "Invalid page token.")
    chunk, nxt = page
    out: dict[str, Any] = {field: chunk} if chunk else {}
    if nxt:
        out["nextPageToken"] = nxt
    return out


def _show_deleted(query: dict[str, str]) -> bool:
    return query.get("showDeleted", "false").lower() == "true"


def _valid_id(value: str | None, what: str) -> str:
    if not value:
        raise ApiError(400, f"{what} is required.")
    if not _ID.match(value) or value.startswith("gcp-"):
        raise ApiError(
            400,
            f"Invalid {what} '{value}': must be 4 to 32 lowercase letters, digits or hyphens and must not "
            "start with 'gcp-'.",
        )
    return value


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- pools ---------------------------------------------------------------------------------------
def _list_pools(store: Store, ref: str, query: dict[str, str]) -> dict[str, Any]:
    with store.lock:
        project = _project(store, ref, "iam.workloadIdentityPools.list")
        items = [
            pool_json(project, p)
            for p in sorted(project.pools.values(), key=lambda p: p.pool_id)
            if p.state == "ACTIVE" or _show_deleted(query)
        ]
    return _page(store, items, query, "workloadIdentityPools", MAX_POOL_PAGE)


def _get_pool(store: Store, ref: str, pool_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool = _pool(store, ref, pool_id, "iam.workloadIdentityPools.get")
        return pool_json(project, pool)


def _create_pool(store: Store, ref: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    pool_id = _valid_id(query.get("workloadIdentityPoolId"), "workloadIdentityPoolId")
    if len(str(body.get("displayName") or "")) > 32:
        raise ApiError(400, "displayName must be at most 32 characters.")
    with store.lock:
        project = _project(store, ref, "iam.workloadIdentityPools.create")
        if pool_id in project.pools:  # also while soft-deleted: undelete it instead
            raise ApiError(409, "Requested entity already exists", status_name="ALREADY_EXISTS")
        pool = project.add_pool(
            WorkloadIdentityPool(
                pool_id,
                display_name=str(body.get("displayName") or ""),
                description=str(body.get("description") or ""),
                disabled=bool(body.get("disabled")),
            )
        )
        return _operation(project.pool_name(pool_id), pool_json(project, pool), "WorkloadIdentityPool")


def _delete_pool(store: Store, ref: str, pool_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool = _pool(store, ref, pool_id, "iam.workloadIdentityPools.delete")
        if pool.state == "DELETED":
            raise ApiError(400, "The workload identity pool is already deleted.", status_name="FAILED_PRECONDITION")
        pool.state, pool.expire_time = "DELETED", _now() + SOFT_DELETE
        return _operation(project.pool_name(pool_id), pool_json(project, pool), "WorkloadIdentityPool")


def _undelete_pool(store: Store, ref: str, pool_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool = _pool(store, ref, pool_id, "iam.workloadIdentityPools.undelete")
        if pool.state != "DELETED":
            raise ApiError(400, "The workload identity pool is not deleted.", status_name="FAILED_PRECONDITION")
        pool.state, pool.expire_time = "ACTIVE", None
        return _operation(project.pool_name(pool_id), pool_json(project, pool), "WorkloadIdentityPool")


# --- providers -----------------------------------------------------------------------------------
def _list_providers(store: Store, ref: str, pool_id: str, query: dict[str, str]) -> dict[str, Any]:
    with store.lock:
        project, pool = _pool(store, ref, pool_id, "iam.workloadIdentityPoolProviders.list")
        items = [
            provider_json(project, pool, p)
            for p in sorted(pool.providers.values(), key=lambda p: p.provider_id)
            if p.state == "ACTIVE" or _show_deleted(query)
        ]
    return _page(store, items, query, "workloadIdentityPoolProviders", MAX_PROVIDER_PAGE)


def _get_provider(store: Store, ref: str, pool_id: str, provider_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool, provider = _provider(store, ref, pool_id, provider_id, "iam.workloadIdentityPoolProviders.get")
        return provider_json(project, pool, provider)


def _create_provider(
    store: Store, ref: str, pool_id: str, query: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    provider_id = _valid_id(query.get("workloadIdentityPoolProviderId"), "workloadIdentityPoolProviderId")
    kinds = [k for k in _PROVIDER_KINDS if body.get(k)]
    if len(kinds) != 1:
        raise ApiError(400, "Exactly one of oidc, aws, saml or x509 must be set.")
    mapping = body.get("attributeMapping") or {}
    if not isinstance(mapping, dict):
        raise ApiError(400, "attributeMapping must be a map of strings.")
    oidc = body.get("oidc")
    if oidc is not None:
        issuer = str(oidc.get("issuerUri") or "")
        if not issuer.startswith("https://"):
            raise ApiError(400, "oidc.issuerUri must be a valid https URL.")
        if "google.subject" not in mapping:
            raise ApiError(400, "attributeMapping must contain a mapping for google.subject.")
    condition = body.get("attributeCondition")
    if condition is not None and not isinstance(condition, str):
        raise ApiError(400, "attributeCondition must be a string.")
    with store.lock:
        project, pool = _pool(store, ref, pool_id, "iam.workloadIdentityPoolProviders.create")
        if pool.state == "DELETED":
            raise ApiError(400, "The workload identity pool is deleted.", status_name="FAILED_PRECONDITION")
        if provider_id in pool.providers:
            raise ApiError(409, "Requested entity already exists", status_name="ALREADY_EXISTS")
        provider = pool.add(
            WorkloadIdentityPoolProvider(
                provider_id,
                display_name=str(body.get("displayName") or ""),
                description=str(body.get("description") or ""),
                disabled=bool(body.get("disabled")),
                attribute_mapping={str(k): str(v) for k, v in mapping.items()},
                attribute_condition=condition or None,
                oidc=dict(oidc) if oidc is not None else None,
                aws=dict(body["aws"]) if body.get("aws") else None,
                saml=dict(body["saml"]) if body.get("saml") else None,
            )
        )
        name = f"{project.pool_name(pool_id)}/providers/{provider_id}"
        return _operation(name, provider_json(project, pool, provider), "WorkloadIdentityPoolProvider")


def _delete_provider(store: Store, ref: str, pool_id: str, provider_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool, provider = _provider(
            store, ref, pool_id, provider_id, "iam.workloadIdentityPoolProviders.delete"
        )
        if provider.state == "DELETED":
            raise ApiError(
                400, "The workload identity pool provider is already deleted.", status_name="FAILED_PRECONDITION"
            )
        provider.state, provider.expire_time = "DELETED", _now() + SOFT_DELETE
        name = f"{project.pool_name(pool_id)}/providers/{provider_id}"
        return _operation(name, provider_json(project, pool, provider), "WorkloadIdentityPoolProvider")


def _undelete_provider(store: Store, ref: str, pool_id: str, provider_id: str) -> dict[str, Any]:
    with store.lock:
        project, pool, provider = _provider(
            store, ref, pool_id, provider_id, "iam.workloadIdentityPoolProviders.undelete"
        )
        if provider.state != "DELETED":
            raise ApiError(
                400, "The workload identity pool provider is not deleted.", status_name="FAILED_PRECONDITION"
            )
        provider.state, provider.expire_time = "ACTIVE", None
        name = f"{project.pool_name(pool_id)}/providers/{provider_id}"
        return _operation(name, provider_json(project, pool, provider), "WorkloadIdentityPoolProvider")
