"""The JSON report (schema_version 1): the contract CI pipelines and compliance teams consume."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from nhiwarden.errors import UsageError
from nhiwarden.report import Report

SCHEMA_FILE = "report.schema.json"


STREAMED = ("identities", "findings", "suppressed")


def render(report: Report) -> str:
    return report.to_json(indent=2) + "\n"


def write(report: Report, out: TextIO) -> None:
    """Write the same JSON as ``render`` one identity and finding at a time.

    At 50,000 identities the whole document is a string of about 200 MB; streaming keeps the peak
    memory of a scan near the size of its model.
    """
    out.write("{\n")
    names = list(Report.model_fields)
    for n, name in enumerate(names):
        out.write(f"  {json.dumps(name)}: ")
        if name in STREAMED:
            items = getattr(report, name)
            out.write("[")
            for i, item in enumerate(items):
                out.write(",\n    " if i else "\n    ")
                out.write(item.model_dump_json())
            out.write("\n  ]" if items else "]")
        else:
            value = report.model_dump(mode="json", include={name})[name]
            out.write(json.dumps(value, indent=2).replace("\n", "\n  "))
        out.write(",\n" if n < len(names) - 1 else "\n")
    out.write("}\n")


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of the report."""
    text = (resources.files("nhiwarden.reports") / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text))


def generated_schema() -> dict[str, Any]:
    """The schema as the model defines it now; a test keeps the published file equal to it."""
    out = Report.model_json_schema(mode="serialization")
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["$id"] = "https://nhiwarden.dev/schema/report-v1.json"
    out["title"] = "nhiwarden scan report (schema_version 1)"
    return out


def load(path: str | Path) -> Report:
    """Read a saved JSON report, with a clear error when it is not one."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise UsageError(f"{name}: not a nhiwarden report with schema_version 1")
    try:
        return Report.model_validate(data)
    except ValueError as exc:
        raise UsageError(f"{name}: invalid report: {str(exc).splitlines()[0]}") from None
