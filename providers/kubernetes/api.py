"""Read-only access to one kubeconfig context through the official ``kubernetes`` client, as raw JSON.

Owns the I/O of the Kubernetes provider: one ``ApiClient`` per context (thread-safe across contexts),
paged lists (``limit``/``continue``; a 410 Expired restarts the list), bounded retries honouring
``Retry-After`` on 429 and 5xx, metadata-only Secret lists, and the mapping of failures to
``ScopeError``. Responses are read with ``_preload_content=False`` and ``json.loads`` so the code does
not depend on the client's model layer (classic models in 35/36, pydantic in 37).

Must never: write anything, keep a Secret's ``data``, or let API text out unredacted.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from nhiwarden.errors import ScopeError
from nhiwarden.providers import CallLog
from nhiwarden.redact import redact, register_secret
from nhiwarden.retry import RetryPolicy, parse_retry_after

PARTIAL_METADATA_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_MAX_LIST_RESTARTS = 3

# resource -> (API class, list method)
LISTS: dict[str, tuple[str, str]] = {
    "serviceaccounts": ("CoreV1Api", "list_service_account_for_all_namespaces"),
    "secrets": ("CoreV1Api", "list_secret_for_all_namespaces"),
    "pods": ("CoreV1Api", "list_pod_for_all_namespaces"),
    "deployments": ("AppsV1Api", "list_deployment_for_all_namespaces"),
    "statefulsets": ("AppsV1Api", "list_stateful_set_for_all_namespaces"),
    "daemonsets": ("AppsV1Api", "list_daemon_set_for_all_namespaces"),
    "replicasets": ("AppsV1Api", "list_replica_set_for_all_namespaces"),
    "jobs": ("BatchV1Api", "list_job_for_all_namespaces"),
    "cronjobs": ("BatchV1Api", "list_cron_job_for_all_namespaces"),
    "roles": ("RbacAuthorizationV1Api", "list_role_for_all_namespaces"),
    "rolebindings": ("RbacAuthorizationV1Api", "list_role_binding_for_all_namespaces"),
    "clusterroles": ("RbacAuthorizationV1Api", "list_cluster_role"),
    "clusterrolebindings": ("RbacAuthorizationV1Api", "list_cluster_role_binding"),
}


class Denied(Exception):
    """The server answered 403 or 404 for a whole signal; the caller decides partial vs fatal."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") or exc.reason
    except (ValueError, AttributeError):
        message = exc.reason
    return redact(f"HTTP {exc.status}: {message}")


def _header(exc: ApiException, name: str) -> str | None:
    headers = exc.headers or {}
    try:
        value = headers.get(name) or headers.get(name.lower())
        return str(value) if value is not None else None
    except AttributeError:
        return None


