"""Turn botocore exceptions into nhiwarden's redacted ScopeError and retry decisions.

Owns the classification of AWS error codes; never lets raw exception text out unredacted.
"""

from __future__ import annotations

from typing import Any

from nhiwarden.errors import ScopeError
from nhiwarden.redact import redact
from nhiwarden.retry import parse_retry_after

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "LimitExceeded",  # IAM answers GenerateCredentialReport bursts with it; the scan never creates anything
    }
)
TRANSIENT_CODES = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "RequestTimeout"})
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AWSOrganizationsNotInUseException"}
)
AUTH_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "AuthFailure",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_denied(exc: BaseException) -> bool:
    return error_code(exc) in DENIED_CODES


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection problems are worth another try; everything else is final."""
    code = error_code(exc)
    if code is not None:
        status = _status(exc)
        return code in THROTTLING_CODES or code in TRANSIENT_CODES or (status is not None and status >= 500)
    name = type(exc).__name__
    return name in {"EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError"}


def retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    headers: dict[str, Any] = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    value = headers.get("retry-after")
    return parse_retry_after(str(value)) if value is not None else None


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def describe(exc: BaseException) -> str:
    """A short, redacted description of an SDK error."""
    code = error_code(exc)
    if code is not None:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or ""
        return redact(f"{code}: {message}".strip().rstrip(":"))
    return redact(f"{type(exc).__name__}: {exc}")


def kind_of(exc: BaseException) -> str:
    code = error_code(exc)
    if code in DENIED_CODES:
        return "permission"
    if code in THROTTLING_CODES:
        return "throttled"
    if code in AUTH_CODES:
        return "auth"
    if code == "NoSuchEntity":
        return "not-found"
    name = type(exc).__name__
    if name in {"NoCredentialsError", "PartialCredentialsError", "ProfileNotFound", "NoRegionError"}:
        return "auth"
    if code is None:
        return "network" if is_retryable(exc) else "error"
    return "error"


def scope_error(exc: BaseException, action: str, account: str | None = None) -> ScopeError:
    """A ScopeError naming the action, the account and the redacted AWS reason."""
    if isinstance(exc, ScopeError):
        return exc
    kind = kind_of(exc)
    where = f" in account {account}" if account else ""
    detail = describe(exc)
    if kind == "throttled":
        detail += " (still throttled after retries)"
    return ScopeError(f"{action}{where} failed: {detail}", kind=kind)
