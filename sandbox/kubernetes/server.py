"""A faithful fake kube-apiserver over HTTP on 127.0.0.1, for the unmodified ``kubernetes`` client.

Owns the REST surface: URL routing for the core, apps, batch and rbac groups; list semantics
(``<Kind>List``, selectors, ``limit``/``continue``, ``resourceVersion``, metadata-only lists via
``Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1``); create, update
(409 on a stale resourceVersion), patch (json-patch with ``test``, merge and strategic-merge),
delete (``Status``; the object for Pods and ServiceAccounts); ``?dryRun=All`` on every write; the TokenRequest
subresource with the real validation; TokenReview (``authentication.k8s.io/v1``) answered by the same
authenticator the requests go through: static tokens, TokenRequest tokens (valid until they expire or
their service account or bound object is deleted or recreated, and only for audiences the API server
accepts) and legacy Secret tokens (tracked and invalidated as in KEP-2799); bearer-token
authentication; ``Status`` error bodies for
400/401/403/404/405/406/409/410/422/429/504; a request log; and fault-injection hooks (deny a verb,
fail the next N requests with 429 + Retry-After, ...). It must never listen beyond loopback.

Not emulated (not needed for governance): watch, server-side apply, admission, garbage collection,
consistent snapshots for continued lists (a continued page reads the current state after the key).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from nhiwarden.sandbox.kubernetes.resources import BY_PATH, Resource
from nhiwarden.sandbox.kubernetes.selectors import SelectorError
from nhiwarden.sandbox.kubernetes.store import BadContinue, ContinueExpired, Obj, Store

PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PARTIAL_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
_MIN_TOKEN_SECONDS = 600
API_AUDIENCES = ["https://kubernetes.default.svc.cluster.local"]  # the server's --api-audiences
AUTHN_GROUP = "authentication.k8s.io"
_TOKENREVIEWS = f"/apis/{AUTHN_GROUP}/v1/tokenreviews"
_MAX_TOKEN_SECONDS = 2**32
_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list "
    "- objects that were created, modified, or deleted between the time the first chunk was returned "
    "and now may show up in the list."
)


@dataclass
class RequestRecord:
    """One request the fake answered, for assertions (never holds a token or a request body)."""

    method: str
    path: str
    query: dict[str, str]
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int
    user: str | None
    accept: str


@dataclass
class Fault:
    """Answer matching requests with an error instead of serving them.

    Matches on verb (list, get, create, update, patch, delete) and resource plural (``None`` = any);
    ``times`` = how many requests it hits (``None`` = forever).
    """

    status: int
    verb: str | None = None
    resource: str | None = None
    times: int | None = 1
    retry_after: int | None = None
    message: str | None = None
    continued: bool | None = None  # True: only requests carrying a continue token; False: only first pages


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers, self.metadata = details, headers or {}, metadata or {}

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{res.plural} "{name}" not found',
        details={"name": name, "group": res.group, "kind": res.plural},
    )


def _invalid(res: Resource, name: str, cause_field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{res.kind} "{name}" is invalid: {cause_field}: {message}',
        details={
            "name": name,
            "group": res.group,
            "kind": res.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": cause_field}],
        },
    )


@dataclass
class _Issued:
    """What the fake remembers of a TokenRequest token, to authenticate it later (never the token)."""

    namespace: str
    name: str
    sa_uid: str
    audiences: list[str]
    expires: datetime
    jti: str
    bound: tuple[str, str, str] | None  # (kind, name, uid) of the boundObjectRef


@dataclass
class Authn:
    """The authenticator's answer for one bearer token: a user, or the reason it was rejected."""

    user: str | None
    uid: str = ""
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None
    audiences: list[str] | None = None
    error: str = ""

    def user_info(self) -> Obj:
        if self.user is None:
            return {}
        info: Obj = {"username": self.user}
        if self.uid:
            info["uid"] = self.uid
        info["groups"] = list(self.groups or ["system:authenticated"])
        if self.extra:
            info["extra"] = self.extra
        return info


