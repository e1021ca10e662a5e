"""The HTML report: self-contained, escaped, and working in a real headless Chromium.

The browser test drives Debian's ``chromium`` over the DevTools protocol: no console errors, no network
request besides the file itself, charts drawn, the filter box filters, sorting sorts. A screenshot is
kept at ``out/reports/html-report.png`` for CI artifacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from nhiwarden.report import Report
from nhiwarden.reports import html
from nhiwarden.reports.baseline import apply_baseline

from tests.reports.browser import Browser, find_chromium
from tests.reports.conftest import HTML_NAME, build_report

SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "reports" / "html-report.png"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(text)
    return parser.tags


def test_html_is_self_contained_with_a_strict_csp(report: Report):
    text = html.render(report)
    found = tags(text)
    for tag, attrs in found:
        for name in ("src", "href", "action", "srcset", "data"):
            assert not attrs.get(name), f"<{tag} {name}=...> would load something"
    assert not any(tag in ("link", "iframe", "img", "object", "embed") for tag, _ in found)
    csp = next(a["content"] for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert not re.search(
        r"https?://", re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", text).split("<script>")[0].split("<style>")[0]
    )


def test_attacker_controlled_names_are_escaped(report: Report):
    text = html.render(report)
    assert HTML_NAME not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in text
    assert text.count("<script>") == 1 and text.count("</script>") == 1
    assert not any(tag == "img" for tag, _ in tags(text))


def test_html_has_every_section_and_the_evidence(report: Report):
    text = html.render(report)
    for section in ("charts", "findings-section", "compliance", "scopes", "exceptions", "audit"):
        assert f'id="{section}"' in text
    for chart in ("chart-severity", "chart-provider", "chart-rule", "chart-age"):
        assert f'id="{chart}"' in text
    assert "threshold_days" in text  # evidence
    assert "alice@example.com" in text and "expired" in text
    assert 'data-framework="CIS-AWS"' in text and 'data-framework="OWASP"' in text
    assert 'data-framework="PCI-DSS"' in text and 'data-framework="NIST-800-53"' in text
    assert 'data-framework="ISO27001"' in text and 'data-framework="SOC2"' in text
    assert "rule_pack" in text or "Rule pack" in text


def test_credential_ages_are_bucketed_against_as_of(report: Report):
    ages = dict(html.credential_ages(report))
    assert sum(ages.values()) == report.summary.credentials
    assert ages["< 30 d"] == 2  # svc-fresh (10 d) and the HTML-named key (20 d)
    assert ages["1\u20132 y"] == 3


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium not installed (.ci/run installs it: apt-get install -y chromium)")
    b = Browser(binary)
    try:
        yield b
    finally:
        b.close()


def test_html_report_in_headless_chromium(browser: Browser, report: Report, tmp_path: Path):
    old = build_report(scan_id="old")
    old.findings = old.findings[1:]
    page = tmp_path / "report.html"
    page.write_text(html.render(apply_baseline(report, old, file="baseline.json")), encoding="utf-8")
    browser.open(page)
    assert browser.evaluate("document.body.getAttribute('data-ready')") == "true"
    # charts rendered: every chart is an SVG with bars laid out at a real size
    charts = browser.evaluate(
        "Array.from(document.querySelectorAll('svg.chart')).map(s => "
        "[s.id, s.querySelectorAll('rect').length, Math.round(s.getBoundingClientRect().width)])"
    )
    assert {c[0] for c in charts} == {"chart-severity", "chart-provider", "chart-rule", "chart-age"}
    assert all(c[1] > 0 and c[2] > 100 for c in charts), charts
    total = browser.evaluate("document.querySelectorAll('#findings tbody tr').length")
    assert total == len(report.findings) + len(report.suppressed)

    def filter_rows(text: str) -> int:
        return int(
            browser.evaluate(
                "(() => { const f = document.getElementById('filter'); f.value = "
                + repr(text).replace("'", '"')
                + "; f.dispatchEvent(new Event('input')); "
                "return document.querySelectorAll('#findings tbody tr:not([hidden])').length; })()"
            )
        )

    assert filter_rows("svc-old") == 3
    assert filter_rows("AKIAEXAMPLEOLD00001") == 3
    assert filter_rows("no-such-identity") == 0
    assert filter_rows("") == total
    assert browser.evaluate("document.getElementById('shown').textContent") == f"{total} of {total} shown"
    # severity select filters too
    critical = browser.evaluate(
        "(() => { const s = document.getElementById('severity-filter'); s.value = 'critical'; "
        "s.dispatchEvent(new Event('change')); "
        "return document.querySelectorAll('#findings tbody tr:not([hidden])').length; })()"
    )
    assert critical == 3  # two active, one accepted by exception
    browser.evaluate(
        "(() => { const s = document.getElementById('severity-filter'); s.value = ''; "
        "s.dispatchEvent(new Event('change')); return 1; })()"
    )
    # sorting by severity puts the lowest first, then the highest
    first = browser.evaluate(
        "(() => { document.querySelector('#findings th button').click(); "
        "return document.querySelector('#findings tbody tr').getAttribute('data-severity'); })()"
    )
    second = browser.evaluate(
        "(() => { document.querySelector('#findings th button').click(); "
        "return document.querySelector('#findings tbody tr').getAttribute('data-severity'); })()"
    )
    assert (first, second) == ("medium", "critical")
    # injected markup never ran
    assert browser.evaluate("window.__pwned === undefined") is True
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    browser.screenshot(SCREENSHOT)
    browser.drain()
    assert browser.errors() == []
    assert [u for u in browser.requests() if not u.startswith("file://")] == []
    assert [u for u in browser.requests() if u.startswith("file://") and u != page.resolve().as_uri()] == []
    assert SCREENSHOT.stat().st_size > 10_000
