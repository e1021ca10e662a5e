"""Check that a migrated credential is no longer used, from a fresh scan report's last-used signal.

The final stages of a migration run after a verification window; before the old secret is
deactivated or revoked, the report of a scan made *after* the migration must show it unused since
then. The report is named at apply time by ``NHIWARDEN_FRESH_REPORT`` (a path) or the check's
``report`` parameter. A report older than the migration, or a provider without a usage signal, is
"unknown", which fails the check: a missing signal never becomes a verdict. Read-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import Context, StepError, observer

ENV = "NHIWARDEN_FRESH_REPORT"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@observer("usage.unused-in-report")
def observe_unused(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    from nhiwarden.reports.json_report import load

    path = params.get("report") or ctx.env.get(ENV)
    if not path:
        return {"fresh": False, "usage_known": False, "used_after": None, "reason": f"set {ENV} to a fresh report"}
    report = load(path)
    since = _when(params["since"])
    for identity in report.identities:
        for cred in identity.credentials:
            if cred.uid != params["credential_uid"]:
                continue
            used = cred.last_used_at is not None and cred.last_used_at > since
            return {
                "fresh": report.scan.as_of > since,
                "usage_known": cred.last_used_source is not None,
                "used_after": used,
                "last_used_at": cred.last_used_at.isoformat() if cred.last_used_at else None,
            }
    # absent from a fresh report: already gone (nothing uses it)
    if report.scan.as_of > since:
        return {"fresh": True, "usage_known": True, "used_after": False, "last_used_at": None}
    raise StepError(f"{path}: the credential {params['credential_uid']} is not in the report")