def _sa_groups(namespace: str) -> list[str]:
    return ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]


@dataclass
class _Route:
    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


class FakeApiServer:
    """One fake cluster behind one loopback HTTP endpoint. Use as a context manager."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        tokens: dict[str, str] | None = None,
        git_version: str = "v1.33.2",
        clock: Callable[[], datetime] | None = None,
        tls: bool = False,
    ) -> None:
        """``tls=True`` serves HTTPS with a throw-away CA (``ca_pem``), as real API servers do."""
        self.tls = tls
        self.ca_pem: bytes | None = None
        self.store = store or Store()
        self.tokens: dict[str, str] = dict(tokens or {})  # bearer token -> user name
        self.git_version = git_version
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self.denied: set[tuple[str, str]] = set()  # (verb, resource plural) forbidden for everyone
        self.allowed_rules: list[Obj] | None = None  # RBAC PolicyRules: when set, only these are allowed
        self.issued_tokens: list[Obj] = []  # TokenRequest responses (status.token included)
        self._issued: dict[str, _Issued] = {}  # TokenRequest token -> what it was issued for
        self.honour_partial_metadata = True
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeApiServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self.tls:
            import ssl

            import trustme

            ca = trustme.CA()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self.ca_pem = ca.cert_pem.bytes()
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-kube-apiserver")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    # -- test hooks --------------------------------------------------------------------------
    def add_token(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = user
        return token

    def deny(self, verb: str, resource: str) -> None:
        """Answer 403 Forbidden to ``verb`` on ``resource`` (plural, subresources as ``pods/exec``)."""
        self.denied.add((verb, resource))

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (verb is None or r.verb == verb) and (resource is None or r.resource == resource)
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- request handling --------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        accept = headers.get("accept", "")
        record = RequestRecord(method, path, query, "", "", None, None, None, 0, None, accept)
        extra_headers: dict[str, str] = {}
        content_type = "application/json"
        try:
            record.user = self._authenticate(headers)
            result, content_type = self._dispatch(method, path, query, headers, body, record)
            status = 201 if method == "POST" and record.verb == "create" else 200
        except ApiError as err:
            status, result, extra_headers = err.code, err.status(), err.headers
        record.status = status
        with self._lock:
            self.requests.append(record)
        payload = json.dumps(result, separators=(",", ":")).encode()
        return status, {"Content-Type": content_type, **extra_headers}, payload

    def _authenticate(self, headers: dict[str, str]) -> str:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        user = self.authenticate_token(token, API_AUDIENCES).user if token else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    def authenticate_token(self, token: str, audiences: list[str]) -> Authn:
        """The authenticator chain (static tokens, TokenRequest tokens, legacy Secret tokens) for ``token``.

        ``audiences`` are those the caller accepts (the API server's own for a request; a
        TokenReview's ``spec.audiences``). A legacy token use is tracked here, as the real
        authenticator does, whether it comes with a request or a TokenReview.
        """
        with self._lock:
            static = self.tokens.get(token)
            issued = self._issued.get(token)
        if static is not None:
            return Authn(static, groups=["system:authenticated"], audiences=list(audiences))
        if issued is not None:
            return self._issued_token_user(issued, audiences)
        legacy = self._legacy_token_user(token)
        if legacy is not None:
            return legacy
        return Authn(None, error="[invalid bearer token, token lookup failed]")

    def _issued_token_user(self, issued: _Issued, audiences: list[str]) -> Authn:
        """A TokenRequest token is valid until it expires and while its account and bound object live."""
        if issued.expires <= self.clock():
            return Authn(None, error="[invalid bearer token, service account token has expired]")
        matching = [a for a in issued.audiences if a in audiences]
        if not matching:
            return Authn(
                None,
                error=f"[invalid bearer token, token audiences {json.dumps(issued.audiences)} is invalid for the "
                f"target audiences {json.dumps(audiences)}]",
            )
        sa = self.store.get(BY_PATH[("", "v1", "serviceaccounts")], issued.namespace, issued.name)
        if sa is None or sa["metadata"]["uid"] != issued.sa_uid:
            return Authn(None, error="[invalid bearer token, service account token has been invalidated]")
        extra: dict[str, list[str]] = {"authentication.kubernetes.io/credential-id": [f"JTI={issued.jti}"]}
        if issued.bound is not None:
            kind, name, uid = issued.bound
            plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[kind]
            res = BY_PATH[("", "v1", plural)]
            bound = self.store.get(res, issued.namespace if res.namespaced else None, name)
            if bound is None or bound["metadata"]["uid"] != uid:
                return Authn(None, error="[invalid bearer token, service account token has been invalidated]")
            if kind in ("Pod", "Node"):
                extra[f"authentication.kubernetes.io/{kind.lower()}-name"] = [name]
                extra[f"authentication.kubernetes.io/{kind.lower()}-uid"] = [uid]
        return Authn(
            f"system:serviceaccount:{issued.namespace}:{issued.name}",
            uid=issued.sa_uid,
            groups=_sa_groups(issued.namespace),
            extra=extra,
            audiences=matching,
        )

    def _legacy_token_user(self, token: str) -> Authn | None:
        """The legacy Secret-token authenticator, with usage tracking and invalidation (KEP-2799).

        Valid when a ``kubernetes.io/service-account-token`` Secret holds the token and its account
        exists with the annotated uid. Each use labels the Secret ``legacy-token-last-used=<today>``
        (at most once a day); a Secret labelled ``legacy-token-invalid-since`` is rejected (401).
        ``None`` when no such Secret holds the token.
        """
        secrets_res = BY_PATH[("", "v1", "secrets")]
        sa_res = BY_PATH[("", "v1", "serviceaccounts")]
        encoded = base64.b64encode(token.encode()).decode()
        page = self.store.list(secrets_res, field_selector="type=kubernetes.io/service-account-token")
        for secret in page.items:
            if (secret.get("data") or {}).get("token") != encoded:
                continue
            meta = secret["metadata"]
            ann = meta.get("annotations") or {}
            ns, sa_name = meta.get("namespace", ""), ann.get("kubernetes.io/service-account.name", "")
            sa = self.store.get(sa_res, ns, sa_name)
            if sa is None or ann.get("kubernetes.io/service-account.uid") not in (None, sa["metadata"]["uid"]):
                return Authn(None, error="[invalid bearer token, service account token has been invalidated]")
            labels = meta.setdefault("labels", {})
            today = self.clock().strftime("%Y-%m-%d")
            if labels.get("kubernetes.io/legacy-token-last-used") != today:
                labels["kubernetes.io/legacy-token-last-used"] = today
                self.store.put(secret)
            if "kubernetes.io/legacy-token-invalid-since" in labels:
                return Authn(
                    None,
                    error=f"[invalid bearer token, the token in secret {ns}/{meta['name']} for service account "
                    f"{ns}/{sa_name} has been marked invalid. Use tokens from the TokenRequest API or manually "
                    "created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label "
                    "from the secret to re-enable it]",
                )
            return Authn(
                f"system:serviceaccount:{ns}:{sa_name}",
                uid=sa["metadata"]["uid"],
                groups=_sa_groups(ns),
                extra={"authentication.kubernetes.io/credential-id": [f"secret({meta.get('uid', '')})"]},
                audiences=list(API_AUDIENCES),
            )
        return None

    def _route(self, path: str) -> _Route | None:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in BY_PATH:
            namespace, rest = rest[1], rest[2:]
        if not rest or (group, version, rest[0]) not in BY_PATH:
            return None
        res = BY_PATH[(group, version, rest[0])]
        if namespace is not None and not res.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = "/".join(rest[2:]) or None
        return _Route(res, namespace, name, sub)

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        record: RequestRecord,
    ) -> tuple[Obj, str]:
        if method == "GET" and path in ("/version", "/version/"):
            record.verb = "get"
            return self._version(), "application/json"
        if method == "GET" and path in ("/api", "/apis", "/api/v1"):
            record.verb = "get"
            return self._discovery(path), "application/json"
        group_version = _group_version(path)
        if method == "GET" and group_version is not None:
            record.verb = "get"
            return _group_resources(*group_version), "application/json"
        if path.rstrip("/") == _TOKENREVIEWS or path.startswith(_TOKENREVIEWS + "/"):
            return self._token_review(method, path, query, body, record), "application/json"
        route = self._route(path)
        if route is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        verb = _verb(method, route)
        record.verb, record.resource = verb, route.res.plural + (f"/{route.subresource}" if route.subresource else "")
        record.namespace, record.name, record.subresource = route.namespace, route.name, route.subresource
        self._check_faults(verb, record.resource, bool(query.get("continue")))
        self._authorize(record)
        dry_run = query.get("dryRun")
        if dry_run is not None and dry_run != "All":
            raise ApiError(400, "BadRequest", f"Invalid dry run value: [{dry_run}] (only All is supported)")
        if verb == "list":
            return self._list(route, query, headers.get("accept", ""))
        if verb == "get":
            return self._get(route, headers.get("accept", "")), "application/json"
        data = self._json_body(body) if body else None
        ct = headers.get("content-type", "application/json").split(";")[0].strip()
        persist = dry_run is None
        if verb == "create" and route.subresource == "token":
            return self._token_request(route, data, persist), "application/json"
        if route.subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if verb == "create":
            return self._create(route, data, persist), "application/json"
        if verb == "update":
            return self._update(route, data, persist), "application/json"
        if verb == "patch":
            return self._patch(route, data, ct, persist), "application/json"
        if verb == "delete":
            return self._delete(route, data, persist), "application/json"
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _check_faults(self, verb: str, resource: str, continued: bool) -> None:
        with self._lock:
            for fault in self.faults:
                if fault.verb not in (None, verb) or fault.resource not in (None, resource):
                    continue
                if fault.continued is not None and fault.continued != continued:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                break
            else:
                return
        if fault.status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            raise ApiError(
                429,
                "TooManyRequests",
                fault.message or "Too many requests, please try again later.",
                details={"retryAfterSeconds": retry},
                headers={"Retry-After": str(retry)},
            )
        if fault.status == 410:
            self.store.compact()
            raise ApiError(410, "Expired", _EXPIRED_MESSAGE, metadata={"continue": ""})
        reasons = {403: "Forbidden", 404: "NotFound", 500: "InternalError", 503: "ServiceUnavailable"}
        raise ApiError(fault.status, reasons.get(fault.status, "InternalError"), fault.message or "injected fault")

    def authorize_only(self, rules: list[Obj]) -> None:
        """Enforce RBAC: allow only requests some PolicyRule in ``rules`` permits (namespace-blind)."""
        self.allowed_rules = rules

    def _rules_allow(self, record: RequestRecord, group: str) -> bool:
        if self.allowed_rules is None:
            return True
        for rule in self.allowed_rules:
            verbs, groups, resources = rule.get("verbs") or [], rule.get("apiGroups") or [], rule.get("resources") or []
            names = rule.get("resourceNames") or []
            if (
                ("*" in verbs or record.verb in verbs)
                and ("*" in groups or group in groups)
                and ("*" in resources or record.resource in resources)
                and (not names or record.name in names)
            ):
                return True
        return False

    def _authorize(self, record: RequestRecord, group: str | None = None) -> None:
        if group is None:
            group = next((r.group for r in BY_PATH.values() if r.plural == record.resource.split("/")[0]), "")
        if (record.verb, record.resource) not in self.denied and self._rules_allow(record, group):
            return
        where = f'in the namespace "{record.namespace}"' if record.namespace else "at the cluster scope"
        plural = record.resource.split("/")[0]
        what = f"{plural}.{group}" if group else plural
        if record.name:
            what += f' "{record.name}"'
        raise ApiError(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{record.user}" cannot {record.verb} resource '
            f'"{record.resource}" in API group "{group}" {where}',
            details={"kind": record.resource, **({"name": record.name} if record.name else {})},
        )

    @staticmethod
    def _json_body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"the body of the request was in an unknown format: {exc}") from None

    # -- reads -------------------------------------------------------------------------------
    def _list(self, route: _Route, query: dict[str, str], accept: str) -> tuple[Obj, str]:
        res = route.res
        if query.get("watch") in ("true", "1"):
            raise ApiError(405, "MethodNotAllowed", "watch is not supported by this fake apiserver")
        rv = query.get("resourceVersion")
        if rv and rv.isdigit() and int(rv) > self.store.resource_version:
            raise ApiError(
                504,
                "Timeout",
                f"Too large resource version: {rv}, current: {self.store.resource_version}",
                details={
                    "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                    "retryAfterSeconds": 1,
                },
            )
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid limit: {query.get('limit')!r}") from None
        try:
            page = self.store.list(
                res,
                route.namespace,
                label_selector=query.get("labelSelector"),
                field_selector=query.get("fieldSelector"),
                limit=max(limit, 0),
                continue_token=query.get("continue") or None,
                copy_items=False,  # serialized right away, never mutated
            )
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        except BadContinue as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        except ContinueExpired as exc:
            raise ApiError(410, "Expired", _EXPIRED_MESSAGE, metadata={"continue": exc.fresh_token}) from None
        meta: Obj = {"resourceVersion": page.resource_version}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        if self.honour_partial_metadata and _wants(accept, "PartialObjectMetadataList"):
            items = [
                {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
                for o in page.items
            ]
            body = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items,
            }
            return body, PARTIAL_LIST
        if _only_alternate(accept):
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json")
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page.items]
        return {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version,
            "metadata": meta,
            "items": items,
        }, "application/json"

    def _get(self, route: _Route, accept: str) -> Obj:
        assert route.name is not None
        obj = self.store.get(route.res, route.namespace, route.name)
        if obj is None:
            raise _not_found(route.res, route.name)
        if route.subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.honour_partial_metadata and _wants(accept, "PartialObjectMetadata"):
            return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        return obj

    def _version(self) -> Obj:
        major, minor = self.git_version.lstrip("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": self.git_version, "platform": "linux/amd64"}

    def _discovery(self, path: str) -> Obj:
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/api/v1":
            return {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": r.plural,
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update"],
                    }
                    for r in BY_PATH.values()
                    if r.group == ""
                ],
            }
        groups = sorted({(r.group, r.version) for r in (*BY_PATH.values(), _TOKENREVIEW_RES) if r.group})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in groups
            ],
        }

    # -- writes ------------------------------------------------------------------------------
    def _check_namespace(self, route: _Route) -> None:
        if route.res.namespaced and route.namespace and not self.store.namespace_exists(route.namespace):
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{route.namespace}" not found',
                details={"name": route.namespace, "kind": "namespaces"},
            )

    def _validate_body(self, route: _Route, data: Any) -> Obj:
        res = route.res
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        if data.get("kind") not in (None, res.kind) or data.get("apiVersion") not in (None, res.api_version):
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({data.get('apiVersion')}) does not match "
                f"the expected API version ({res.api_version})",
            )
        obj = copy.deepcopy(data)
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != route.namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = route.namespace
        return obj

    def _create(self, route: _Route, data: Any, persist: bool) -> Obj:
        if route.name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self._check_namespace(route)
        obj = self._validate_body(route, data)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            else:
                raise _invalid(route.res, "", "metadata.name", "Required value: name or generateName is required")
        if self.store.exists(route.res, route.namespace, meta["name"]):
            raise ApiError(
                409,
                "AlreadyExists",
                f'{route.res.plural} "{meta["name"]}" already exists',
                details={"name": meta["name"], "group": route.res.group, "kind": route.res.plural},
            )
        meta.pop("resourceVersion", None)
        if not persist:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
            return obj
        return self.store.put(obj)

    def _existing(self, route: _Route) -> Obj:
        assert route.name is not None
        current = self.store.get(route.res, route.namespace, route.name)
        if current is None:
            raise _not_found(route.res, route.name)
        return current

    def _conflict(self, route: _Route) -> ApiError:
        return ApiError(
            409,
            "Conflict",
            f"Operation cannot be fulfilled on {route.res.plural}.{route.res.group or ''}".rstrip(".")
            + f' "{route.name}": the object has been modified; please apply your changes to the latest version and try again',  # noqa: E501 - the API server's text
            details={"name": route.name, "group": route.res.group, "kind": route.res.plural},
        )

    def _update(self, route: _Route, data: Any, persist: bool) -> Obj:
        current = self._existing(route)
        obj = self._validate_body(route, data)
        meta = obj["metadata"]
        if meta.get("name") != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise self._conflict(route)
        meta["uid"] = current["metadata"]["uid"]
        meta["creationTimestamp"] = current["metadata"]["creationTimestamp"]
        return self.store.put(obj) if persist else obj

    def _patch(self, route: _Route, data: Any, content_type: str, persist: bool) -> Obj:
        current = self._existing(route)
        if content_type == "application/json-patch+json":
            if not isinstance(data, list):
                raise ApiError(400, "BadRequest", "json patch must be a list of operations")
            patched = _json_patch(current, data)
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(data, dict):
                raise ApiError(400, "BadRequest", "merge patch must be an object")
            patched = _merge_patch(current, data)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",  # noqa: E501 - the API server's text
            )
        want_rv = (data.get("metadata") or {}).get("resourceVersion") if isinstance(data, dict) else None
        if want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise self._conflict(route)
        meta = patched.setdefault("metadata", {})
        for key in ("uid", "name", "namespace", "creationTimestamp"):
            if key in current["metadata"]:
                meta[key] = current["metadata"][key]
        return self.store.put(patched) if persist else patched

    def _delete(self, route: _Route, data: Any, persist: bool) -> Obj:
        current = self._existing(route)
        pre = (data or {}).get("preconditions") or {} if isinstance(data, dict) else {}
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {route.res.plural} "{route.name}": Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {current["metadata"]["uid"]}',  # noqa: E501 - the API server's text
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise self._conflict(route)
        if persist:
            self.store.delete(route.res, route.namespace, route.name or "")
        if route.res.plural in ("pods", "serviceaccounts"):  # ReturnDeletedObject kinds
            return current
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": route.name,
                "group": route.res.group,
                "kind": route.res.plural,
                "uid": current["metadata"]["uid"],
            },
        }

    # -- TokenReview -------------------------------------------------------------------------
    def _token_review(self, method: str, path: str, query: dict[str, str], body: bytes, record: RequestRecord) -> Obj:
        """``POST /apis/authentication.k8s.io/v1/tokenreviews``: create-only, cluster-scoped, never stored.

        Answers 201 with ``status.authenticated: true`` and the user for a token the authenticator
        accepts; otherwise ``status.error`` and no ``authenticated`` (the field is ``omitempty``).
        """
        name = path[len(_TOKENREVIEWS) :].strip("/") or None
        record.verb = _verb(method, _Route(_TOKENREVIEW_RES, None, name, None))
        record.resource, record.name = "tokenreviews", name
        if method != "POST" or name:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self._check_faults("create", "tokenreviews", False)
        self._authorize(record, AUTHN_GROUP)
        dry_run = query.get("dryRun")
        if dry_run is not None and dry_run != "All":
            raise ApiError(400, "BadRequest", f"Invalid dry run value: [{dry_run}] (only All is supported)")
        data = self._json_body(body) if body else None
        if (
            not isinstance(data, dict)
            or data.get("kind", "TokenReview") != "TokenReview"
            or data.get("apiVersion", f"{AUTHN_GROUP}/v1") != f"{AUTHN_GROUP}/v1"
        ):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        spec = dict(data.get("spec") or {})
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(400, "BadRequest", "token is required for TokenReview in authentication")
        wanted = [str(a) for a in spec.get("audiences") or []] or list(API_AUDIENCES)
        authn = self.authenticate_token(token, wanted)
        status: Obj = {"user": authn.user_info()}
        if authn.user is not None:
            accepted = [a for a in authn.audiences or [] if a in wanted]
            if accepted:
                status = {"authenticated": True, "user": authn.user_info(), "audiences": accepted}
            else:
                status = {
                    "user": {},
                    "error": f"token audiences {json.dumps(authn.audiences or [])} is invalid for the target "
                    f"audiences {json.dumps(wanted)}",
                }
        elif authn.error:
            status["error"] = authn.error
        return {
            "kind": "TokenReview",
            "apiVersion": f"{AUTHN_GROUP}/v1",
            "metadata": {**(data.get("metadata") or {}), "creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    # -- TokenRequest ------------------------------------------------------------------------
    def _token_request(self, route: _Route, data: Any, persist: bool) -> Obj:
        if route.res.plural != "serviceaccounts" or route.name is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        sa = self.store.get(route.res, route.namespace, route.name)
        if sa is None:
            raise _not_found(route.res, route.name)
        if not isinstance(data, dict) or data.get("kind", "TokenRequest") != "TokenRequest":
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        spec = dict(data.get("spec") or {})
        seconds = spec.get("expirationSeconds")
        if seconds is None:
            seconds = 3600
        if not isinstance(seconds, int) or seconds < _MIN_TOKEN_SECONDS:
            raise ApiError(
                422,
                "Invalid",
                f'TokenRequest.authentication.k8s.io "{route.name}" is invalid: '
                f"spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                details={"name": route.name, "group": "authentication.k8s.io", "kind": "TokenRequest"},
            )
        if seconds > _MAX_TOKEN_SECONDS:
            raise ApiError(
                422,
                "Invalid",
                f'TokenRequest.authentication.k8s.io "{route.name}" is invalid: '
                f"spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds",  # noqa: E501 - the API server's text
                details={"name": route.name, "group": "authentication.k8s.io", "kind": "TokenRequest"},
            )
        audiences = spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]
        claims_extra: Obj = {}
        ref = spec.get("boundObjectRef")
        if ref:
            kind = ref.get("kind")
            plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind or "")
            if plural is None:
                raise ApiError(400, "BadRequest", f"cannot bind token to object of type {kind}")
            bound_res = BY_PATH[("", "v1", plural)]
            bound = self.store.get(bound_res, route.namespace if bound_res.namespaced else None, ref.get("name", ""))
            if bound is None:
                raise _not_found(bound_res, ref.get("name", ""))
            if ref.get("uid") and ref["uid"] != bound["metadata"]["uid"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. The object might have been deleted and then recreated",  # noqa: E501 - the API server's text
                )
            if kind == "Pod":
                runs_as = (bound.get("spec") or {}).get("serviceAccountName") or "default"
                if runs_as != route.name:
                    raise ApiError(
                        400,
                        "BadRequest",
                        f'cannot bind token for serviceaccount "{route.name}" to pod running with serviceaccount "{runs_as}"',  # noqa: E501 - the API server's text
                    )
            claims_extra[kind.lower()] = {"name": bound["metadata"]["name"], "uid": bound["metadata"]["uid"]}
        now = self.clock()
        expires = now + timedelta(seconds=seconds)
        sa_meta = sa["metadata"]
        claims = {
            "aud": audiences,
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": str(uuid.uuid4()),
            "sub": f"system:serviceaccount:{route.namespace}:{route.name}",
            "kubernetes.io": {
                "namespace": route.namespace,
                "serviceaccount": {"name": route.name, "uid": sa_meta["uid"]},
                **claims_extra,
            },
        }
        token = self._sign(claims)
        spec["audiences"], spec["expirationSeconds"] = audiences, seconds
        response = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": route.name, "namespace": route.namespace, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
        if persist:
            bound_ref = None
            if ref:
                info = claims_extra[str(ref.get("kind")).lower()]
                bound_ref = (str(ref.get("kind")), info["name"], info["uid"])
            with self._lock:
                self._issued[token] = _Issued(
                    namespace=str(route.namespace),
                    name=route.name,
                    sa_uid=str(sa_meta["uid"]),
                    audiences=list(audiences),
                    expires=expires,
                    jti=str(claims["jti"]),
                    bound=bound_ref,
                )
                self.issued_tokens.append(copy.deepcopy(response))
        return response

    def _sign(self, claims: Obj) -> str:
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        header = b64(json.dumps({"alg": "HS256", "kid": "fake"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(sig)}"


_TOKENREVIEW_RES = Resource(AUTHN_GROUP, "v1", "tokenreviews", "TokenReview", False)


def _group_version(path: str) -> tuple[str, str] | None:
    """``/apis/<group>/<version>`` of a served group, else ``None``."""
    parts = [p for p in path.split("/") if p]
    if len(parts) != 3 or parts[0] != "apis":
        return None
    served = {(r.group, r.version) for r in (*BY_PATH.values(), _TOKENREVIEW_RES)}
    return (parts[1], parts[2]) if (parts[1], parts[2]) in served else None


def _group_resources(group: str, version: str) -> Obj:
    """The APIResourceList discovery document of one group version."""
    resources = [r for r in (*BY_PATH.values(), _TOKENREVIEW_RES) if (r.group, r.version) == (group, version)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}",
        "resources": [
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create"]
                if r is _TOKENREVIEW_RES
                else ["create", "delete", "deletecollection", "get", "list", "patch", "update"],
            }
            for r in resources
        ],
    }


def _verb(method: str, route: _Route) -> str:
    if method == "GET":
        return "get" if route.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return method.lower()


def _media_alternatives(accept: str) -> Iterator[dict[str, str]]:
    for alt in accept.split(","):
        parts = [p.strip() for p in alt.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        params["_type"] = parts[0]
        yield params


def _wants(accept: str, as_kind: str) -> bool:
    """True when the first acceptable alternative the server can serve asks for ``as_kind``."""
    for params in _media_alternatives(accept):
        if params.get("as") == as_kind and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
        if "as" not in params and params["_type"] in ("application/json", "*/*"):
            return False
    return False


def _only_alternate(accept: str) -> bool:
    alts = list(_media_alternatives(accept))
    return bool(accept.strip()) and all("as" in a for a in alts)


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _pointer(doc: Any, path: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    if not parts:
        raise ApiError(422, "Invalid", "jsonpatch: empty path")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _json_patch(current: Obj, ops: list[Any]) -> Obj:
    doc = copy.deepcopy(current)
    for op in ops:
        try:
            parent, last = _pointer(doc, op["path"])
            kind = op["op"]
            if kind == "test":
                actual = parent[int(last)] if isinstance(parent, list) else parent[last]
                if actual != op.get("value"):
                    raise ApiError(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our request: testing value {op['path']} failed",  # noqa: E501 - the API server's text
                    )
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    idx = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(idx, op["value"])
                    else:
                        parent[idx] = op["value"]
                else:
                    if kind == "replace" and last not in parent:
                        raise ApiError(
                            422,
                            "Invalid",
                            f"the server rejected our request: replace operation does not apply: doc is missing key: {op['path']}",  # noqa: E501 - the API server's text
                        )
                    parent[last] = op["value"]
            else:
                raise ApiError(422, "Invalid", f"the server rejected our request: unsupported json-patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: path {op.get('path')!r} not found",
            ) from None
    return doc


def _make_handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-kube-apiserver"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out_headers, payload = server.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for key, value in out_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

    return Handler
