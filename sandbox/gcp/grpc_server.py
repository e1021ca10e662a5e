"""Fake ``google.iam.admin.v1.IAM`` gRPC service for the real google-cloud-iam client (insecure channel).

Implements, from the shared ``Store``: ListServiceAccounts (paged), GetServiceAccount,
Disable/EnableServiceAccount, ListServiceAccountKeys (unpaged, no exposure fields — like the real
proto), CreateServiceAccountKey (a real RSA key whose credentials file the token endpoint accepts; at
most 10 user-managed keys per account), Delete/Disable/EnableServiceAccountKey (a disabled or deleted
key, or a disabled account, no longer obtains tokens), and Get/SetIamPolicy on a service account (etag
checked, see ``sa_policy``). Errors are real
``google.rpc.Status`` values with ErrorInfo / RetryInfo details, so ``google.api_core.exceptions``
surfaces them exactly as against Google. It never returns private key material or logs a token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent import futures
from typing import Any, NamedTuple

import grpc
from nhiwarden.sandbox.gcp import iam_writes, sa_policy
from nhiwarden.sandbox.gcp.errors import ApiError, from_fault, permission_denied, unauthenticated
from nhiwarden.sandbox.gcp.store import LoggedRequest, Project, ServiceAccount, Store, paginate

SERVICE = "google.iam.admin.v1.IAM"
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


class GrpcServer:
    """The fake IAM admin service on a free loopback port; ``address`` is ``127.0.0.1:PORT``."""

    def __init__(self, store: Store, require_auth: bool = True) -> None:
        from google.cloud.iam_admin_v1 import types as iam
        from google.iam.v1 import iam_policy_pb2, policy_pb2
        from google.protobuf import empty_pb2

        self.store = store
        self.require_auth = require_auth
        self.token_uri = "https://oauth2.googleapis.com/token"  # FakeGcp points it at the REST fake
        self._iam = iam
        self._policy_pb2 = policy_pb2
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))

        def unary(rpc: str, fn: Callable[[Any], Any], request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(rpc, fn), request_deserializer=request, response_serializer=response
            )

        empty = empty_pb2.Empty.SerializeToString
        writes = {
            "GetServiceAccount": unary(
                "GetServiceAccount",
                self._get_account,
                iam.GetServiceAccountRequest.deserialize,
                iam.ServiceAccount.serialize,
            ),
            "DisableServiceAccount": unary(
                "DisableServiceAccount",
                self._account_state(disabled=True),
                iam.DisableServiceAccountRequest.deserialize,
                empty,
            ),
            "EnableServiceAccount": unary(
                "EnableServiceAccount",
                self._account_state(disabled=False),
                iam.EnableServiceAccountRequest.deserialize,
                empty,
            ),
            "CreateServiceAccountKey": unary(
                "CreateServiceAccountKey",
                self._create_key,
                iam.CreateServiceAccountKeyRequest.deserialize,
                iam.ServiceAccountKey.serialize,
            ),
            "DeleteServiceAccountKey": unary(
                "DeleteServiceAccountKey", self._delete_key, iam.DeleteServiceAccountKeyRequest.deserialize, empty
            ),
            "DisableServiceAccountKey": unary(
                "DisableServiceAccountKey",
                self._key_state(disabled=True),
                iam.DisableServiceAccountKeyRequest.deserialize,
                empty,
            ),
            "EnableServiceAccountKey": unary(
                "EnableServiceAccountKey",
                self._key_state(disabled=False),
                iam.EnableServiceAccountKeyRequest.deserialize,
                empty,
            ),
            "SetIamPolicy": unary(
                "SetIamPolicy",
                self._set_policy,
                iam_policy_pb2.SetIamPolicyRequest.FromString,
                policy_pb2.Policy.SerializeToString,
            ),
        }
        handlers = {
            **writes,
            "ListServiceAccounts": grpc.unary_unary_rpc_method_handler(
                self._wrap("ListServiceAccounts", self._list_accounts),
                request_deserializer=iam.ListServiceAccountsRequest.deserialize,
                response_serializer=iam.ListServiceAccountsResponse.serialize,
            ),
            "ListServiceAccountKeys": grpc.unary_unary_rpc_method_handler(
                self._wrap("ListServiceAccountKeys", self._list_keys),
                request_deserializer=iam.ListServiceAccountKeysRequest.deserialize,
                response_serializer=iam.ListServiceAccountKeysResponse.serialize,
            ),
            "GetIamPolicy": grpc.unary_unary_rpc_method_handler(
                self._wrap("GetIamPolicy", self._get_policy),
                request_deserializer=iam_policy_pb2.GetIamPolicyRequest.FromString,
                response_serializer=policy_pb2.Policy.SerializeToString,
            ),
        }
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def start(self) -> GrpcServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)

    # --- plumbing ------------------------------------------------------------------------------
    def _wrap(self, rpc: str, fn: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata())
            header = str(metadata.get("authorization", ""))
            authed = header.startswith("Bearer ") and self.store.token_valid(header[7:])
            target = _target(request)
            try:
                if self.require_auth and not authed:
                    raise unauthenticated()
                fault = self.store.take_fault(rpc)
                if fault is not None:
                    raise from_fault(fault.status, "iam.googleapis.com", fault.retry_after)
                response = fn(request)
            except ApiError as err:
                self.store.record(LoggedRequest("grpc", rpc, target, _fields(request), None, err.code, authed))
                context.abort_with_status(_status(err))
                raise  # unreachable: abort_with_status raises
            self.store.record(LoggedRequest("grpc", rpc, target, _fields(request), None, 200, authed))
            return response

        return handler

    def _project(self, name: str, permission: str) -> Project:
        ref = name.split("/")[1] if name.startswith("projects/") else name
        project = self.store.project(ref)
        if project is None or project.denied:
            raise permission_denied(permission, f"projects/{ref}")
        return project

    # --- RPCs ----------------------------------------------------------------------------------
    def _list_accounts(self, request: Any) -> Any:
        iam = self._iam
        project = self._project(request.name, "iam.serviceAccounts.list")
        with self.store.lock:
            accounts = list(project.accounts.values())
        page = paginate(accounts, request.page_token or None, request.page_size, self.store.page_size)
        if page is None:
            raise ApiError(400, "Invalid page token.")
        chunk, nxt = page
        return iam.ListServiceAccountsResponse(
            accounts=[
                iam.ServiceAccount(
                    name=f"projects/{project.project_id}/serviceAccounts/{a.email}",
                    project_id=project.project_id,
                    unique_id=a.unique_id,
                    email=a.email,
                    display_name=a.display_name,
                    description=a.description,
                    oauth2_client_id=a.unique_id,
                    etag=b"MDEwMjE5MjA=",
                    disabled=a.disabled,
                )
                for a in chunk
            ],
            next_page_token=nxt,
        )

    def _list_keys(self, request: Any) -> Any:
        iam = self._iam
        project, account = self._account(request.name, "iam.serviceAccountKeys.list")
        wanted = {iam.ListServiceAccountKeysRequest.KeyType(t).name for t in request.key_types}
        keys = [k for k in account.keys if not wanted or k.key_type in wanted]
        return iam.ListServiceAccountKeysResponse(
            keys=[
                iam.ServiceAccountKey(
                    name=f"projects/{project.project_id}/serviceAccounts/{account.email}/keys/{k.key_id}",
                    key_algorithm=k.algorithm,
                    key_origin=k.origin,
                    key_type=k.key_type,
                    valid_after_time=k.created,
                    valid_before_time=k.expires,
                    disabled=k.disabled,
                )
                for k in keys
            ]
        )

    def _account(self, name: str, permission: str) -> tuple[Project, Any]:
        """``projects/{id|number|-}/serviceAccounts/{email|unique id}`` (``-``: whichever project holds it)."""
        project_ref, account_ref = iam_writes.split_account_name(name)
        return iam_writes.account(self.store, project_ref, account_ref, permission)

    def _get_policy(self, request: Any) -> Any:
        _project, account = self._account(request.resource, "iam.serviceAccounts.getIamPolicy")
        with self.store.lock:
            return self._policy_pb(sa_policy.policy_json(account))

    def _set_policy(self, request: Any) -> Any:
        from google.protobuf import json_format

        _project, account = self._account(request.resource, "iam.serviceAccounts.setIamPolicy")
        policy = json_format.MessageToDict(request.policy)
        policy.pop("etag", None)
        if request.policy.etag:
            policy["etag"] = base64.b64encode(request.policy.etag).decode()
        return self._policy_pb(sa_policy.set_policy(self.store, account, policy))

    def _policy_pb(self, data: dict[str, Any]) -> Any:
        pb = self._policy_pb2
        policy = pb.Policy(version=int(data.get("version", 1)), etag=base64.b64decode(data["etag"]))
        for b in data.get("bindings") or []:
            binding = policy.bindings.add(role=b["role"], members=list(b["members"]))
            if b.get("condition"):
                binding.condition.expression = b["condition"].get("expression", "")
                binding.condition.title = b["condition"].get("title", "")
        return policy

    # --- writes --------------------------------------------------------------------------------
    def _account_pb(self, project: Project, a: ServiceAccount) -> Any:
        return self._iam.ServiceAccount(
            name=f"projects/{project.project_id}/serviceAccounts/{a.email}",
            project_id=project.project_id,
            unique_id=a.unique_id,
            email=a.email,
            display_name=a.display_name,
            description=a.description,
            oauth2_client_id=a.unique_id,
            etag=b"MDEwMjE5MjA=",
            disabled=a.disabled,
        )

    def _get_account(self, request: Any) -> Any:
        project, account = self._account(request.name, "iam.serviceAccounts.get")
        with self.store.lock:
            return self._account_pb(project, account)

    def _account_state(self, *, disabled: bool) -> Callable[[Any], Any]:
        def handler(request: Any) -> Any:
            from google.protobuf import empty_pb2

            iam_writes.set_account_disabled(self.store, *iam_writes.split_account_name(request.name), disabled=disabled)
            return empty_pb2.Empty()

        return handler

    def _create_key(self, request: Any) -> Any:
        iam = self._iam
        key_type = request.private_key_type or iam.ServiceAccountPrivateKeyType.TYPE_GOOGLE_CREDENTIALS_FILE
        if key_type != iam.ServiceAccountPrivateKeyType.TYPE_GOOGLE_CREDENTIALS_FILE:
            raise ApiError(400, "The fake issues only TYPE_GOOGLE_CREDENTIALS_FILE keys.")
        algorithm = request.key_algorithm or iam.ServiceAccountKeyAlgorithm.KEY_ALG_RSA_2048
        if algorithm != iam.ServiceAccountKeyAlgorithm.KEY_ALG_RSA_2048:
            raise ApiError(400, "The fake issues only KEY_ALG_RSA_2048 keys.")
        project, account, key, info = iam_writes.create_key(
            self.store, *iam_writes.split_account_name(request.name), self.token_uri
        )
        return iam.ServiceAccountKey(
            name=f"projects/{project.project_id}/serviceAccounts/{account.email}/keys/{key.key_id}",
            private_key_type=key_type,
            key_algorithm=algorithm,
            private_key_data=json.dumps(info, indent=2).encode(),
            valid_after_time=key.created,
            valid_before_time=key.expires,
            key_origin=iam.ServiceAccountKeyOrigin.GOOGLE_PROVIDED,
            key_type=iam.ListServiceAccountKeysRequest.KeyType.USER_MANAGED,
        )

    def _delete_key(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        iam_writes.delete_key(self.store, *iam_writes.split_key_name(request.name))
        return empty_pb2.Empty()

    def _key_state(self, *, disabled: bool) -> Callable[[Any], Any]:
        def handler(request: Any) -> Any:
            from google.protobuf import empty_pb2

            iam_writes.set_key_disabled(self.store, *iam_writes.split_key_name(request.name), disabled=disabled)
            return empty_pb2.Empty()

        return handler


def _target(request: Any) -> str:
    for attr in ("name", "resource"):
        value = getattr(request, attr, None)
        if isinstance(value, str):
            return value
    return ""


def _fields(request: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr in ("page_size", "page_token", "key_types"):
        if hasattr(request, attr):
            value = getattr(request, attr)
            out[attr] = ",".join(str(v) for v in value) if attr == "key_types" else str(value)
    return out


class _StatusFields(NamedTuple):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


class _Status(_StatusFields, grpc.Status):  # type: ignore[misc]
    """A grpc.Status carrying a packed google.rpc.Status, as Google's servers send it."""


def _status(err: ApiError) -> Any:
    from google.protobuf import any_pb2, duration_pb2
    from google.rpc import error_details_pb2, status_pb2

    code = grpc.StatusCode.__members__.get(err.status) or _CODES.get(err.code, grpc.StatusCode.UNKNOWN)
    details = []
    if err.reason:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=err.reason, domain=err.domain, metadata=err.metadata))
        details.append(info)
    if err.retry_after is not None:
        retry = any_pb2.Any()
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=err.retry_after)))
        details.append(retry)
    packed = status_pb2.Status(code=code.value[0], message=err.message, details=details)
    return _Status(code, err.message, (("grpc-status-details-bin", packed.SerializeToString()),))
