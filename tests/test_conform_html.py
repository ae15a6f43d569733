"""`mockserver conform --report html`: one self-contained file that says what the JSON report says.

The real command against a real dialect (new-api, which fails checks and deviates), the file opened
in headless Chromium with every network request refused, and compared check by check with the JSON
report of the same run, so the page stays right whatever checks exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mockserver.conformance.html_report import to_html
from mockserver.conformance.report import Finding, Redactor, Report
from tests.browser import browser_page, require_browser, screenshot
from tests.processes import serve
from tests.test_conform_fake import conform

KEY = "sk-conform-html-SECRET-4k2m8p"


def test_the_html_report_shows_every_check_with_its_counts_failures_with_curl_and_deviations_apart(
    tmp_path: Path,
) -> None:
    require_browser()
    args = ("--phases", "lifecycle", "--mock-duration", "0.6", "--quiet", "--report", "html,json")
    with serve("--profile", "newapi", "--speed", "0") as server:
        result = conform(
            "--base-url", server.base_url, *args, "--report-dir", str(tmp_path), env={"OPENAI_API_KEY": KEY}
        )
    assert result.returncode == 1, result.stdout + result.stderr  # new-api fails checks: a report worth reading
    html_path = tmp_path / "conform-report.html"
    assert f"report: {html_path}" in result.stdout
    data = json.loads((tmp_path / "conform-report.json").read_text())
    html = html_path.read_text()
    assert KEY not in html
    assert data["failed_checks"] and data["deviation_checks"]  # both kinds, so both sections are shown

    requested: list[str] = []
    with browser_page(tmp_path / "profile", height=900) as page:

        def refuse_all_but_the_file(route: Any) -> None:
            requested.append(route.request.url)
            if route.request.url == html_path.as_uri():
                route.continue_()
            else:
                route.abort()

        page.route("**/*", refuse_all_but_the_file)
        page.goto(html_path.as_uri())
        assert page.text_content("#verdict") == "FAILED"
        shown = page.eval_on_selector_all(
            "table.checks tr[data-check]",
            "rows => rows.map(r => [r.dataset.check, r.dataset.status,"
            " ...[...r.querySelectorAll('td.num')].map(c => +c.textContent)])",
        )
        expected = [[name, c["status"], c["passed"], c["failed"], c["skipped"]] for name, c in data["checks"].items()]
        assert sorted(shown) == sorted(expected)
        for status, section in (("fail", "#failures"), ("deviation", "#deviations")):
            names = [name for name, c in data["checks"].items() if c["status"] == status]
            in_section = page.eval_on_selector_all(
                f"{section} .finding", "els => els.map(e => [e.dataset.check, e.classList.contains('deviation')])"
            )
            assert sorted({name for name, _ in in_section}) == sorted(names)
            assert all(is_deviation == (status == "deviation") for _, is_deviation in in_section)
        first = next(f for c in data["checks"].values() if c["status"] == "fail" for f in c["findings"])
        block = page.locator(f".finding[data-check='{first['check']}']").first
        assert block.locator(".expected").text_content() == first["expected"]
        assert block.locator(".actual").text_content() == first["actual"]
        assert block.locator(".curl").text_content() == first["curl"]
        assert first["curl"].startswith("curl ")
        screenshot(page, "conform-report.png")
        screenshot(page, "conform-report-full.png", full_page=True)
    assert requested == [html_path.as_uri()]  # nothing but the file itself: no network at view time


def test_the_html_is_generic_over_checks_escapes_what_servers_said_and_never_shows_the_key() -> None:
    report = Report(base_url="http://127.0.0.1:9/v1", spec="reference", key_hint="sk-...cret", max_creates=3)
    novel = report.result("a_check_added_later", "some_new_source", "checks something new")
    novel.passed = 2
    novel.add_finding(
        Finding(
            "a_check_added_later", "GET /videos", "<b>bold</b>", "the key sk-test-secret & more", "curl -sS x", "poll 1"
        )
    )
    report.result("never_ran", "lifecycle", "skipped here").add_skip("the server cannot fail a job")
    page = to_html(report, Redactor("sk-test-secret"))  # the redaction the command uses
    assert "sk-test-secret" not in page and "sk-...cret" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert 'data-check="a_check_added_later" data-status="fail"' in page and "some_new_source" in page
    assert 'data-check="never_ran" data-status="skipped"' in page and "the server cannot fail a job" in page
    assert "http://" not in page.replace(report.base_url, "")  # no link, style or script from anywhere
