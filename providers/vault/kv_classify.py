"""Recognise static cloud credentials held in KV v2 from field names and paths, never from values.

The inputs are what ``<mount>/subkeys/<path>`` returns (field names with every value nulled) and the
secret's path; when only metadata is readable, the path alone decides. ``custom_metadata`` (which
Vault documents as non-secret) may name an owner and the public key id.

Pure: no I/O, and no secret value ever reaches this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KvCredentialKind:
    kind: str  # credential kind in the normalized model
    cloud: str  # aws | gcp | azure | database
    reason: str


AWS = KvCredentialKind("aws-access-key", "aws", "AWS access key pair field names")
GCP = KvCredentialKind("gcp-sa-key", "gcp", "GCP service-account key field names")
AZURE = KvCredentialKind("azure-client-secret", "azure", "Azure client secret field names")
DATABASE = KvCredentialKind("database-password", "database", "database password field names")

_AWS_ID = {"aws_access_key_id", "access_key_id", "accesskeyid", "aws_access_key", "access_key"}
_AWS_SECRET = {"aws_secret_access_key", "secret_access_key", "secretaccesskey", "aws_secret_key", "secret_key"}
_GCP_FIELDS = {"private_key_id", "client_email"}
_GCP_BLOBS = {
    "key.json",
    "credentials.json",
    "service_account.json",
    "service-account.json",
    "sa.json",
    "service_account_json",
    "service_account_key",
    "gcp_service_account_key",
    "gcp_sa_key",
    "gcp_credentials",
    "google_credentials",
    "google_application_credentials",
}
_AZURE_SECRET = {"client_secret", "azure_client_secret", "clientsecret", "arm_client_secret"}
_AZURE_CONTEXT = {"client_id", "azure_client_id", "tenant_id", "azure_tenant_id", "clientid", "tenantid"}
_DB_PASSWORD = {
    "db_password",
    "database_password",
    "pg_password",
    "postgres_password",
    "postgresql_password",
    "mysql_password",
    "mssql_password",
    "mongodb_password",
    "redis_password",
}
_DB_CONTEXT = {
    "db_user",
    "db_username",
    "db_host",
    "dsn",
    "jdbc_url",
    "connection_string",
    "database",
    "dbname",
    "db_name",
    "host",
    "port",
    "username",
    "user",
}
_DB_PATH = re.compile(r"(^|[/_.-])(db|database|postgres(ql)?|pg|mysql|mariadb|mssql|mongo(db)?|redis|rds)([/_.-]|$)")
_AWS_PATH = re.compile(r"(^|[/_.-])(aws|iam)([/_.-]|$)")
_GCP_PATH = re.compile(r"(^|[/_.-])(gcp|gcloud|google|service[-_]?account)([/_.-]|$)")
_AZURE_PATH = re.compile(r"(^|[/_.-])(azure|entra|arm|aad)([/_.-]|$)")
_CRED_PATH = re.compile(r"(key|cred|secret|password|passwd|token)", re.IGNORECASE)

OWNER_KEYS = ("owner", "team", "contact", "owned_by")
KEY_ID_KEYS = ("key_id", "access_key_id", "aws_access_key_id", "private_key_id", "client_id", "credential_id")


def flatten_names(subkeys: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Field names (nested ones as ``a/b``), lowercased; values are ignored (they are null anyway)."""
    names: list[str] = []
    for key, value in subkeys.items():
        name = f"{prefix}{key}".lower()
        names.append(name)
        if isinstance(value, Mapping):
            names.extend(flatten_names(value, prefix=f"{name}/"))
    return names


def classify_fields(path: str, names: Iterable[str]) -> KvCredentialKind | None:
    """What kind of static cloud credential a secret holds, from its field names (and path for blobs)."""
    fields = {n.rsplit("/", 1)[-1] for n in names}
    lowered_path = path.lower()
    if fields & _AWS_SECRET and (fields & _AWS_ID or _AWS_PATH.search(lowered_path)):
        return AWS
    if fields & _AWS_ID and fields & {"secret", "secret_access_key"}:
        return AWS
    if fields >= _GCP_FIELDS or ("private_key" in fields and "client_email" in fields):
        return GCP
    if fields & _GCP_BLOBS:
        return GCP
    if fields & _AZURE_SECRET and (fields & _AZURE_CONTEXT or _AZURE_PATH.search(lowered_path)):
        return AZURE
    if fields & _DB_PASSWORD:
        return DATABASE
    if "password" in fields and (fields & _DB_CONTEXT or _DB_PATH.search(lowered_path)):
        return DATABASE
    if len(fields) == 1 and _GCP_PATH.search(lowered_path) and _CRED_PATH.search(next(iter(fields))):
        return KvCredentialKind("gcp-sa-key", "gcp", "single opaque field under a GCP service-account path")
    return None


def classify_path(path: str) -> KvCredentialKind | None:
    """Fallback when field names cannot be read: a credential-looking leaf under a cloud-named path."""
    lowered = path.lower()
    if not _CRED_PATH.search(lowered.rsplit("/", 1)[-1]) and not _CRED_PATH.search(lowered):
        return None
    for pattern, kind in ((_AWS_PATH, AWS), (_GCP_PATH, GCP), (_AZURE_PATH, AZURE), (_DB_PATH, DATABASE)):
        if pattern.search(lowered):
            return KvCredentialKind(kind.kind, kind.cloud, f"path name suggests {kind.cloud} credentials")
    return None


def metadata_value(custom: Mapping[str, Any] | None, keys: Iterable[str]) -> str | None:
    if not custom:
        return None
    lowered = {str(k).lower(): v for k, v in custom.items()}
    for key in keys:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
