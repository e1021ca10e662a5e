"""Google's error shapes, for both fakes: the JSON envelope (REST) and google.rpc.Status (gRPC).

Shapes follow https://cloud.google.com/apis/design/errors: ``{"error": {code, message, status,
details[]}}`` with ``google.rpc.ErrorInfo`` / ``RetryInfo`` details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class ApiError(Exception):
    """An error either fake can render in its own wire format."""

    code: int
    message: str
    reason: str | None = None
    domain: str = "googleapis.com"
    metadata: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    status_name: str | None = None  # when the HTTP code is shared (409: ABORTED / ALREADY_EXISTS ...)

    @property
    def status(self) -> str:
        return self.status_name or STATUS_NAMES.get(self.code, "UNKNOWN")

    def to_json(self) -> dict[str, Any]:
        details: list[dict[str, Any]] = []
        if self.reason:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": self.domain,
                    "metadata": dict(self.metadata),
                }
            )
        if self.retry_after is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{self.retry_after}s"})
        body: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if details:
            body["details"] = details
        return {"error": body}


def permission_denied(permission: str, resource: str) -> ApiError:
    return ApiError(
        403,
        f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).",
        reason="IAM_PERMISSION_DENIED",
        domain="iam.googleapis.com",
        metadata={"permission": permission, "resource": resource},
    )


def service_disabled(service: str, title: str, project_number: str) -> ApiError:
    return ApiError(
        403,
        f"{title} has not been used in project {project_number} before or it is disabled. Enable it by "
        f"visiting https://console.developers.google.com/apis/api/{service}/overview?project={project_number} "
        "then retry. If you enabled this API recently, wait a few minutes for the action to propagate to "
        "our systems and retry.",
        reason="SERVICE_DISABLED",
        metadata={"service": service, "consumer": f"projects/{project_number}"},
    )


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential.",
        reason="ACCESS_TOKEN_TYPE_UNSUPPORTED",
    )


def from_fault(status: int, service: str, retry_after: int | None) -> ApiError:
    """The error an injected fault answers with, shaped like Google's for that status."""
    if status == 429:
        return ApiError(
            429,
            f"Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of "
            f"service '{service}'.",
            reason="RATE_LIMIT_EXCEEDED",
            metadata={"service": service, "quota_metric": f"{service}/default_requests"},
            retry_after=retry_after,
        )
    if status == 503:
        return ApiError(503, "The service is currently unavailable.", retry_after=retry_after)
    if status == 404:
        return not_found("Requested entity was not found.")
    if status == 403:
        return ApiError(403, "The caller does not have permission", reason="IAM_PERMISSION_DENIED")
    return ApiError(status, "Internal error encountered.")
