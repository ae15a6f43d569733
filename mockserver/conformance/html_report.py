"""`mockserver conform --report html`: the report as one self-contained HTML file.

Everything is in the file (the style inline, no script, no font, no image), so it opens the same
from a CI artifact, an e-mail or a laptop without network. It is generic over the checks: every
check the run has is listed with its counts, grouped by its source, whatever checks exist. Failures
come with expected vs actual and the curl line that reproduces them; deviations are listed apart,
as in the terminal summary. Strings go through the caller's Redactor, so the key never appears.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mockserver.conformance.report import CheckResult, Finding, Report

SHOWN_PER_CHECK = 3  # findings of one check shown open; the rest are one click away, still in the file
_LABELS = {"pass": "pass", "fail": "fail", "deviation": "deviation", "skipped": "skip"}

_STYLE = """
:root { --ink:#1d2330; --muted:#6b7385; --line:#e2e5ec; --bg:#f6f7f9; --pass:#2b8a3e; --fail:#c92a2a;
  --dev:#b35c00; --skip:#8a94a6; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 0; color: #cfd5e3; }
main { padding: 20px 28px 40px; max-width: 1200px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
a { color: #3b5bdb; }
code, pre, .mono { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.verdict { display: inline-block; padding: 3px 12px; border-radius: 12px; font-weight: 700; margin-left: 10px;
  font-size: 13px; vertical-align: middle; }
.verdict.passed { background: #d3f9d8; color: var(--pass); }
.verdict.failed { background: #ffe3e3; color: var(--fail); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; min-width: 130px; }
.card b { display: block; font-size: 24px; }
.card.pass b { color: var(--pass); } .card.fail b { color: var(--fail); }
.card.deviation b { color: var(--dev); } .card.skipped b { color: var(--skip); }
.card span { color: var(--muted); font-size: 12px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th { text-align: left; font-size: 12px; color: var(--muted); background: #fafbfc; padding: 7px 10px;
  border-bottom: 1px solid var(--line); }
td { padding: 6px 10px; border-bottom: 1px solid #f0f1f4; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: #c3c8d2; }
.mark { display: inline-block; min-width: 64px; text-align: center; padding: 1px 8px; border-radius: 10px;
  font-size: 12px; font-weight: 700; color: #fff; }
.mark.pass { background: var(--pass); } .mark.fail { background: var(--fail); }
.mark.deviation { background: var(--dev); } .mark.skipped { background: var(--skip); }
.muted { color: var(--muted); }
.finding { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 8px;
  padding: 10px 14px; margin: 10px 0; }
.finding.deviation { border-left-color: var(--dev); }
.finding h3 { margin: 0 0 6px; font-size: 14px; }
.finding dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
.finding dt { color: var(--muted); }
.finding dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.finding pre { margin: 0; white-space: pre-wrap; word-break: break-all; background: #f8f9fb; padding: 6px 8px;
  border-radius: 6px; }
.errors li { margin: 4px 0; }
details summary { cursor: pointer; color: var(--muted); margin: 4px 0 10px; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
"""


def to_html(report: Report, redact: Callable[[str], str]) -> str:
    """The whole report; every string from the run goes through `redact` before it is escaped."""
    return _Page(redact).render(report)


class _Page:
    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact

    def _e(self, text: object) -> str:
        return escape(self.redact(str(text)), quote=True)

    def render(self, report: Report) -> str:
        statuses = [result.status for result in report.checks.values()]
        counts = {status: statuses.count(status) for status in _LABELS}
        verdict = "passed" if report.passed else "failed"
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.started_at))
        parts = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            # Nothing from anywhere: a report must read the same without network.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            f"<title>conform {self._e(report.base_url)}: {verdict}</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<header>",
            f'<h1>Conformance of <span class="mono">{self._e(report.base_url)}</span>'
            f'<span class="verdict {verdict}" id="verdict">{verdict.upper()}</span></h1>',
            f"<p>against {self._e(report.spec)} · key {self._e(report.key_hint)} · {when}"
            f" · {report.duration:.1f} s</p>",
            "</header><main>",
            '<section class="cards" id="summary">',
            self._card("pass", counts["pass"], "checks passed"),
            self._card("fail", counts["fail"], "checks failed"),
            self._card("deviation", counts["deviation"], "with deviations"),
            self._card("skipped", counts["skipped"], "skipped"),
            self._card("", report.creates_sent, f"creates sent of at most {report.max_creates}"),
            self._card("fail" if report.errors else "", len(report.errors), "run errors"),
            "</section>",
        ]
        parts += self._checks_table(report)
        parts += self._findings_section(report, "fail", "Failures", "failures", "")
        parts += self._findings_section(
            report,
            "deviation",
            "Deviations",
            "deviations",
            "The contract permits these; the official API does not do them. They do not fail the run "
            "(<code>--strict</code> makes them fail it).",
        )
        if report.errors:
            parts.append('<h2 id="errors">Errors (the run could not check something)</h2><ul class="errors">')
            parts += [f"<li>{self._e(error)}</li>" for error in report.errors]
            parts.append("</ul>")
        if report.creates_refused:
            refused = ", ".join(f"{self._e(op)} x{n}" for op, n in report.creates_refused.items())
            parts.append(f"<p class='muted'>Job-creating requests not sent (--max-creates): {refused}</p>")
        parts += self._phases_table(report)
        parts.append("<footer>Written by <code>mockserver conform --report html</code>.</footer></main></body></html>")
        return "\n".join(parts)

    def _card(self, status: str, value: int, label: str) -> str:
        return f'<div class="card {status}"><b>{value}</b><span>{self._e(label)}</span></div>'

    def _count(self, value: int) -> str:
        return f'<td class="num{" zero" if not value else ""}">{value}</td>'

    def _checks_table(self, report: Report) -> list[str]:
        parts = ['<h2 id="checks">Checks</h2>']
        sources: dict[str, list[CheckResult]] = {}
        for result in report.checks.values():
            sources.setdefault(result.source, []).append(result)
        for source, results in sources.items():
            parts.append(f'<h3 class="muted">{self._e(source)}</h3>')
            parts.append(
                "<table class='checks'><thead><tr><th>status</th><th>check</th><th>severity</th>"
                "<th>passed</th><th>failed</th><th>skipped</th><th>what it checks</th></tr></thead><tbody>"
            )
            for result in results:
                about = self._e(result.description)
                if result.skip_reasons:  # also where the rest of the check passed or failed
                    about += f'<br><span class="muted">skipped: {self._e("; ".join(result.skip_reasons))}</span>'
                anchor = f' href="#finding-{self._e(result.name)}"' if result.findings else ""
                name = f"<a{anchor}>{self._e(result.name)}</a>" if anchor else self._e(result.name)
                parts.append(
                    f'<tr data-check="{self._e(result.name)}" data-status="{result.status}">'
                    f'<td><span class="mark {result.status}">{_LABELS[result.status]}</span></td>'
                    f'<td class="mono">{name}</td><td>{self._e(result.severity)}</td>'
                    f"{self._count(result.passed)}{self._count(result.failed)}{self._count(result.skipped)}<td>{about}</td></tr>"
                )
            parts.append("</tbody></table>")
        if not sources:
            parts.append("<p class='muted'>No check ran.</p>")
        return parts

    def _findings_section(self, report: Report, status: str, title: str, anchor: str, intro: str) -> list[str]:
        results = [r for r in report.checks.values() if r.status == status and r.findings]
        if not results:
            return []
        parts = [f'<section id="{anchor}"><h2>{title}</h2>']
        if intro:
            parts.append(f'<p class="muted">{intro}</p>')
        for result in results:
            parts.append(f'<div id="finding-{self._e(result.name)}">')
            parts += self._findings(result, status, result.findings[:SHOWN_PER_CHECK])
            hidden = result.findings[SHOWN_PER_CHECK:]
            if hidden:
                parts.append(f"<details><summary>{len(hidden)} more from {self._e(result.name)}</summary>")
                parts += self._findings(result, status, hidden)
                parts.append("</details>")
            parts.append("</div>")
        parts.append("</section>")
        return parts

    def _findings(self, result: CheckResult, status: str, findings: Iterable[Finding]) -> list[str]:
        parts = []
        for finding in findings:
            step = f' <span class="muted">({self._e(finding.step)})</span>' if finding.step else ""
            parts.append(
                f'<div class="finding {status}" data-check="{self._e(result.name)}">'
                f'<h3><span class="mono">{self._e(result.name)}</span> · {self._e(finding.operation)}{step}</h3><dl>'
                f"<dt>expected</dt><dd class='expected'>{self._e(finding.expected)}</dd>"
                f"<dt>actual</dt><dd class='actual'>{self._e(finding.actual)}</dd>"
                f"<dt>reproduce</dt><dd><pre class='curl'>{self._e(finding.curl)}</pre></dd>"
                "</dl></div>"
            )
        return parts

    def _phases_table(self, report: Report) -> list[str]:
        if not report.phases:
            return []
        parts = [
            '<h2 id="phases">Phases</h2>',
            "<table><thead><tr><th>phase</th><th>status</th><th>seconds</th><th>detail</th></tr></thead><tbody>",
        ]
        for phase in report.phases:
            parts.append(
                f'<tr><td class="mono">{self._e(phase.name)}</td><td>{self._e(phase.status)}</td>'
                f'<td class="num">{phase.seconds:.1f}</td><td>{self._e(phase.detail)}</td></tr>'
            )
        parts.append("</tbody></table>")
        return parts
