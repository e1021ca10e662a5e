"""Secrets never survive redaction; retries are bounded and honour Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nhiwarden.redact import redact, register_secret
from nhiwarden.retry import RetryPolicy, parse_retry_after


def test_registered_secret_is_masked_everywhere_in_text():
    register_secret("zX9-registered-canary")
    assert "zX9-registered-canary" not in redact("error: token zX9-registered-canary rejected; zX9-registered-canary")


@pytest.mark.parametrize(
    "text",
    [
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1",
        "X-Vault-Token hvs.CAESIJ7pmK9wQ2x5ZtLs0aPnVbRy",
        "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.sig",
        '{"client_secret": "Q~8Abcdefghijklmnop"}',
        "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----",
    ],
)
def test_secret_shapes_are_masked_even_when_unregistered(text: str):
    out = redact(text)
    assert "***" in out
    for secret in ("wJalrXUtnFEMI", "CAESIJ7pmK9", "eyJhbGciOi", "Q~8Abcdef", "MIIEv"):
        assert secret not in out


def test_plain_messages_are_untouched():
    assert redact("AccessDenied: user svc-ci may not call iam:ListUsers") == (
        "AccessDenied: user svc-ci may not call iam:ListUsers"
    )


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7
    now = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jun 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_retries_honour_retry_after_and_stop_after_the_limit():
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, sleep=slept.append)
    calls = {"n": 0}

    def throttled() -> str:
        calls["n"] += 1
        raise RuntimeError("429")

    with pytest.raises(RuntimeError):
        policy.call(throttled, retryable=lambda e: True, retry_after=lambda e: 2.5)
    assert calls["n"] == 3 and slept == [2.5, 2.5] and policy.throttled == 2


def test_success_after_retries_and_non_retryable_errors_raise_at_once():
    slept: list[float] = []
    outcomes = iter([RuntimeError("busy"), RuntimeError("busy"), "ok"])

    def flaky() -> str:
        item = next(outcomes)
        if isinstance(item, Exception):
            raise item
        return item

    policy = RetryPolicy(attempts=5, base_delay=1, max_delay=4, sleep=slept.append)
    assert policy.call(flaky, retryable=lambda e: True) == "ok"
    assert len(slept) == 2 and all(0.5 <= s <= 4 for s in slept)
    with pytest.raises(ValueError):
        policy.call(lambda: (_ for _ in ()).throw(ValueError("bad")), retryable=lambda e: False)
