"""AWS access-key rotation with delivery into OpenBao KV v2, end to end against moto and a real OpenBao."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from nhiwarden.playbooks import Engine, PlanRequest, StepFailed, connections, make_plan
from nhiwarden.reports.json_report import load

from .pb_helpers import Estate


def plan_for(estate: Estate, **kw: Any) -> Any:
    report = load(estate.report_path)
    req = PlanRequest(
        playbook="rotate",
        report=report,
        report_path=str(estate.report_path),
        finding_ids=[estate.finding_id],
        deliver=f"vault-kv:secret/{estate.kv_path}",
        connections=connections(report, dict(os.environ)),
        **kw,
    )
    return make_plan(req)


def engine(plan: Any, tmp_path: Path, **kw: Any) -> Engine:
    return Engine(plan, tmp_path / f"{plan.id}.journal.jsonl", sleep=lambda _s: None, **kw)


def test_rotation_delivers_a_working_key_to_kv_and_deactivates_the_old_one(make_estate: Any, tmp_path: Path) -> None:
    estate = make_estate()
    plan = plan_for(estate)
    assert [s.stage for s in plan.steps] == ["create", "deliver", "verify", "deactivate", "delete"]

    result = engine(plan, tmp_path).apply()

    assert result.ran == ["t1.create", "t1.deliver", "t1.verify", "t1.deactivate"]
    keys = estate.key_status()
    new_ids = [k for k in keys if k != estate.key_id]
    assert len(new_ids) == 1
    assert keys == {estate.key_id: "Inactive", new_ids[0]: "Active"}
    data, version = estate.kv.read(estate.kv_path)
    assert version == 2
    assert data["aws_access_key_id"] == new_ids[0]
    assert data["region"] == "eu-west-1"  # fields the rotation does not own are kept
    sts = boto3.client(
        "sts",
        endpoint_url=estate.moto_url,
        region_name="us-east-1",
        aws_access_key_id=data["aws_access_key_id"],
        aws_secret_access_key=data["aws_secret_access_key"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{estate.user}")
    meta = estate.kv.metadata(estate.kv_path)["custom_metadata"]
    assert meta["previous_key_id"] == estate.key_id and meta["key_id"] == new_ids[0]
    assert "delete" in result.message


def test_old_key_is_deleted_only_in_the_separate_delete_stage_after_the_hold(make_estate: Any, tmp_path: Path) -> None:
    estate = make_estate()
    plan = plan_for(estate, delete_after_days=7)
    now = datetime.now(UTC)
    engine(plan, tmp_path, now=now).apply()
    assert engine(plan, tmp_path, now=now).apply().ran == []  # delete is never run without --stage
    with pytest.raises(Exception, match="not due before"):
        engine(plan, tmp_path, now=now + timedelta(days=3)).apply(stage="delete")
    assert estate.key_id in estate.key_status()

    result = engine(plan, tmp_path, now=now + timedelta(days=8)).apply(stage="delete")

    assert result.ran == ["t1.delete"]
    assert estate.key_id not in estate.key_status()
    assert list(estate.key_status().values()) == ["Active"]


def test_delete_stage_is_refused_when_someone_reactivated_the_old_key(make_estate: Any, tmp_path: Path) -> None:
    estate = make_estate()
    plan = plan_for(estate, delete_after_days=0)
    engine(plan, tmp_path).apply()
    estate.iam.update_access_key(UserName=estate.user, AccessKeyId=estate.key_id, Status="Active")

    with pytest.raises(Exception, match="still Inactive"):
        engine(plan, tmp_path).apply(stage="delete")
    assert estate.key_status()[estate.key_id] == "Active"


def test_reapplying_a_completed_plan_changes_nothing(make_estate: Any, tmp_path: Path) -> None:
    estate = make_estate()
    plan = plan_for(estate)
    engine(plan, tmp_path).apply()
    before = (estate.key_status(), estate.kv.read(estate.kv_path)[1])

    again = engine(plan, tmp_path).apply()

    assert again.ran == []
    assert (estate.key_status(), estate.kv.read(estate.kv_path)[1]) == before


@pytest.mark.parametrize("step", ["t1.create", "t1.deliver", "t1.verify", "t1.deactivate"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_failure_at_any_step_restores_the_estate(make_estate: Any, tmp_path: Path, step: str, when: str) -> None:
    estate = make_estate()
    plan = plan_for(estate)
    before_keys = estate.key_status()
    before_kv = estate.kv.read(estate.kv_path)[0]

    with pytest.raises(StepFailed, match=step):
        engine(plan, tmp_path, env={**os.environ, "NHIWARDEN_FAULT": f"{step}:{when}:fail"}).apply()

    assert estate.key_status() == before_keys
    assert estate.kv.read(estate.kv_path)[0] == before_kv


def test_verification_failure_rolls_back_delivery_and_new_key(make_estate: Any, tmp_path: Path) -> None:
    estate = make_estate()
    plan = plan_for(estate)
    # The verify step expects a different principal than the new key authenticates as.
    plan.step("t1.verify").params["user_arn"] = "arn:aws:iam::123456789012:user/someone-else"

    with pytest.raises(StepFailed, match="authenticates as"):
        engine(plan, tmp_path).apply()

    assert estate.key_status() == {estate.key_id: "Active"}
    data, version = estate.kv.read(estate.kv_path)
    assert data["aws_access_key_id"] == estate.key_id
    assert version == 3  # v2 = new key, v3 = the restored original


def test_rotation_can_deliver_to_secrets_manager_and_a_failure_restores_awscurrent(
    make_estate: Any, tmp_path: Path
) -> None:
    estate = make_estate()
    sm = boto3.client("secretsmanager", endpoint_url=estate.moto_url, region_name="us-east-1")
    name = f"ci/{estate.user}"
    first = sm.create_secret(
        Name=name,
        SecretString=json.dumps(
            {"aws_access_key_id": estate.key_id, "aws_secret_access_key": "old-secret-value-123", "team": "ci"}
        ),
    )
    report = load(estate.report_path)
    plan = make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[estate.finding_id],
            deliver=f"aws-secretsmanager:{name}",
            connections=connections(report, dict(os.environ)),
        )
    )

    with pytest.raises(StepFailed):
        engine(plan, tmp_path, env={**os.environ, "NHIWARDEN_FAULT": "t1.deactivate:before:fail"}).apply()
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["aws_access_key_id"] == estate.key_id
    assert (
        sm.get_secret_value(SecretId=name)["SecretString"]
        == sm.get_secret_value(SecretId=name, VersionId=first["VersionId"])["SecretString"]
    )

    plan = make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[estate.finding_id],
            deliver=f"aws-secretsmanager:{name}",
            connections=connections(report, dict(os.environ)),
        )
    )
    engine(plan, tmp_path).apply()
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    new_ids = [k for k in estate.key_status() if k != estate.key_id]
    assert value["aws_access_key_id"] == new_ids[0] and value["team"] == "ci"
    assert estate.key_status()[estate.key_id] == "Inactive"


def test_plan_proposes_the_kv_location_the_vault_scan_found_for_the_key(
    make_estate: Any, tmp_path: Path, bao: Any
) -> None:
    from nhiwarden.model import Credential, Identity

    estate = make_estate()
    report = load(estate.report_path)
    kv_uid = f"vault:{bao.addr}:kv/secret/{estate.kv_path}"
    report.identities.append(
        Identity(
            uid=kv_uid,
            provider="vault",
            kind="vault-kv-secret",
            scope=bao.addr,
            name=f"secret/{estate.kv_path}",
            credentials=[
                Credential(
                    uid=f"{kv_uid}:aws-access-key",
                    kind="aws-access-key",
                    id=estate.key_id,
                    static=True,
                    locations=[f"vault:{bao.addr}:secret/{estate.kv_path}"],
                )
            ],
        )
    )
    plan = make_plan(
        PlanRequest(
            playbook="rotate",
            report=report,
            finding_ids=[estate.finding_id],
            connections=connections(report, dict(os.environ)),
        )
    )

    assert plan.step("t1.deliver").target == f"vault-kv:secret/{estate.kv_path}"
    engine(plan, tmp_path).apply()
    assert estate.kv.read(estate.kv_path)[0]["aws_access_key_id"] != estate.key_id
