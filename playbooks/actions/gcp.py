"""GCP actions and checks: user-managed service-account key rotation (create, verify, disable, delete).

Uses the GCP provider's API layer (gRPC IAM admin client, bearer tokens registered for redaction). Keys
are named by key id on their service account, never by date. The new key file (JSON with the private
key) is registered with the redactor the moment it arrives and handed to delivery in memory only.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwarden.redact import redact, register_secret

from ..actions import Action, Context, StepError, action, get_action, observer

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def api(ctx: Context) -> Any:
    def make() -> Any:
        from nhiwarden.providers.gcp.api import GcpApi

        conn = ctx.connection("gcp")
        return GcpApi(
            credentials_file=conn.get("credentials"),
            grpc_endpoint=conn.get("iam_grpc_endpoint"),
            rest_endpoint=conn.get("rest_endpoint"),
            sleep=ctx.sleep,
            attempts=4,
        )

    return ctx.cached("gcp", make)


def parse_uid(uid: str) -> tuple[str, str]:
    """``gcp:<project>:sa/<email>`` -> (project, email)."""
    parts = uid.split(":", 2)
    if len(parts) != 3 or parts[0] != "gcp" or not parts[2].startswith("sa/"):
        raise StepError(f"not a GCP service account identity: {uid}")
    return parts[1], parts[2][3:]


def _account(params: dict[str, Any]) -> str:
    return f"projects/{params['project']}/serviceAccounts/{params['email']}"


def _call(ctx: Context, what: str, fn: Any) -> Any:
    try:
        return api(ctx).grpc(None, what, fn)
    except Exception as exc:
        code = getattr(exc, "code", None)  # ApiFailure.code: the HTTP status (0: network)
        raise GcpError(code if isinstance(code, int) else 0, f"{what}: {redact(exc)}") from None


class GcpError(StepError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def list_keys(ctx: Context, params: dict[str, Any]) -> list[Any]:
    from google.cloud.iam_admin_v1 import types

    request = types.ListServiceAccountKeysRequest(
        name=_account(params), key_types=[types.ListServiceAccountKeysRequest.KeyType.USER_MANAGED]
    )
    resp = _call(ctx, "ListServiceAccountKeys", lambda c: c.list_service_account_keys(request=request, retry=None))
    return list(resp.keys)


def _key_id(key: Any) -> str:
    return str(key.name).rsplit("/", 1)[-1]


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@observer("gcp.sa-key")
def observe_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    for key in list_keys(ctx, params):
        if _key_id(key) == params["key_id"]:
            created = _when(key.valid_after_time)
            return {
                "exists": True,
                "disabled": bool(key.disabled),
                "created_at": created.replace(microsecond=0).isoformat(),
                "old_enough": created <= ctx.now - timedelta(days=float(params.get("min_age_days", 0))),
            }
    return {"exists": False}


@observer("gcp.sa-keys")
def observe_keys(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"key_ids": sorted(_key_id(k) for k in list_keys(ctx, params))}


@action
class CreateKey(Action):
    name = "gcp.create-sa-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.iam_admin_v1 import types

        request = types.CreateServiceAccountKeyRequest(
            name=_account(params),
            private_key_type=types.ServiceAccountPrivateKeyType.TYPE_GOOGLE_CREDENTIALS_FILE,
            key_algorithm=types.ServiceAccountKeyAlgorithm.KEY_ALG_RSA_2048,
        )
        key = _call(ctx, "CreateServiceAccountKey", lambda c: c.create_service_account_key(request=request, retry=None))
        text = bytes(key.private_key_data).decode()
        register_secret(text)
        with contextlib.suppress(ValueError):
            register_secret(json.loads(text).get("private_key"))
        key_id = _key_id(key)
        ctx.keep_secret(ctx.current, {"key.json": text, "key_id": key_id})
        return {"key_id": key_id}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        _delete(ctx, params, outputs["key_id"])

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        known = set(params.get("known_key_ids", []))
        unknown = [_key_id(k) for k in list_keys(ctx, params) if _key_id(k) not in known]
        if len(unknown) > 1:
            raise StepError(f"{params['email']} has {len(unknown)} unexpected keys; resolve by hand")
        for key_id in unknown:
            _delete(ctx, params, key_id)
        return None


def _delete(ctx: Context, params: dict[str, Any], key_id: str) -> None:
    name = f"{_account(params)}/keys/{key_id}"
    try:
        _call(ctx, "DeleteServiceAccountKey", lambda c: c.delete_service_account_key(name=name, retry=None))
    except GcpError as exc:
        if exc.status != 404:
            raise


@action
class VerifyKey(Action):
    """Exchange a JWT signed with the delivered key for an access token at the key file's token_uri."""

    name = "gcp.verify-sa-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account

        source = params["read_from"]
        fields = get_action(source["action"]).read_back(ctx, ctx.resolve(source["params"]))  # type: ignore[attr-defined]
        try:
            info = json.loads(fields.get("key.json") or "")
        except ValueError:
            raise StepError("the delivered key file is not JSON") from None
        if info.get("private_key_id") != params["key_id"] or info.get("client_email") != params["email"]:
            raise StepError(f"the delivered key is {info.get('private_key_id')} of {info.get('client_email')}")
        try:
            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
            creds.refresh(Request())
        except Exception as exc:
            raise StepError(f"the new key cannot obtain an access token: {redact(exc)}") from None
        register_secret(creds.token)
        return {"verified_by": "oauth2 token", "key_id": params["key_id"]}


