"""The GCP API layer: credentials, the gRPC IAM admin client, REST via AuthorizedSession, retries, counting.

Owns every network call the provider makes, so each is counted (``CallLog``), retried with bounded
backoff that honours ``Retry-After`` / ``RetryInfo``, and turned into one ``ApiFailure`` shape with a
redacted message. Imports the Google SDKs lazily (only ``discover``/``scopes`` reach here). It must never
log or keep a private key, refresh token or access token: each is registered with ``redact`` on read.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nhiwarden.errors import ScopeError
from nhiwarden.providers.base import CallLog
from nhiwarden.redact import redact, register_secret
from nhiwarden.retry import RetryPolicy, parse_retry_after

T = TypeVar("T")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
IAM_GRPC_HOST = "iam.googleapis.com:443"
_RETRYABLE = {429, 500, 502, 503, 504, 0}
_SECRET_FIELDS = ("private_key", "client_secret", "refresh_token", "access_token")


@dataclass
class ApiFailure(Exception):
    """A failed Google API call after retries; ``code`` is the HTTP status (0: network)."""

    code: int
    status: str
    message: str
    reason: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.code} {self.status}: {self.message}"

    @property
    def retryable(self) -> bool:
        return self.code in _RETRYABLE

    @property
    def service_disabled(self) -> bool:
        return self.reason == "SERVICE_DISABLED" or "has not been used in project" in self.message

    def scope_error(self, what: str) -> ScopeError:
        kind = {401: "auth", 403: "permission", 404: "not-found", 429: "throttled", 0: "network"}.get(
            self.code, "error"
        )
        return ScopeError(redact(f"{what}: {self}"), kind=kind)


@dataclass(frozen=True)
class Endpoints:
    iam: str = "https://iam.googleapis.com"
    policy_analyzer: str = "https://policyanalyzer.googleapis.com"
    resource_manager: str = "https://cloudresourcemanager.googleapis.com"

    @classmethod
    def single(cls, base: str) -> Endpoints:
        base = base.rstrip("/")
        return cls(base, base, base)


class GcpApi:
    """One per provider instance; thread-safe (scopes and per-account work run in threads)."""

    def __init__(
        self,
        *,
        credentials_file: str | None,
        grpc_endpoint: str | None,
        rest_endpoint: str | None,
        sleep: Callable[[float], None],
        attempts: int = 5,
        timeout: float = 60.0,
    ) -> None:
        self.credentials_file = credentials_file
        self.grpc_endpoint = grpc_endpoint
        self.endpoints = Endpoints.single(rest_endpoint) if rest_endpoint else Endpoints()
        self.sleep = sleep
        self.attempts = attempts
        self.timeout = timeout
        self.default_project: str | None = None
        self._lock = threading.Lock()
        self._creds: Any = None
        self._session: Any = None
        self._iam: Any = None
        self._channel: Any = None

    # --- credentials ---------------------------------------------------------------------------
    def credentials(self) -> Any:
        with self._lock:
            if self._creds is None:
                self._creds = self._load_credentials()
            return self._creds

    def _load_credentials(self) -> Any:
        import google.auth
        from google.auth import exceptions

        try:
            if self.credentials_file:
                info = _read_json(Path(self.credentials_file))
                creds, project = google.auth.load_credentials_from_dict(info, scopes=SCOPES)  # type: ignore[no-untyped-call]
            else:
                adc = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
                if adc and Path(adc).is_file():
                    _read_json(Path(adc))  # registers the secrets it holds
                creds, project = google.auth.default(scopes=SCOPES)
        except exceptions.GoogleAuthError as exc:
            raise ScopeError(redact(f"cannot load Google credentials: {exc}"), kind="auth") from None
        self.default_project = project
        return creds

    def _fresh_token(self) -> None:
        """Refresh the access token if needed (under the lock) and register it as a secret."""
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        creds = self.credentials()
        with self._lock:
            if not creds.valid:
                try:
                    creds.refresh(Request())
                except exceptions.RefreshError as exc:
                    raise ApiFailure(401, "UNAUTHENTICATED", redact(f"token refresh failed: {exc}")) from None
                except exceptions.TransportError as exc:
                    raise ApiFailure(0, "NETWORK", redact(f"token endpoint unreachable: {exc}")) from None
            register_secret(getattr(creds, "token", None))

    def authorize(self, headers: dict[str, str]) -> None:
        self._fresh_token()
        creds = self.credentials()
        creds.apply(headers)

    # --- REST ----------------------------------------------------------------------------------
    def session(self) -> Any:
        from google.auth.transport.requests import AuthorizedSession
        from requests.adapters import HTTPAdapter

        creds = self.credentials()
        with self._lock:
            if self._session is None:
                session = AuthorizedSession(creds)  # type: ignore[no-untyped-call]
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session = session
            return self._session

    def rest(
        self,
        calls: CallLog | None,
        action: str,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One REST call (retried when throttled or unavailable); the parsed JSON body."""
        import requests

        def once() -> dict[str, Any]:
            self._fresh_token()
            if calls is not None:
                calls(action)
            try:
                response = self.session().request(method, url, params=params, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                raise ApiFailure(0, "NETWORK", redact(f"{type(exc).__name__}: {exc}")) from None
            if response.status_code >= 400:
                raise _rest_failure(response)
            try:
                data = response.json() if response.content else {}
            except ValueError:
                raise ApiFailure(response.status_code, "INVALID_RESPONSE", "response is not JSON") from None
            return dict(data) if isinstance(data, dict) else {}

        return self._retry(once)

    def rest_pages(
        self, calls: CallLog | None, action: str, url: str, params: dict[str, Any], items: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged REST listing: one call per page, following ``nextPageToken``."""
        token: str | None = None
        while True:
            page_params = dict(params)
            if token:
                page_params["pageToken"] = token
            page = self.rest(calls, action, "GET", url, params=page_params)
            yield from page.get(items) or []
            token = page.get("nextPageToken")
            if not token:
                return

    # --- gRPC (google-cloud-iam) -----------------------------------------------------------------
    def iam(self) -> Any:
        """The google-cloud-iam client on a channel whose bearer token comes from ``authorize``.

        Google: TLS to iam.googleapis.com; the fakes: a plaintext loopback channel. Either way every
        call's token passes through ``authorize``, which registers it for redaction.
        """
        import grpc
        from google.cloud import iam_admin_v1
        from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
        from nhiwarden.providers.gcp.grpc_auth import AuthInterceptor

        self.credentials()
        with self._lock:
            if self._iam is None:
                options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
                if self.grpc_endpoint:
                    raw = grpc.insecure_channel(self.grpc_endpoint, options=options)
                else:
                    raw = grpc.secure_channel(IAM_GRPC_HOST, grpc.ssl_channel_credentials(), options=options)
                self._channel = grpc.intercept_channel(raw, AuthInterceptor(self.authorize))
                self._iam = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=self._channel))
            return self._iam

    def grpc(self, calls: CallLog | None, action: str, fn: Callable[[Any], T]) -> T:
        """One gRPC call ``fn(client)`` with our retries (GAPIC's own retry is off: pass retry=None)."""
        from google.api_core import exceptions as gexc

        def once() -> T:
            client = self.iam()
            if calls is not None:
                calls(action)
            try:
                return fn(client)
            except gexc.GoogleAPICallError as exc:
                raise _grpc_failure(exc) from None
            except gexc.RetryError as exc:
                raise ApiFailure(503, "UNAVAILABLE", redact(str(exc))) from None

        return self._retry(once)

    def _retry(self, fn: Callable[[], T]) -> T:
        policy = RetryPolicy(attempts=self.attempts, sleep=self.sleep)
        return policy.call(
            fn,
            retryable=lambda e: isinstance(e, ApiFailure) and e.retryable,
            retry_after=lambda e: e.retry_after if isinstance(e, ApiFailure) else None,
        )

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            if self._channel is not None:
                self._channel.close()
            self._session = self._channel = self._iam = None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScopeError(f"cannot read credentials file {path}: {exc.strerror}", kind="auth") from None
    except ValueError:
        raise ScopeError(f"credentials file {path} is not JSON", kind="auth") from None
    if not isinstance(info, dict):
        raise ScopeError(f"credentials file {path} is not a JSON object", kind="auth")
    for name in _SECRET_FIELDS:
        value = info.get(name)
        if isinstance(value, str):
            register_secret(value)
            if "PRIVATE KEY" in value:  # also each base64 line, in case a library echoes a fragment
                for line in value.splitlines():
                    if len(line) > 40:
                        register_secret(line)
    return info


def _rest_failure(response: Any) -> ApiFailure:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    status, message, reason = "UNKNOWN", response.reason or "", None
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    if isinstance(error, dict):
        status = str(error.get("status") or status)
        message = str(error.get("message") or message)
        for detail in error.get("details") or []:
            if not isinstance(detail, dict):
                continue
            if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
                reason = detail.get("reason")
            if retry_after is None and detail.get("@type", "").endswith("google.rpc.RetryInfo"):
                retry_after = parse_retry_after(str(detail.get("retryDelay", "")).rstrip("s"))
    return ApiFailure(response.status_code, status, redact(message), reason, retry_after)


def _grpc_failure(exc: Any) -> ApiFailure:
    code = int(getattr(exc, "code", 0) or 0)
    grpc_code = getattr(exc, "grpc_status_code", None)
    status = grpc_code.name if grpc_code is not None else "UNKNOWN"
    retry_after = None
    for detail in getattr(exc, "details", None) or []:
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and (delay.seconds or delay.nanos):
            retry_after = delay.seconds + delay.nanos / 1e9
    if status == "UNAVAILABLE":
        code = 503
    return ApiFailure(
        code, status, redact(getattr(exc, "message", str(exc))), getattr(exc, "reason", None), retry_after
    )
