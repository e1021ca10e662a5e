"""Make moto's GetAccountAuthorizationDetails honour ``MaxItems`` and ``Marker`` like AWS does.

moto 5.x returns everything in one page with ``IsTruncated: false``. This patch (applied inside the
sandbox process, idempotent) pages the same combined list AWS pages: users, groups, roles, then
policies, ``MaxItems`` entries per page, with an opaque ``Marker``. Test/demo only; never shipped to a
real account.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

_lock = threading.Lock()
_patched = False
DEFAULT_MAX_ITEMS = 100


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"nhw-gaad:{offset}".encode()).decode()


def _decode(marker: str) -> int:
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        return int(text.split(":", 1)[1])
    except (ValueError, IndexError):
        return -1


def install() -> None:
    """Patch moto's IAM response handler once per process."""
    global _patched
    with _lock:
        if _patched:
            return
        from moto.core.responses import ActionResult
        from moto.iam.responses import IamResponse

        def get_account_authorization_details(self: Any) -> Any:
            filter_param = self._get_param("Filter", [])
            max_items = int(self._get_param("MaxItems") or DEFAULT_MAX_ITEMS)
            marker = self._get_param("Marker")
            details = self.backend.get_account_authorization_details(filter_param)
            entries: list[tuple[str, Any]] = (
                [("UserDetailList", u) for u in details["users"]]
                + [("GroupDetailList", g) for g in details["groups"]]
                + [("RoleDetailList", r) for r in details["roles"]]
                + [("Policies", p) for p in details["managed_policies"]]
            )
            start = _decode(marker) if marker else 0
            if start < 0 or start > len(entries):
                from moto.iam.exceptions import ValidationError

                raise ValidationError("Invalid Marker")  # what AWS answers to a bad marker
            page = entries[start : start + max_items]
            result: dict[str, Any] = {
                "UserDetailList": [],
                "GroupDetailList": [],
                "RoleDetailList": [],
                "Policies": [],
                "IsTruncated": start + max_items < len(entries),
            }
            for key, item in page:
                result[key].append(item)
            if result["IsTruncated"]:
                result["Marker"] = _encode(start + max_items)
            return ActionResult(result)

        IamResponse.get_account_authorization_details = get_account_authorization_details  # type: ignore[method-assign]
        _patched = True
