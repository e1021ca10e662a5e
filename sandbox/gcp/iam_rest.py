"""IAM v1 REST for service accounts and their keys beyond the key listing: list/get accounts,
``:disable`` / ``:enable``, create / get / delete keys and ``:disable`` / ``:enable`` a key.

Thin wire-format layer over ``iam_writes`` (the same checks the gRPC fake makes). JSON follows Google's
(camelCase, unset fields omitted; a created key's ``privateKeyData`` is the base64 of its credentials
file). Never returns private key material except in the create response, which is the only copy.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from nhiwarden.sandbox.gcp import iam_writes
from nhiwarden.sandbox.gcp.errors import ApiError, not_found, permission_denied
from nhiwarden.sandbox.gcp.store import Key, Project, ServiceAccount, Store, paginate, rfc3339

ACCOUNTS = re.compile(r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts$")
ACCOUNT = re.compile(r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<account>[^/:]+)(?::(?P<verb>[A-Za-z]+))?$")
KEYS = re.compile(r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<account>[^/:]+)/keys$")
KEY = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<account>[^/:]+)/keys/(?P<key>[^/:]+)(?::(?P<verb>[A-Za-z]+))?$"
)
MAX_ACCOUNT_PAGE = 100


def handles(method: str, path: str) -> bool:
    """The requests this module serves (the key listing ``GET .../keys`` stays with the REST server)."""
    if method == "GET" and ACCOUNTS.match(path):
        return True
    if method == "POST" and KEYS.match(path):
        return True
    m = ACCOUNT.match(path)
    if m and ((method == "GET" and not m["verb"]) or (method == "POST" and m["verb"] in ("disable", "enable"))):
        return True
    k = KEY.match(path)
    return bool(
        k
        and (
            (method in ("GET", "DELETE") and not k["verb"]) or (method == "POST" and k["verb"] in ("disable", "enable"))
        )
    )


def route(store: Store, method: str, path: str, query: dict[str, str], body: Any, token_uri: str) -> dict[str, Any]:
    if m := ACCOUNTS.match(path):
        return _list_accounts(store, m["project"], query)
    if m := KEYS.match(path):
        return _create_key(store, m["project"], m["account"], body if isinstance(body, dict) else {}, token_uri)
    if m := ACCOUNT.match(path):
        if method == "GET":
            project, account = iam_writes.account(store, m["project"], m["account"], "iam.serviceAccounts.get")
            with store.lock:
                return account_json(project, account)
        iam_writes.set_account_disabled(store, m["project"], m["account"], disabled=m["verb"] == "disable")
        return {}
    if m := KEY.match(path):
        if method == "GET":
            owner, key = iam_writes.key(store, m["project"], m["account"], m["key"], "iam.serviceAccountKeys.get")
            project, _ = iam_writes.account(store, m["project"], m["account"], "iam.serviceAccountKeys.get")
            with store.lock:
                return key_json(project, owner, key)
        if method == "DELETE":
            iam_writes.delete_key(store, m["project"], m["account"], m["key"])
            return {}
        iam_writes.set_key_disabled(store, m["project"], m["account"], m["key"], disabled=m["verb"] == "disable")
        return {}
    raise not_found(f"The requested URL {path} was not found on this server.")


def account_json(project: Project, a: ServiceAccount) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"projects/{project.project_id}/serviceAccounts/{a.email}",
        "projectId": project.project_id,
        "uniqueId": a.unique_id,
        "email": a.email,
        "etag": "MDEwMjE5MjA=",
        "oauth2ClientId": a.unique_id,
    }
    if a.display_name:
        out["displayName"] = a.display_name
    if a.description:
        out["description"] = a.description
    if a.disabled:
        out["disabled"] = True
    return out


def key_json(project: Project, a: ServiceAccount, key: Key) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"projects/{project.project_id}/serviceAccounts/{a.email}/keys/{key.key_id}",
        "validAfterTime": rfc3339(key.created),
        "validBeforeTime": rfc3339(key.expires),
        "keyAlgorithm": key.algorithm,
        "keyOrigin": key.origin,
        "keyType": key.key_type,
    }
    if key.disabled:
        out["disabled"] = True
    return out


def _list_accounts(store: Store, project_ref: str, query: dict[str, str]) -> dict[str, Any]:
    project = store.project(project_ref)
    if project is None or project.denied:
        raise permission_denied("iam.serviceAccounts.list", f"projects/{project_ref}")
    with store.lock:
        items = [account_json(project, a) for a in project.accounts.values()]
    try:
        requested = min(int(query.get("pageSize", "0") or 0), MAX_ACCOUNT_PAGE)
    except ValueError:
        raise ApiError(400, "Invalid value for pageSize.") from None
    page = paginate(items, query.get("pageToken"), requested, store.page_size)
    if page is None:
        raise ApiError(400, "Invalid page token.")
    chunk, nxt = page
    out: dict[str, Any] = {"accounts": chunk} if chunk else {}
    if nxt:
        out["nextPageToken"] = nxt
    return out


def _create_key(
    store: Store, project_ref: str, account_ref: str, body: dict[str, Any], token_uri: str
) -> dict[str, Any]:
    key_type = body.get("privateKeyType") or "TYPE_GOOGLE_CREDENTIALS_FILE"
    algorithm = body.get("keyAlgorithm") or "KEY_ALG_RSA_2048"
    if key_type != "TYPE_GOOGLE_CREDENTIALS_FILE" or algorithm != "KEY_ALG_RSA_2048":
        raise ApiError(400, "The fake issues only TYPE_GOOGLE_CREDENTIALS_FILE / KEY_ALG_RSA_2048 keys.")
    project, account, key, info = iam_writes.create_key(store, project_ref, account_ref, token_uri)
    with store.lock:
        out = key_json(project, account, key)
    out["privateKeyType"] = key_type
    out["privateKeyData"] = base64.b64encode(json.dumps(info, indent=2).encode()).decode()
    return out