class KubeApi:
    """Raw JSON reads against one context."""

    def __init__(
        self,
        *,
        kubeconfig: str | None,
        context: str,
        calls: CallLog,
        retry: RetryPolicy,
        page_size: int = 500,
        timeout: float = 30.0,
        in_cluster: bool = False,
    ) -> None:
        self.context = context
        self.calls = calls
        self.retry = retry
        self.page_size = page_size
        self.timeout = timeout
        try:
            configuration = type.__call__(k8s_client.Configuration)
            if in_cluster:
                k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
                )
        except ConfigException as exc:
            raise ScopeError(
                f"context {context!r}: {redact(exc)}",
                kind="not-found" if "context" in str(exc).lower() and "not" in str(exc).lower() else "auth",
            ) from None
        except (OSError, TypeError, ValueError) as exc:
            raise ScopeError(f"context {context!r}: cannot load kubeconfig: {redact(exc)}", kind="auth") from None
        for value in (configuration.api_key or {}).values():
            register_secret(str(value))
            register_secret(str(value).removeprefix("Bearer ").strip())
        # urllib3 would otherwise retry 429/503 itself, sleeping Retry-After unbounded and uncounted;
        # connection retries stay (a refused port fails fast), throttling goes through RetryPolicy.
        configuration.retries = urllib3.Retry(
            total=2, connect=2, read=0, redirect=0, status=0, other=0, respect_retry_after_header=False
        )
        self.server = str(configuration.host)
        self.client = k8s_client.ApiClient(configuration=configuration)
        self.metadata_client = k8s_client.ApiClient(
            configuration=configuration, header_name="Accept", header_value=PARTIAL_METADATA_ACCEPT
        )

    def close(self) -> None:
        for c in (self.client, self.metadata_client):
            with contextlib.suppress(Exception):  # closing is best effort
                c.close()  # type: ignore[no-untyped-call]

    # -- one request with retries and error mapping ------------------------------------------
    def _request(self, action: str, fn: Callable[[], Any]) -> Any:
        def once() -> Any:
            self.calls(action)
            return fn()

        def retryable(exc: Exception) -> bool:
            return isinstance(exc, ApiException) and (exc.status == 429 or (exc.status or 0) >= 500)

        def retry_after(exc: Exception) -> float | None:
            return parse_retry_after(_header(exc, "Retry-After")) if isinstance(exc, ApiException) else None

        try:
            response = self.retry.call(once, retryable=retryable, retry_after=retry_after)
        except ApiException as exc:
            message = _status_message(exc)
            if exc.status == 401:
                raise ScopeError(f"context {self.context!r}: {action}: unauthorized ({message})", kind="auth") from None
            if exc.status == 429:
                raise ScopeError(
                    f"context {self.context!r}: {action}: still throttled after "
                    f"{self.retry.attempts} attempts ({message})",
                    kind="throttled",
                ) from None
            if exc.status in (403, 404):
                raise Denied(exc.status, message) from None
            raise
        except urllib3.exceptions.HTTPError as exc:
            cause = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the real cause
            raise ScopeError(
                f"context {self.context!r}: cannot reach the API server {self.server}: {type(cause).__name__}",
                kind="network",
            ) from None
        try:
            return json.loads(response.data)
        finally:
            response.release_conn()

    # -- lists -------------------------------------------------------------------------------
    def list(
        self,
        resource: str,
        keep: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        field_selector: str | None = None,
        metadata_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Every object of ``resource`` in all namespaces, each reduced by ``keep`` as pages arrive."""
        api_name, method_name = LISTS[resource]
        api_client = self.metadata_client if metadata_only else self.client
        method = getattr(getattr(k8s_client, api_name)(api_client), method_name)
        action = f"list {resource}"
        for _restart in range(_MAX_LIST_RESTARTS + 1):
            out: list[dict[str, Any]] = []
            token: str | None = None
            try:
                while True:
                    kwargs: dict[str, Any] = {
                        "limit": self.page_size,
                        "_preload_content": False,
                        "_request_timeout": self.timeout,
                    }
                    if field_selector:
                        kwargs["field_selector"] = field_selector
                    if token:
                        kwargs["_continue"] = token
                    page = self._request(action, functools.partial(method, **kwargs))
                    for item in page.get("items") or []:
                        item.pop("data", None)  # a Secret's values are dropped before anything reads it
                        item.pop("stringData", None)
                        out.append(keep(item))
                    token = (page.get("metadata") or {}).get("continue") or None
                    if not token:
                        return out
            except ApiException as exc:
                if exc.status == 410:  # continue token expired: restart the list for a consistent view
                    continue
                raise ScopeError(f"context {self.context!r}: {action}: {_status_message(exc)}", kind="error") from None
        raise ScopeError(f"context {self.context!r}: {action}: continue token kept expiring", kind="error")

    def probe(self, resource: str, *, field_selector: str | None = None, metadata_only: bool = False) -> None:
        """One list request of one item: does the credential have this permission?"""
        api_name, method_name = LISTS[resource]
        method = getattr(
            getattr(k8s_client, api_name)(self.metadata_client if metadata_only else self.client), method_name
        )
        kwargs: dict[str, Any] = {"limit": 1, "_preload_content": False, "_request_timeout": self.timeout}
        if field_selector:
            kwargs["field_selector"] = field_selector
        try:
            self._request(f"list {resource}", lambda: method(**kwargs))
        except ApiException as exc:
            raise ScopeError(
                f"context {self.context!r}: list {resource}: {_status_message(exc)}", kind="error"
            ) from None

    def get_config_map(self, namespace: str, name: str) -> dict[str, Any]:
        core = k8s_client.CoreV1Api(self.client)
        try:
            return dict(
                self._request(
                    "get configmaps",
                    lambda: core.read_namespaced_config_map(
                        name, namespace, _preload_content=False, _request_timeout=self.timeout
                    ),
                )
            )
        except ApiException as exc:
            raise ScopeError(f"context {self.context!r}: get configmap: {_status_message(exc)}", kind="error") from None

    def version(self) -> dict[str, Any]:
        api = k8s_client.VersionApi(self.client)
        try:
            return dict(
                self._request(
                    "get version", lambda: api.get_code(_preload_content=False, _request_timeout=self.timeout)
                )
            )
        except ApiException as exc:
            raise ScopeError(f"context {self.context!r}: get version: {_status_message(exc)}", kind="error") from None
