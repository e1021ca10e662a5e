"""Fake Google REST APIs on one loopback HTTP server, for real google-auth / GAPIC REST clients.

Serves, from the shared ``Store``: the OAuth token endpoint (``POST /token``, verifying the service
account's signed JWT assertion against the scanner's key and every enabled key of an enabled account),
IAM v1 key listing with exposure status, account and key writes (``iam_rest``), workload identity
pools and providers (``wif_api``), a service account's getIamPolicy/setIamPolicy (``sa_policy``),
Policy Analyzer activity queries, and Resource Manager v3 project/folder search and getIamPolicy.
Every answer uses Google's paths, field names, paging and error envelopes. It never returns private
key material (except a created key's one copy) and never logs an access token.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from nhiwarden.sandbox.gcp import iam_rest, sa_policy, wif_api
from nhiwarden.sandbox.gcp.errors import (
    ApiError,
    from_fault,
    not_found,
    permission_denied,
    service_disabled,
    unauthenticated,
)
from nhiwarden.sandbox.gcp.store import Binding, LoggedRequest, Project, Store, paginate, rfc3339

KEYS = re.compile(r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<account>[^/]+)/keys$")
ACTIVITIES = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<loc>[^/]+)/activityTypes/(?P<type>[^/]+)/activities:query$"
)
GET_POLICY = re.compile(r"^/v3/(?P<kind>projects|folders|organizations)/(?P<id>[^/:]+):getIamPolicy$")
ACTIVITY_TYPES = {
    "serviceAccountLastAuthentication": "policyanalyzer.serviceAccountLastAuthenticationActivities.query",
    "serviceAccountKeyLastAuthentication": "policyanalyzer.serviceAccountKeyLastAuthenticationActivities.query",
}
FILTER = re.compile(r'^activities\.(?:full_resource_name|fullResourceName)\s*=\s*"(?P<name>[^"]+)"$')


class RestServer:
    """A ThreadingHTTPServer on a free loopback port; ``url`` is its base (no trailing slash)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> RestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_ref: RestServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one response, no 40 ms delayed-ACK stall per keep-alive request

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the store keeps the log
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing ------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        store = self.server_ref.store
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        api = "token" if path == "/token" else "rest"
        headers: dict[str, str] = {}
        authed = False
        try:
            if api == "token":
                body = {k: ("<jwt>" if k == "assertion" else v) for k, v in parse_qsl(raw.decode())}
                status, payload, headers = 200, self._token(dict(parse_qsl(raw.decode()))), {}
            else:
                body = json.loads(raw) if raw else None
                authed = self._authenticated()
                if not authed:
                    raise unauthenticated()
                fault = store.take_fault(path)
                if fault is not None:
                    raise from_fault(fault.status, _service_of(path), fault.retry_after)
                status, payload, headers = 200, self._route(method, path, query, body), {}
        except ApiError as err:
            status, payload = err.code, err.to_json()
            headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else {}
        except _OAuthError as err:
            status, payload, headers = 400, {"error": err.error, "error_description": err.description}, {}
        store.record(LoggedRequest(api, method, path, query, body, status, authed))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and self.server_ref.store.token_valid(header[7:])

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        from google.auth import exceptions, jwt

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise _OAuthError("unsupported_grant_type", "Invalid grant_type.")
        store = self.server_ref.store
        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, certs=store.signer_certs(), verify=True)  # type: ignore[no-untyped-call]
        except (ValueError, exceptions.GoogleAuthError):
            owner = _key_owner(store, assertion)
            if owner is not None and owner[0].disabled and not owner[1].disabled:
                raise _OAuthError("invalid_grant", "Invalid grant: account not found") from None
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        owner = _key_owner(store, assertion)
        if owner is not None and str(claims.get("iss")) != owner[0].email:
            raise _OAuthError("invalid_grant", "Invalid JWT: the issuer does not own the signing key.")
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        with self.server_ref.store.lock:
            self.server_ref.store.tokens.add(token)
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if method == "GET" and (m := KEYS.match(path)):
            return self._keys(m["project"], m["account"], query)
        if method == "GET" and (m := ACTIVITIES.match(path)):
            return self._activities(m["project"], m["loc"], m["type"], query)
        if method == "GET" and path == "/v3/projects:search":
            return self._search_projects(query)
        if method == "GET" and path == "/v3/folders:search":
            return self._search_folders(query)
        if method == "POST" and (m := GET_POLICY.match(path)):
            return self._get_policy(m["kind"], m["id"], body or {})
        if wif_api.matches(path):
            return wif_api.route(self.server_ref.store, method, path, query, body)
        if method == "POST" and sa_policy.matches(path):
            return sa_policy.route(self.server_ref.store, path, body)
        if iam_rest.handles(method, path):
            return iam_rest.route(self.server_ref.store, method, path, query, body, f"{self.server_ref.url}/token")
        raise not_found(f"The requested URL {path} was not found on this server.")

    # --- IAM v1 --------------------------------------------------------------------------------
    def _project_or_404(self, ref: str, permission: str) -> Project:
        project = self.server_ref.store.project(ref)
        if project is None:
            raise permission_denied(permission, f"projects/{ref}")
        if project.denied:
            raise permission_denied(permission, f"projects/{project.project_id}")
        return project

    def _keys(self, project_ref: str, account_ref: str, query: dict[str, str]) -> dict[str, Any]:
        store = self.server_ref.store
        project = self._project_or_404(project_ref, "iam.serviceAccountKeys.list")
        with store.lock:
            account = project.accounts.get(account_ref) or next(
                (a for a in project.accounts.values() if a.unique_id == account_ref), None
            )
            if account is None:
                raise not_found(
                    f"Service account projects/{project.project_id}/serviceAccounts/{account_ref} does not exist."
                )
            wanted = {t for t in query.get("keyTypes", "").split(",") if t}
            keys = [k for k in account.keys if not wanted or k.key_type in wanted]
            out = []
            for key in keys:
                item: dict[str, Any] = {
                    "name": f"projects/{project.project_id}/serviceAccounts/{account.email}/keys/{key.key_id}",
                    "validAfterTime": rfc3339(key.created),
                    "validBeforeTime": rfc3339(key.expires),
                    "keyAlgorithm": key.algorithm,
                    "keyOrigin": key.origin,
                    "keyType": key.key_type,
                }
                if key.disabled:
                    item["disabled"] = True
                if key.disable_reason:
                    item["disableReason"] = key.disable_reason
                if key.extended_status:
                    item["extendedStatus"] = [
                        {"key": status, "value": f"https://github.com/acme/leaks/blob/main/{key.key_id[:8]}.json"}
                        for status in key.extended_status
                    ]
                out.append(item)
        return {"keys": out} if out else {}

    # --- Policy Analyzer -----------------------------------------------------------------------
    def _activities(self, project_ref: str, location: str, activity_type: str, query: dict[str, str]) -> dict[str, Any]:
        store = self.server_ref.store
        permission = ACTIVITY_TYPES.get(activity_type)
        if permission is None or location != "global":
            raise ApiError(400, f"Invalid activity type or location: {activity_type} / {location}.")
        project = store.project(project_ref)
        if project is None or project.denied or project.policy_analyzer == "denied":
            raise permission_denied(permission, f"projects/{project_ref}")
        if project.policy_analyzer == "disabled":
            raise service_disabled("policyanalyzer.googleapis.com", "Policy Analyzer API", project.number)
        wanted = None
        if query.get("filter"):
            m = FILTER.match(query["filter"].strip())
            if not m:
                raise ApiError(400, f"Invalid filter: {query['filter']}")
            wanted = m["name"]
        with store.lock:
            items = _activity_items(project, activity_type)
        if wanted is not None:
            items = [a for a in items if a["fullResourceName"] == wanted]
        try:
            requested = int(query.get("pageSize", "0"))
        except ValueError:
            raise ApiError(400, "Invalid value for pageSize.") from None
        if requested > 1000:
            raise ApiError(400, "pageSize must be at most 1000.")
        page = paginate(items, query.get("pageToken"), requested, store.activity_page_size)
        if page is None:
            raise ApiError(400, "Invalid page token.")
        chunk, nxt = page
        out: dict[str, Any] = {"activities": chunk} if chunk else {}
        if nxt:
            out["nextPageToken"] = nxt
        return out

    # --- Resource Manager v3 -------------------------------------------------------------------
    def _search_projects(self, query: dict[str, str]) -> dict[str, Any]:
        store = self.server_ref.store
        terms = _terms(query.get("query", ""))
        with store.lock:
            items = [
                {
                    "name": f"projects/{p.number}",
                    "parent": p.parent,
                    "projectId": p.project_id,
                    "state": p.state,
                    "displayName": p.display_name or p.project_id,
                    "etag": f'W/"{p.number[-6:]}"',
                }
                for p in store.projects.values()
            ]
        items = [i for i in items if _matches(i, terms)]
        return self._page(items, query, "projects")

    def _search_folders(self, query: dict[str, str]) -> dict[str, Any]:
        store = self.server_ref.store
        terms = _terms(query.get("query", ""))
        with store.lock:
            items = [
                {"name": name, "parent": f.parent, "displayName": f.display_name, "state": f.state}
                for name, f in store.folders.items()
            ]
        items = [i for i in items if _matches(i, terms)]
        return self._page(items, query, "folders")

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], field: str) -> dict[str, Any]:
        page = paginate(
            items, query.get("pageToken"), int(query.get("pageSize", "0") or 0), self.server_ref.store.page_size
        )
        if page is None:
            raise ApiError(400, "Invalid page token.")
        chunk, nxt = page
        out: dict[str, Any] = {field: chunk} if chunk else {}
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def _get_policy(self, kind: str, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        store = self.server_ref.store
        version = int((body.get("options") or {}).get("requestedPolicyVersion", 1))
        with store.lock:
            if kind == "projects":
                project = self._project_or_404(ident, "resourcemanager.projects.getIamPolicy")
                bindings = list(project.bindings)
            elif kind == "folders":
                folder = store.folders.get(f"folders/{ident}")
                if folder is None:
                    raise permission_denied("resourcemanager.folders.getIamPolicy", f"folders/{ident}")
                bindings = list(folder.bindings)
            else:
                if store.organization != f"organizations/{ident}":
                    raise permission_denied("resourcemanager.organizations.getIamPolicy", f"organizations/{ident}")
                bindings = list(store.org_bindings)
        return _policy_json(bindings, version)


class _OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _policy_json(bindings: list[Binding], version: int) -> dict[str, Any]:
    conditional = any(b.condition for b in bindings)
    if conditional and version < 3:
        raise ApiError(
            400,
            "Request policy version is not valid for a policy with conditional role bindings; "
            "requestedPolicyVersion must be 3.",
        )
    return {
        "version": 3 if conditional else 1,
        "etag": "BwYd3m1fQ0k=",
        "bindings": [b.to_json() for b in bindings],
    }


def _activity_items(project: Project, activity_type: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for account in project.accounts.values():
        account_name = f"//iam.googleapis.com/projects/{project.project_id}/serviceAccounts/{account.email}"
        if activity_type == "serviceAccountLastAuthentication":
            if account.last_authenticated is not None:
                out.append(
                    _activity(
                        activity_type,
                        account_name,
                        account.last_authenticated,
                        "serviceAccount",
                        account.unique_id,
                        project.number,
                    )
                )
            continue
        for key in account.keys:
            if key.last_authenticated is not None:
                out.append(
                    _activity(
                        activity_type,
                        f"{account_name}/keys/{key.key_id}",
                        key.last_authenticated,
                        "serviceAccountKey",
                        account.unique_id,
                        project.number,
                    )
                )
    return out


def _activity(kind: str, name: str, when: Any, field: str, unique_id: str, number: str) -> dict[str, Any]:
    day = when.replace(hour=7, minute=0, second=0, microsecond=0)
    if day > when:
        day -= timedelta(days=1)
    return {
        "fullResourceName": name,
        "activityType": kind,
        "observationPeriod": {"startTime": rfc3339(day), "endTime": rfc3339(day + timedelta(days=1))},
        "activity": {
            "lastAuthenticatedTime": rfc3339(when),
            field: {"fullResourceName": name, "serviceAccountId": unique_id, "projectNumber": number},
        },
    }


def _terms(query: str) -> dict[str, str]:
    out = {}
    for token in query.split():
        key, _, value = token.partition(":")
        if value:
            out[key.lower()] = value
    return out


def _matches(item: dict[str, Any], terms: dict[str, str]) -> bool:
    for key, value in terms.items():
        if key == "state" and item.get("state") != value:
            return False
        if key == "parent" and item.get("parent") != value:
            return False
        if key == "id" and item.get("projectId") != value:
            return False
    return True


def _key_owner(store: Store, assertion: str) -> Any:
    """(account, key) of the store key that claims to have signed ``assertion`` (its ``kid``), or None."""
    import base64

    try:
        head = assertion.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError):
        return None
    return store.key_owner(str(header.get("kid") or "")) if isinstance(header, dict) else None


def _service_of(path: str) -> str:
    if "activityTypes" in path:
        return "policyanalyzer.googleapis.com"
    if path.startswith("/v3/"):
        return "cloudresourcemanager.googleapis.com"
    return "iam.googleapis.com"
