"""IAM admin writes on the store, shared by the gRPC and REST fakes: accounts and user-managed keys.

Each function checks what Google checks (the project is readable, the account/key exists, at most 10
user-managed keys per account, system-managed keys are Google's, a key Google disabled for exposure
cannot be re-enabled) and raises ``ApiError`` with Google's status; the servers only translate wire
formats. Created keys are real RSA keys: the private key goes into the returned credentials file and
the store's canaries, never into a listing or the request log.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from nhiwarden.sandbox.gcp.errors import ApiError, not_found, permission_denied
from nhiwarden.sandbox.gcp.store import Key, Project, ServiceAccount, Store

MAX_USER_MANAGED_KEYS = 10


def account(store: Store, project_ref: str, account_ref: str, permission: str) -> tuple[Project, ServiceAccount]:
    """By email or unique id; ``project_ref`` may be an id, a number or ``-`` (whichever project holds it)."""
    if project_ref != "-":
        project = store.project(project_ref)
        if project is None or project.denied:
            raise permission_denied(permission, f"projects/{project_ref}")
    found = store.find_account(project_ref, account_ref)
    if found is None:
        raise not_found(f"Service account projects/{project_ref}/serviceAccounts/{account_ref} does not exist.")
    return found


def key(store: Store, project_ref: str, account_ref: str, key_id: str, permission: str) -> tuple[ServiceAccount, Key]:
    _project, owner = account(store, project_ref, account_ref, permission)
    with store.lock:
        found = next((k for k in owner.keys if k.key_id == key_id), None)
    if found is None:
        raise not_found(
            f"Service account key projects/{project_ref}/serviceAccounts/{account_ref}/keys/{key_id} does not exist."
        )
    return owner, found


def set_account_disabled(store: Store, project_ref: str, account_ref: str, *, disabled: bool) -> None:
    verb = "disable" if disabled else "enable"
    _project, owner = account(store, project_ref, account_ref, f"iam.serviceAccounts.{verb}")
    with store.lock:
        owner.disabled = disabled  # idempotent, like Google


def create_key(
    store: Store, project_ref: str, account_ref: str, token_uri: str
) -> tuple[Project, ServiceAccount, Key, dict[str, Any]]:
    """A new USER_MANAGED RSA-2048 key and its Google credentials file (the only copy of the private key)."""
    from nhiwarden.sandbox.gcp.fake import rsa_keypair

    project, owner = account(store, project_ref, account_ref, "iam.serviceAccountKeys.create")
    private_pem, public_pem = rsa_keypair()
    key_id = secrets.token_hex(20)
    now = datetime.now(UTC).replace(microsecond=0)
    with store.lock:
        if sum(k.key_type == "USER_MANAGED" for k in owner.keys) >= MAX_USER_MANAGED_KEYS:
            raise ApiError(400, "Precondition check failed.", status_name="FAILED_PRECONDITION")
        new = Key(key_id=key_id, created=now, private_key_data=private_pem, public_key_pem=public_pem)
        owner.keys.append(new)
        store.canaries.append(private_pem)
    info = {
        "type": "service_account",
        "project_id": project.project_id,
        "private_key_id": key_id,
        "private_key": private_pem,
        "client_email": owner.email,
        "client_id": owner.unique_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{owner.email}",
        "universe_domain": "googleapis.com",
    }
    return project, owner, new, info


def delete_key(store: Store, project_ref: str, account_ref: str, key_id: str) -> None:
    owner, found = key(store, project_ref, account_ref, key_id, "iam.serviceAccountKeys.delete")
    if found.key_type != "USER_MANAGED":
        raise ApiError(400, "System-managed keys cannot be deleted.", status_name="FAILED_PRECONDITION")
    with store.lock:
        owner.keys = [k for k in owner.keys if k.key_id != key_id]


def set_key_disabled(store: Store, project_ref: str, account_ref: str, key_id: str, *, disabled: bool) -> None:
    verb = "disable" if disabled else "enable"
    _owner, found = key(store, project_ref, account_ref, key_id, f"iam.serviceAccountKeys.{verb}")
    with store.lock:
        if found.key_type != "USER_MANAGED":
            raise ApiError(400, f"System-managed keys cannot be {verb}d.", status_name="FAILED_PRECONDITION")
        if not disabled and (found.disable_reason or "").endswith(("_EXPOSED", "_COMPROMISE_DETECTED")):
            raise ApiError(
                400,
                "The key was disabled because it was exposed and cannot be enabled.",
                status_name="FAILED_PRECONDITION",
            )
        found.disabled = disabled
        found.disable_reason = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED" if disabled else None


def split_account_name(name: str) -> tuple[str, str]:
    """``projects/{p}/serviceAccounts/{sa}`` -> (p, sa); 400 for anything else."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "serviceAccounts" or not parts[3]:
        raise ApiError(400, f"Invalid resource name: {name}")
    return parts[1], parts[3]


def split_key_name(name: str) -> tuple[str, str, str]:
    account_name, sep, key_id = name.partition("/keys/")
    if not sep or not key_id or "/" in key_id:
        raise ApiError(400, f"Invalid resource name: {name}")
    project_ref, account_ref = split_account_name(account_name)
    return project_ref, account_ref, key_id
