"""Resolve credential-report key slots to AccessKeyIds, for flagged keys only.

Owns the slot-to-key match. It matches a slot to a key only when exactly one key has the slot's
status and creation time (to the second) and no other slot claims it; otherwise it never guesses and
rebuilds the user's keys from per-key data (``GetAccessKeyLastUsed``), each named by its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nhiwarden.model import Credential
from nhiwarden.providers.aws.credential_report import KEY_TRACKING_SINCE
from nhiwarden.providers.aws.identities import aware, key_uid
from nhiwarden.providers.aws.session import AccountSession

PER_KEY_SOURCE = "aws iam GetAccessKeyLastUsed"


@dataclass
class KeyMeta:
    key_id: str
    active: bool
    created_at: datetime | None


def list_keys(aws: AccountSession, user: str) -> list[KeyMeta]:
    keys: list[KeyMeta] = []
    params: dict[str, Any] = {"UserName": user}
    while True:
        page = aws.call("iam", "list_access_keys", **params)
        for meta in page.get("AccessKeyMetadata") or []:
            keys.append(
                KeyMeta(
                    key_id=meta["AccessKeyId"],
                    active=meta.get("Status") == "Active",
                    created_at=aware(meta.get("CreateDate")),
                )
            )
        if not page.get("IsTruncated") or not page.get("Marker"):
            return keys
        params["Marker"] = page["Marker"]


def _second(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value is not None else None


def match_slots(slots: list[Credential], keys: list[KeyMeta]) -> dict[str, KeyMeta] | None:
    """credential uid -> key, or None when any slot is ambiguous or unmatched (never guess)."""
    matched: dict[str, KeyMeta] = {}
    claimed: set[str] = set()
    for cred in slots:
        candidates = [k for k in keys if k.active == cred.enabled and _second(k.created_at) == _second(cred.created_at)]
        if len(candidates) != 1 or candidates[0].key_id in claimed:
            return None
        claimed.add(candidates[0].key_id)
        matched[cred.uid] = candidates[0]
    return matched


def precise_from_slot(account: str, user: str, cred: Credential, key: KeyMeta) -> Credential:
    """The slot's credential, renamed to its AccessKeyId; usage stays the report's."""
    data = cred.model_dump()
    data.update(
        uid=key_uid(account, user, key.key_id),
        id=key.key_id,
        name=f"{user} access key {key.key_id}",
        provisional=False,
    )
    data["attributes"] = {**cred.attributes, "matched_by": "slot status and creation time"}
    return Credential.model_validate(data)


def precise_from_key(aws: AccountSession, account: str, user: str, key: KeyMeta) -> Credential:
    """A credential built from per-key data alone (used when the slots are ambiguous)."""
    last = aws.call("iam", "get_access_key_last_used", AccessKeyId=key.key_id).get("AccessKeyLastUsed") or {}
    service = last.get("ServiceName")
    region = last.get("Region")
    return Credential(
        uid=key_uid(account, user, key.key_id),
        kind="aws-access-key",
        id=key.key_id,
        name=f"{user} access key {key.key_id}",
        created_at=key.created_at,
        last_used_at=aware(last.get("LastUsedDate")),
        last_used_source=PER_KEY_SOURCE,
        last_used_tracking_since=KEY_TRACKING_SINCE,
        enabled=key.active,
        static=True,
        provisional=False,
        attributes={
            "last_used_service": None if service in (None, "N/A") else service,
            "last_used_region": None if region in (None, "N/A") else region,
            "matched_by": "per-key data (slots were ambiguous)",
        },
    )


def resolve_user(aws: AccountSession, account: str, user: str, provisional: list[Credential]) -> list[Credential]:
    """Precise credentials replacing the user's provisional ones (all of them if matching is ambiguous)."""
    keys = list_keys(aws, user)
    matched = match_slots(provisional, keys)
    if matched is not None:
        return [precise_from_slot(account, user, c, matched[c.uid]) for c in provisional]
    return [precise_from_key(aws, account, user, k) for k in keys]
