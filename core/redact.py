"""Keep secret values out of every report, log line and error message.

Secrets the process learns (tokens from the environment, keys a playbook creates) are registered here;
``redact`` replaces each registered value and anything shaped like a well-known secret before text
leaves the process. Providers call ``register_secret`` as soon as they read one.
"""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()

# Shapes of secrets that may appear in API error text even when never registered. The ``keep`` group
# is the harmless prefix left in place so the message still says what was masked.
_PATTERNS = [
    re.compile(
        r"(?P<keep>(?i:aws_secret_access_key|secret_access_key|secretaccesskey)[\"']?\s*[=:]\s*[\"']?)"
        r"[A-Za-z0-9/+]{40}"
    ),
    re.compile(r"\b(?:hvs|hvb|hvr|s|b)\.[A-Za-z0-9_-]{20,}\b"),  # Vault/OpenBao tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?P<keep>(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"(?P<keep>(?i:client_secret|password|secret_id|token)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]{6,}"),
]
MASK = "***"
_MIN_SECRET_LENGTH = 6


def register_secret(value: str | None) -> None:
    """Remember a secret so ``redact`` masks it wherever it appears."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    """Return ``text`` as a string with every known secret and secret-shaped value masked."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        out = out.replace(secret, MASK)
    for pattern in _PATTERNS:
        out = pattern.sub(_mask_match, out)
    return out


def _mask_match(match: re.Match[str]) -> str:
    return (match.groupdict().get("keep") or "") + MASK
