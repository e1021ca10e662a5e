"""Report renderers: each output format draws one ``Report`` and computes nothing of its own.

A format is a module with ``render(report) -> str``; ``FORMATS`` maps format names to modules, which
are imported only when used.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from nhiwarden.errors import UsageError
from nhiwarden.report import Report

__all__ = ["EXTENSIONS", "FORMATS", "render"]

FORMATS: dict[str, str] = {
    "table": "nhiwarden.reports.table",
    "json": "nhiwarden.reports.json_report",
    "sarif": "nhiwarden.reports.sarif",
    "junit": "nhiwarden.reports.junit",
    "csv": "nhiwarden.reports.csv_report",
    "ocsf": "nhiwarden.reports.ocsf",
    "markdown": "nhiwarden.reports.markdown",
    "html": "nhiwarden.reports.html",
}

EXTENSIONS: dict[str, str] = {
    "table": "txt",
    "json": "json",
    "sarif": "sarif",
    "junit": "junit.xml",
    "csv": "csv",
    "ocsf": "ocsf.json",
    "markdown": "md",
    "html": "html",
}


class _Renderer(Protocol):
    def render(self, report: Report) -> str: ...


def render(report: Report, fmt: str) -> str:
    """Render ``report`` in format ``fmt``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    module: _Renderer = importlib.import_module(FORMATS[fmt])
    return module.render(report)