@action
class SetKeyDisabled(Action):
    name = "gcp.disable-sa-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        self._set(ctx, params, disabled=True)
        return {"key_id": params["key_id"], "at": ctx.now.isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._set(ctx, params, disabled=False)

    @staticmethod
    def _set(ctx: Context, params: dict[str, Any], *, disabled: bool) -> None:
        name = f"{_account(params)}/keys/{params['key_id']}"
        if disabled:
            _call(ctx, "DisableServiceAccountKey", lambda c: c.disable_service_account_key(name=name, retry=None))
        else:
            _call(ctx, "EnableServiceAccountKey", lambda c: c.enable_service_account_key(name=name, retry=None))


@action
class DeleteKey(Action):
    name = "gcp.delete-sa-key"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        _delete(ctx, params, params["key_id"])
        return {"deleted_key_id": params["key_id"]}

    def recover(self, ctx: Context, params: dict[str, Any], step_id: str) -> dict[str, Any] | None:
        present = {_key_id(k) for k in list_keys(ctx, params)}
        return None if params["key_id"] in present else {"deleted_key_id": params["key_id"]}


# -- offboarding ---------------------------------------------------------------------------------


@observer("gcp.sa")
def observe_sa(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        sa = _call(ctx, "GetServiceAccount", lambda c: c.get_service_account(name=_account(params), retry=None))
    except GcpError as exc:
        if exc.status == 404:
            return {"exists": False, "disabled": None}
        raise
    return {"exists": True, "disabled": bool(sa.disabled), "unique_id": str(sa.unique_id)}


@action
class DisableServiceAccount(Action):
    """Disable the account (reversible: its keys stop working, nothing is deleted)."""

    name = "gcp.disable-sa"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        request = {"name": _account(params)}
        _call(ctx, "DisableServiceAccount", lambda c: c.disable_service_account(request=request, retry=None))
        return {"disabled": params["email"], "at": ctx.now.isoformat()}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        request = {"name": _account(params)}
        _call(ctx, "EnableServiceAccount", lambda c: c.enable_service_account(request=request, retry=None))


@action
class DeleteKeys(Action):
    name = "gcp.delete-sa-keys"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        for key_id in params["key_ids"]:
            _delete(ctx, params, key_id)
        return {"deleted": list(params["key_ids"])}
