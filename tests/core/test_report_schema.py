"""The published JSON Schema is the model's schema, and real reports validate against it."""

from __future__ import annotations

import json

import jsonschema
from nhiwarden.reports.json_report import generated_schema, schema

from tests.core.test_scanner import scan


def test_published_schema_matches_the_model():
    assert schema() == json.loads(json.dumps(generated_schema())), "run scripts/gen_schema.py"


def test_a_real_report_with_findings_errors_and_exceptions_validates():
    text = "exceptions:\n- rule: dormant-identity\n  reason: r\n  owner: o\n  expires: 2030-01-01\n"
    report, _ = scan(text, fail=["b"])
    data = json.loads(report.to_json())
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(data, schema())
    assert data["schema_version"] == 1
    assert set(data) >= {"tool", "scan", "scopes", "identities", "findings", "suppressed", "summary"}


def test_schema_rejects_a_report_missing_findings_fields():
    report, _ = scan()
    data = json.loads(report.to_json())
    del data["findings"][0]["rule_id"]
    try:
        jsonschema.validate(data, schema())
    except jsonschema.ValidationError as exc:
        assert "rule_id" in exc.message
    else:
        raise AssertionError("schema accepted a finding without rule_id")


def test_streamed_json_equals_the_rendered_json():
    import io

    from nhiwarden.reports.json_report import render, write

    text = "exceptions:\n- rule: static-credential\n  reason: r\n  owner: o\n  expires: 2030-01-01\n"
    report, _ = scan(text, fail=["b"])
    assert report.findings and report.suppressed and report.identities
    buffer = io.StringIO()
    write(report, buffer)
    assert json.loads(buffer.getvalue()) == json.loads(render(report))
    report.findings = []
    buffer = io.StringIO()
    write(report, buffer)
    assert json.loads(buffer.getvalue())["findings"] == []
