"""How Azure grants are graded: pure functions, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

from nhiwarden.model import Privilege
from nhiwarden.providers.azure import privilege
from nhiwarden.providers.azure.build import parse_time


def test_high_impact_graph_permissions_are_admin_or_escalation() -> None:
    assert privilege.graph_permission("RoleManagement.ReadWrite.Directory")[0] is Privilege.ADMIN
    assert privilege.graph_permission("AppRoleAssignment.ReadWrite.All")[0] is Privilege.ADMIN
    assert privilege.graph_permission("Application.ReadWrite.All")[0] is Privilege.PRIVILEGE_ESCALATION
    assert privilege.graph_permission("Directory.ReadWrite.All")[0] is Privilege.PRIVILEGE_ESCALATION


def test_other_graph_permissions_are_read_or_write_by_name() -> None:
    assert privilege.graph_permission("Mail.Send")[0] is Privilege.WRITE
    assert privilege.graph_permission("Sites.ReadWrite.All")[0] is Privilege.WRITE
    assert privilege.graph_permission("User.Read.All")[0] is Privilege.READ


def test_directory_roles_are_graded_by_template_id_then_name() -> None:
    assert privilege.directory_role("62e90394-69f5-4237-9190-012177145e10", "x")[1] is Privilege.ADMIN
    assert privilege.directory_role(None, "Application Administrator")[1] is Privilege.PRIVILEGE_ESCALATION
    assert privilege.directory_role(None, "Global Reader")[1] is Privilege.READ
    assert privilege.directory_role(None, "Teams Administrator")[1] is Privilege.WRITE


def test_custom_role_with_every_action_is_a_custom_subscription_admin() -> None:
    level, reason, controls = privilege.custom_arm_role("Ops", [{"actions": ["*"], "notActions": []}])
    assert level is Privilege.ADMIN and controls == ["CIS-AZURE-5.23"]
    assert "'*'" in reason


def test_custom_role_that_blocks_authorization_writes_is_write_only() -> None:
    perms = [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}]
    assert privilege.custom_arm_role("Almost contributor", perms)[0] is Privilege.WRITE


def test_custom_role_that_writes_role_assignments_is_escalation() -> None:
    perms = [{"actions": ["Microsoft.Authorization/roleAssignments/write", "*/read"]}]
    assert privilege.custom_arm_role("Granter", perms)[0] is Privilege.PRIVILEGE_ESCALATION
    assert privilege.custom_arm_role("Looker", [{"actions": ["*/read"]}])[0] is Privilege.READ


def test_graph_timestamps_with_seven_fractional_digits_parse() -> None:
    assert parse_time("2026-05-01T10:00:00.1234567Z") == datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_time("2126-01-01T00:00:00Z") == datetime(2126, 1, 1, tzinfo=UTC)
    assert parse_time(None) is None


def test_timestamps_without_zone_are_utc_and_garbage_is_unknown() -> None:
    assert parse_time("2026-05-01T10:00:00") == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_time("2026-05-01T10:00:00.5+02:00") == datetime(2026, 5, 1, 8, 0, 0, 500000, tzinfo=UTC)
    assert parse_time("not a date") is None
