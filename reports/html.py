"""One self-contained HTML file: summary charts, a sortable/filterable findings table with each finding's
evidence, the compliance view per framework, scopes, exceptions and the audit evidence.

Safety: every value from a scanned system (identity names are attacker-controlled) goes through
``html.escape``; the page's only script is ``assets/report.js`` inlined, which reorders and hides rows and
never writes markup. A Content-Security-Policy meta tag allows nothing but that script (by hash) and the
inlined stylesheet (by hash): no network fetch can happen even if a value slipped through. Charts are
inline SVG drawn here, so they render with scripts disabled too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from datetime import datetime
from functools import cache
from html import escape
from importlib import resources

from nhiwarden.findings import Finding
from nhiwarden.report import ExceptionInForce, Report
from nhiwarden.reports import audit, compliance
from nhiwarden.reports.baseline import unchanged_findings

AGE_BUCKETS: list[tuple[str, int | None]] = [
    ("< 30 d", 30),
    ("30\u201390 d", 90),
    ("90\u2013180 d", 180),
    ("180\u2013365 d", 365),
    ("1\u20132 y", 730),
    ("> 2 y", None),
]


def e(value: object) -> str:
    return escape(str(value), quote=True)


@cache
def _asset(name: str) -> str:
    return (resources.files("nhiwarden.reports") / "assets" / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# ---------------------------------------------------------------- charts (inline SVG, no script)


def bar_chart(
    chart_id: str, data: list[tuple[str, int]], *, classes: dict[str, str] | None = None, width: int = 420
) -> str:
    """Horizontal bars with labels and values; an empty chart says so."""
    row, label_w, pad = 22, 150, 40
    height = max(1, len(data)) * row + 8
    peak = max((v for _, v in data), default=0) or 1
    parts = [
        f'<svg id="{e(chart_id)}" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if not data:
        parts.append('<text x="4" y="16">nothing to show</text>')
    for i, (label, value) in enumerate(data):
        y = 4 + i * row
        bar = int((width - label_w - pad) * value / peak)
        cls = (classes or {}).get(label, "bar")
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<g class="series"><title>{e(label)}: {value}</title>'
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{e(short)}</text>'
            f'<rect class="{e(cls)}" x="{label_w}" y="{y + 2}" '
            f'width="{max(bar, 1 if value else 0)}" height="{row - 6}"></rect>'
            f'<text x="{label_w + bar + 4}" y="{y + 14}">{value}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def credential_ages(report: Report) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for identity in report.identities:
        for cred in identity.credentials:
            if cred.created_at is None:
                counts["unknown"] += 1
                continue
            days = (report.scan.as_of - cred.created_at).days
            label = next(name for name, limit in AGE_BUCKETS if limit is None or days < limit)
            counts[label] += 1
    out = [(name, counts.get(name, 0)) for name, _ in AGE_BUCKETS]
    if counts.get("unknown"):
        out.append(("unknown", counts["unknown"]))
    return out


# ---------------------------------------------------------------- sections


def _finding_row(f: Finding, status: str, exception: ExceptionInForce | None) -> str:
    cred = f.credential
    text = " ".join(
        [
            f.severity.value,
            f.rule_id,
            f.identity.provider,
            f.identity.scope,
            f.identity.name,
            f.identity.uid,
            cred.id if cred else "",
            f.message,
            status,
            f.id,
            *f.controls,
        ]
    ).lower()
    evidence = json.dumps(f.evidence, indent=2, sort_keys=True, default=str)
    extra = ""
    if exception is not None:
        extra = (
            f"<p>Accepted by exception: {e(exception.reason)} — owner {e(exception.owner)}, "
            f"expires {e(exception.expires.isoformat())}"
            f"{', ticket ' + e(exception.ticket) if exception.ticket else ''}</p>"
        )
    controls = ", ".join(f"<code>{e(c)}</code>" for c in f.controls) or "—"
    remediation = ", ".join(f"<code>{e(r)}</code>" for r in f.remediation) or "—"
    return (
        f'<tr data-severity="{e(f.severity.value)}" data-status="{e(status)}" data-text="{e(text)}">'
        f'<td class="sev sev-{e(f.severity.value)}" data-sort="{f.severity.rank}">{e(f.severity.value)}</td>'
        f'<td class="rule"><code>{e(f.rule_id)}</code></td>'
        f"<td>{e(f.identity.provider)}</td>"
        f'<td class="id">{e(f.identity.scope)}</td>'
        f'<td><b>{e(f.identity.name)}</b><br><span class="id muted">{e(f.identity.uid)}</span></td>'
        f'<td class="id">{e(cred.kind + " " + cred.id) if cred else "—"}</td>'
        f"<td>{e(f.message)}"
        f"<details><summary>evidence</summary><pre>{e(evidence)}</pre>"
        f"<p>Controls: {controls}</p><p>Remediation: {remediation}</p>"
        f'<p class="muted">Finding id <code>{e(f.id)}</code></p>{extra}</details></td>'
        f"<td>{e(status)}</td></tr>"
    )


def _findings_section(report: Report) -> str:
    active = "new" if report.baseline is not None else "active"
    rows = [_finding_row(f, active, None) for f in audit.sort_findings(report.findings)]
    rows += [_finding_row(f, "unchanged", None) for f in audit.sort_findings(unchanged_findings(report))]
    rows += [_finding_row(s.finding, "suppressed", s.exception) for s in report.suppressed]
    statuses = [active] + (["unchanged"] if report.baseline is not None else []) + ["suppressed"]
    sev_options = "".join(f'<option value="{s.value}">{s.value}</option>' for s in audit.SEVERITY_ORDER)
    status_options = "".join(f'<option value="{s}">{s}</option>' for s in statuses)
    return (
        '<section id="findings-section"><h2>Findings</h2>'
        '<div class="controls"><label>Filter '
        '<input id="filter" type="search" placeholder="identity, rule, scope, control\u2026" '
        'autocomplete="off"></label>'
        f'<label>Severity <select id="severity-filter"><option value="">all</option>{sev_options}</select></label>'
        f'<label>Status <select id="status-filter"><option value="">all</option>{status_options}</select></label>'
        f'<span id="shown" class="muted">{len(rows)} of {len(rows)} shown</span></div>'
        '<table id="findings"><thead><tr>'
        '<th class="sortable" data-type="number">Severity</th><th class="sortable">Rule</th>'
        '<th class="sortable">Provider</th>'
        '<th class="sortable">Scope</th><th class="sortable">Identity</th><th class="sortable">Credential</th>'
        '<th>Message and evidence</th><th class="sortable">Status</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _charts_section(report: Report) -> str:
    active = [*report.findings, *unchanged_findings(report)]
    by_sev = [(s.value, sum(f.severity == s for f in active)) for s in audit.SEVERITY_ORDER]
    by_provider = sorted(Counter(f.identity.provider for f in active).items())
    by_rule = sorted(Counter(f.rule_id for f in active).items(), key=lambda kv: (-kv[1], kv[0]))
    classes = {s.value: f"bar-{s.value}" for s in audit.SEVERITY_ORDER}
    figures = [
        ("Findings by severity", bar_chart("chart-severity", by_sev, classes=classes)),
        ("Findings by provider", bar_chart("chart-provider", by_provider)),
        ("Findings by rule", bar_chart("chart-rule", by_rule)),
        ("Credential age (all credentials examined)", bar_chart("chart-age", credential_ages(report))),
    ]
    inner = "".join(f"<figure><figcaption>{e(title)}</figcaption>{svg}</figure>" for title, svg in figures)
    return f'<section id="charts"><h2>Summary</h2><div class="charts">{inner}</div></section>'


def _compliance_section(report: Report) -> str:
    parts = [
        '<section id="compliance"><h2>Compliance</h2><p class="muted">'
        "A control <b>fails</b> when an active finding maps to "
        "it, <b>passes</b> when an enabled rule that maps to it ran on a scanned provider without findings, and is "
        "<b>not evaluated</b> when its rules are disabled or its provider was not scanned. Mappings are nhiwarden's "
        "suggested crosswalk, not an official one.</p>"
    ]
    for view in compliance.evaluate(report):
        counts = view.counts()
        rows = "".join(
            f'<tr data-status="{e(c.status)}"><td><code>{e(c.control)}</code></td>'
            f'<td class="status-{e(c.status)}">{e(c.status)}</td><td>{e(c.note)}</td>'
            f"<td>{', '.join('<code>' + e(r) + '</code>' for r in sorted(c.rules)) or '—'}</td></tr>"
            for c in view.controls
        )
        parts.append(
            f'<details class="framework" data-framework="{e(view.prefix)}" open><summary><h3>{e(view.name)}</h3> '
            f'<span class="muted">{e(view.version)}</span>'
            f'<span class="pill status-pass">{counts["pass"]} pass</span>'
            f'<span class="pill status-fail">{counts["fail"]} fail</span>'
            f'<span class="pill status-not-evaluated">{counts["not-evaluated"]} not evaluated</span></summary>'
            f"<table><thead><tr><th>Control</th><th>Status</th><th>Why</th><th>Rules</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _scopes_section(report: Report) -> str:
    rows = []
    for s in report.scopes:
        notes = [*(f"missing: {m}" for m in s.missing), *(f"skipped: {m}" for m in s.skipped)]
        calls = ", ".join(f"{k} x{v}" for k, v in sorted(s.api_calls.items()))
        rows.append(
            f'<tr><td>{e(s.provider)}</td><td class="id">{e(s.scope)}{"<br>" + e(s.name) if s.name else ""}</td>'
            f'<td class="status-{e(s.status)}">{e(s.status)}</td><td>{e(s.error or "")}'
            f"{'<br>' if s.error and notes else ''}{'<br>'.join(e(n) for n in notes)}</td>"
            f'<td>{s.identity_count}</td><td>{s.credential_count}</td><td class="id">{e(calls)}</td>'
            f"<td>{e(audit.iso(s.started_at) or '')}<br>{e(audit.iso(s.finished_at) or '')}</td></tr>"
        )
    return (
        '<section id="scopes"><h2>Scopes</h2><table><thead><tr><th>Provider</th><th>Scope</th><th>Status</th>'
        "<th>Error / missing / skipped</th><th>Identities</th><th>Credentials</th>"
        "<th>API calls</th><th>Start / end</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _exceptions_section(report: Report) -> str:
    if not report.exceptions:
        return '<section id="exceptions"><h2>Exceptions</h2><p class="muted">No exceptions configured.</p></section>'
    rows = "".join(
        f'<tr><td class="id">{e(", ".join(f"{k}={v}" for k, v in sorted(x.match.items())))}</td>'
        f"<td>{e(x.owner)}</td><td>{e(x.approver or '—')}</td><td>{e(x.ticket or '—')}</td><td>{e(x.reason)}</td>"
        f'<td>{e(x.expires.isoformat())}</td><td class="{"expired" if x.expired else ""}">'
        f"{'expired' if x.expired else 'in force'}</td>"
        f"<td>{x.matched}</td></tr>"
        for x in report.exceptions
    )
    return (
        '<section id="exceptions"><h2>Exceptions</h2>'
        '<p class="muted">Accepted risks as the scan applied them. An expired '
        "exception suppresses nothing: its findings are back in the findings table.</p>"
        "<table><thead><tr><th>Match</th><th>Owner</th><th>Approver</th><th>Ticket</th><th>Reason</th><th>Expires</th>"
        f"<th>Status</th><th>Matched</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _audit_section(report: Report) -> str:
    facts = audit.facts(report)
    pack = report.tool.rule_pack
    items = [
        ("Tool", f"nhiwarden {report.tool.version}"),
        ("Rule pack", f"{pack.get('version', '—')} (sha256 {pack.get('sha256', '—')})"),
        ("Report schema version", str(report.schema_version)),
        ("Scan id", report.scan.id),
        ("Started / finished", f"{report.scan.started_at.isoformat()} / {report.scan.finished_at.isoformat()}"),
        ("As of (ages computed against)", report.scan.as_of.isoformat()),
    ]
    dl = "".join(f"<dt>{e(k)}</dt><dd><code>{e(v)}</code></dd>" for k, v in items)
    return (
        '<section id="audit"><h2>Audit evidence</h2>'
        f"<dl>{dl}</dl><h3>Parameters and thresholds</h3>"
        f"<pre>{e(json.dumps(report.scan.parameters, indent=2, sort_keys=True, default=str))}</pre>"
        f"<h3>Population</h3><pre>{e(json.dumps(facts['population'], indent=2, sort_keys=True))}</pre></section>"
    )


def render(report: Report) -> str:
    css = _asset("report.css")
    js = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    s = report.summary
    failed = report.failed_scopes
    verdict = (
        "Some scopes could not be scanned: the evidence is incomplete."
        if failed
        else ("Findings need attention." if report.findings else "No findings.")
    )
    warnings = "".join(
        f'<div class="warn">Scope <code>{e(x.provider)}:{e(x.scope)}</code> could not be scanned: '
        f"{e(x.error or '')}</div>"
        for x in failed
    )
    warnings += "".join(
        f'<div class="warn">Exception owned by {e(x.owner)} expired on {e(x.expires.isoformat())}; '
        "it no longer suppresses.</div>"
        for x in report.exceptions
        if x.expired
    )
    baseline = ""
    if report.baseline is not None:
        b = report.baseline
        baseline = (
            f'<p id="baseline">Compared with baseline <code>{e(b.file)}</code> (scan {e(b.scan_id or "?")}): '
            f"<b>{b.new} new</b>, {b.unchanged} unchanged, {b.resolved} resolved.</p>"
        )
    cards = [
        ("identities", s.identities),
        ("credentials", s.credentials),
        ("findings" if report.baseline is None else "new findings", s.findings),
        ("accepted by exception", s.suppressed),
        (
            "scopes ok / partial / error",
            f"{s.scopes.get('ok', 0)} / {s.scopes.get('partial', 0)} / {s.scopes.get('error', 0)}",
        ),
    ]
    card_html = "".join(f'<div class="card"><b>{e(v)}</b>{e(k)}</div>' for k, v in cards)
    generated: datetime = report.scan.finished_at
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>nhiwarden report {e(report.scan.as_of.date().isoformat())}</title>"
        f"<style>{css}</style></head><body>"
        f'<header><h1>nhiwarden: non-human identity report</h1><p class="verdict">{e(verdict)}</p>'
        f'<p class="muted">As of {e(report.scan.as_of.isoformat())} · scan <code>{e(report.scan.id)}</code> · '
        f"generated {e(generated.isoformat())} · nhiwarden {e(report.tool.version)}</p>{baseline}{warnings}"
        f'<div class="cards">{card_html}</div></header><main>'
        f"{_charts_section(report)}{_findings_section(report)}{_compliance_section(report)}"
        f"{_scopes_section(report)}{_exceptions_section(report)}{_audit_section(report)}"
        f"</main><script>{js}</script></body></html>\n"
    )
