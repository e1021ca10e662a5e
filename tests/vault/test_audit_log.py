"""Parsing real audit lines written by the OpenBao dev server (plain and gzip), in one streaming pass."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from nhiwarden.providers.vault.audit_log import parse_time, read_audit_log, scan_lines

from .conftest import Vault


def test_approle_login_gives_last_use_per_role_and_secret_id_metadata(vault: Vault) -> None:
    usage = read_audit_log(vault.server.audit_log)
    assert ("", "ci") in usage.by_role
    assert ("", "legacy-batch") not in usage.by_role
    runner = usage.role_metadata_last_use("", "ci", {"owner": "team-ci", "host": "runner-2"})
    assert runner is not None
    assert usage.role_metadata_last_use("", "ci", {"owner": "team-ci"}) is None


def test_userpass_login_is_attributed_to_the_user(vault: Vault) -> None:
    usage = read_audit_log(vault.server.audit_log)
    assert ("", "svc-backup") in usage.by_user
    assert ("", "svc-legacy") not in usage.by_user


def test_token_use_is_keyed_by_accessor(vault: Vault) -> None:
    usage = read_audit_log(vault.server.audit_log)
    assert vault.estate.tokens["ci-login"] in usage.by_accessor
    assert vault.estate.tokens["break-glass"] not in usage.by_accessor
    assert usage.hmac_accessors is False
    assert usage.first_time is not None and usage.last_time is not None
    assert usage.first_time <= usage.last_time


def test_namespace_logins_are_keyed_by_namespace_path(vault: Vault) -> None:
    usage = read_audit_log(vault.server.audit_log)
    assert ("team-a", "ns-worker") in usage.by_role
    assert ("", "ns-worker") not in usage.by_role


def test_default_hmac_device_logs_accessors_as_hmacs(vault: Vault) -> None:
    usage = read_audit_log(vault.server.hmac_audit_log)
    assert usage.hmac_accessors is True
    assert vault.estate.tokens["ci-login"] not in usage.by_accessor
    assert ("", "ci") in usage.by_role  # role names stay readable


def test_gzip_log_gives_the_same_answer_as_plain(vault: Vault, tmp_path: Path) -> None:
    plain = vault.server.audit_log.read_bytes()
    packed = tmp_path / "audit.log.gz"
    packed.write_bytes(gzip.compress(plain))
    copy = tmp_path / "audit.log"
    copy.write_bytes(plain)
    a, b = read_audit_log(copy), read_audit_log(packed)
    assert (a.by_accessor, a.by_role, a.by_user, a.lines) == (b.by_accessor, b.by_role, b.by_user, b.lines)


def test_broken_lines_are_counted_not_fatal(vault: Vault) -> None:
    real = vault.server.audit_log.read_text().splitlines()[:20]
    lines = [*real, '{"type":"response","time":', "not json", ""]
    usage = scan_lines(lines)
    assert usage.lines == len(lines)
    assert usage.bad_lines == 1  # only the truncated response line is attempted and fails


def test_only_responses_count_as_use() -> None:
    request = {"time": "2026-01-01T00:00:00Z", "type": "request", "auth": {"accessor": "acc-1"}}
    response = {"time": "2026-01-02T00:00:00.123456789Z", "type": "response", "auth": {"accessor": "acc-1"}}
    usage = scan_lines([json.dumps(request, separators=(",", ":")), json.dumps(response, separators=(",", ":"))])
    assert usage.by_accessor == {"acc-1": datetime(2026, 1, 2, 0, 0, 0, 123456, tzinfo=UTC)}


def test_go_nanosecond_timestamps_parse() -> None:
    assert parse_time("2026-11-29T08:22:42.101502549Z") == datetime(2026, 11, 29, 8, 22, 42, 101502, tzinfo=UTC)
    assert parse_time("2026-11-29T08:22:42Z") == datetime(2026, 11, 29, 8, 22, 42, tzinfo=UTC)


def test_unreadable_audit_log_marks_usage_missing(vault: Vault, tmp_path: Path) -> None:
    from .conftest import scan

    (result,) = scan({"addr": vault.addr, "audit_log": str(tmp_path / "absent.log")}, vault.root)
    assert result.attributes["usage_signal"] is None
    assert any(m.startswith("last-used: audit log") and "unreadable" in m for m in result.missing)
