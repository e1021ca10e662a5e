"""Regenerate reports/schema/report.schema.json from the Report model (run after changing the model)."""

import json
from pathlib import Path

from nhiwarden.reports.json_report import SCHEMA_FILE, generated_schema

target = Path(__file__).resolve().parent.parent / "reports" / "schema" / SCHEMA_FILE
target.write_text(json.dumps(generated_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
print(f"wrote {target}")
