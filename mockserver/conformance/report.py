"""The conformance report: one result per named check, findings people can act on, and files.

`Report` is the structured result of `run_conformance` (see `failed_checks()`); `render_text`
is the terminal summary; `write_reports` writes `junit`, `json` and `html` (see html_report.py)
files. Every string that leaves this module goes through `Redactor`, so no API key (nor the second
one, for the isolation checks) ever appears in output or files.

Every check has a severity. An `error` check that finds something fails the run (status
`fail`, exit code 1). A `deviation` check reports what the contract's schema permits but the
official API does not do (an id of another shape, fields it never sends): a team evaluating a
provider must see it, so it is listed under its own heading with status `deviation`, but it
does not fail the run on its own (`mockserver conform --strict` makes it fail).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from mockserver.conformance.html_report import to_html
from mockserver.core.keys import mask

REPORT_FORMATS = ("junit", "json", "html")
ERROR = "error"  # the contract says otherwise: fails the run
DEVIATION = "deviation"  # the contract permits it, the official API does not do it: reported, does not fail
SEVERITIES = (ERROR, DEVIATION)
MAX_FINDINGS_PER_CHECK = 5  # in the terminal; the files keep them all


@dataclass
class Finding:
    check: str
    operation: str  # e.g. "GET /videos/{video_id}"
    expected: str
    actual: str
    curl: str  # reproduces it; the key is read from $OPENAI_API_KEY, never written out
    step: str = ""  # what was being done, e.g. "poll 3"

    def key(self) -> tuple[str, str, str, str]:
        return (self.check, self.operation, self.expected, self.actual)


@dataclass
class CheckResult:
    name: str
    source: str  # "lifecycle" or "schemathesis"
    description: str = ""
    severity: str = ERROR  # see SEVERITIES
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.failed:
            return "deviation" if self.severity == DEVIATION else "fail"
        if self.passed:
            return "pass"
        return "skipped"

    def add_finding(self, finding: Finding) -> None:
        self.failed += 1
        if all(existing.key() != finding.key() for existing in self.findings):
            self.findings.append(finding)

    def add_skip(self, reason: str) -> None:
        self.skipped += 1
        if reason not in self.skip_reasons:
            self.skip_reasons.append(reason)


@dataclass
class PhaseResult:
    name: str
    status: str  # "ran", "skipped", "error"
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    base_url: str
    spec: str
    key_hint: str  # the masked key
    max_creates: int
    second_key_hint: str = ""  # the masked second key (isolation checks), "" without one
    creates_sent: int = 0
    creates_refused: dict[str, int] = field(default_factory=dict)  # operation -> requests not sent
    retry_policy: str = ""  # the retry budget, in words (retries.RetryPolicy.describe)
    retries: dict[str, int] = field(default_factory=dict)  # HTTP status -> retries sent after it
    retry_seconds: float = 0.0  # waited before those retries
    retries_given_up: list[str] = field(default_factory=list)  # requests still 429/503 when the budget said stop
    checks: dict[str, CheckResult] = field(default_factory=dict)
    phases: list[PhaseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the run could not do something it should have
    started_at: float = field(default_factory=time.time)
    duration: float = 0.0

    def result(self, name: str, source: str, description: str = "", severity: str = ERROR) -> CheckResult:
        if name not in self.checks:
            self.checks[name] = CheckResult(name, source, description, severity)
        return self.checks[name]

    def failed_checks(self) -> list[str]:
        """Checks of severity `error` that found something: these fail the run."""
        return [name for name, result in self.checks.items() if result.status == "fail"]

    def deviation_checks(self) -> list[str]:
        """Checks of severity `deviation` that found something: reported, but the run still passes."""
        return [name for name, result in self.checks.items() if result.status == "deviation"]

    def skipped_checks(self) -> list[str]:
        return [name for name, result in self.checks.items() if result.status == "skipped"]

    def findings(self, check: str | None = None) -> list[Finding]:
        return [f for name, result in self.checks.items() if check in (None, name) for f in result.findings]

    @property
    def creates_refused_total(self) -> int:
        return sum(self.creates_refused.values())

    @property
    def retries_total(self) -> int:
        return sum(self.retries.values())

    @property
    def passed(self) -> bool:
        """No `error` check found anything and the run itself had no errors (deviations do not count)."""
        return not self.failed_checks() and not self.errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["failed_checks"] = self.failed_checks()
        data["deviation_checks"] = self.deviation_checks()
        for name, result in self.checks.items():
            data["checks"][name]["status"] = result.status
        return data


class Redactor:
    """Replaces the API key, and the values of credential headers (`--header "api-key: ..."`), wherever
    they could have slipped into a string."""

    def __init__(self, secret: str | None, others: Iterable[str] = ()) -> None:
        self.secret = secret or None
        self.replacement = mask(secret) if secret else ""
        # Longest first: a value that contains another is replaced whole.
        found = {value: mask(value) for value in others if value}
        if self.secret:
            found[self.secret] = self.replacement
        self.secrets = sorted(found.items(), key=lambda item: -len(item[0]))

    def __call__(self, text: str) -> str:
        for secret, replacement in self.secrets:
            if secret in text:
                text = text.replace(secret, replacement)
        return text

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


# -- terminal ------------------------------------------------------------------------------

_MARK = {"pass": "PASS", "fail": "FAIL", "deviation": "DEVN", "skipped": "SKIP"}


def render_text(report: Report, redact: Redactor | None = None) -> str:
    redact = redact or Redactor(None)
    lines = [
        f"Conformance of {report.base_url} against {report.spec} (key {report.key_hint}"
        + (f", second key {report.second_key_hint})" if report.second_key_hint else ")"),
        "",
    ]
    width = max((len(name) for name in report.checks), default=10)
    for source in ("lifecycle", "schemathesis"):
        results = [r for r in report.checks.values() if r.source == source]
        if not results:
            continue
        lines.append(f"{source} checks:")
        for result in results:
            tally = f"{result.passed} passed, {result.failed} failed, {result.skipped} skipped"
            line = f"  {_MARK[result.status]}  {result.name:<{width}}  {tally}"
            if result.skip_reasons:  # what was skipped and why, also where the rest passed or failed
                line += f"  ({'; '.join(result.skip_reasons[:2])})"
            lines.append(line)
        lines.append("")
    for heading, status in (
        ("Failures:", "fail"),
        (
            "Deviations (the contract permits them, the official API does not do them; they do not fail the run):",
            "deviation",
        ),
    ):
        results = [r for r in report.checks.values() if r.findings and r.status == status]
        if not results:
            continue
        lines.append(heading)
        for result in results:
            lines += _finding_lines(result)
        lines.append("")
    if report.errors:
        lines.append("Errors (the run could not check something):")
        lines += [f"  - {error}" for error in report.errors[:20]]
        if len(report.errors) > 20:
            lines.append(f"  ... and {len(report.errors) - 20} more")
        lines.append("")
    refused = report.creates_refused_total
    lines.append(
        f"Creates: {report.creates_sent} sent of at most {report.max_creates} (--max-creates)"
        + (
            f"; {refused} job-creating request(s) not sent: "
            + ", ".join(f"{op} x{n}" for op, n in report.creates_refused.items())
            if refused
            else ""
        )
    )
    lines += _retry_lines(report)
    counts: dict[str, int] = {status: sum(1 for r in report.checks.values() if r.status == status) for status in _MARK}
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(
        f"{verdict}: {counts['pass']} checks passed, {counts['fail']} failed, "
        f"{counts['deviation']} with deviations, {counts['skipped']} skipped"
        + (f", {len(report.errors)} error(s)" if report.errors else "")
        + f" in {report.duration:.1f}s"
    )
    return redact("\n".join(lines))


def _retry_lines(report: Report) -> list[str]:
    if not report.retries_total and not report.retries_given_up:
        return [f"Retries: none needed ({report.retry_policy})"] if report.retry_policy else []
    by_status = ", ".join(f"after {status} x{count}" for status, count in report.retries.items())
    lines = [
        f"Retries: {report.retries_total} ({by_status or 'none'}), {report.retry_seconds:.1f}s waited "
        f"({report.retry_policy}); rate limits are never counted as failures"
    ]
    if report.retries_given_up:
        lines.append(f"  given up on {len(report.retries_given_up)} request(s):")
        lines += [f"  - {line}" for line in report.retries_given_up[:10]]
        if len(report.retries_given_up) > 10:
            lines.append(f"  ... and {len(report.retries_given_up) - 10} more (see the json report)")
    return lines


def _finding_lines(result: CheckResult) -> list[str]:
    lines: list[str] = []
    for finding in result.findings[:MAX_FINDINGS_PER_CHECK]:
        lines.append(f"  [{result.name}] {finding.operation}" + (f" ({finding.step})" if finding.step else ""))
        lines.append(f"    expected: {finding.expected}")
        lines.append(f"    actual:   {finding.actual}")
        lines.append(f"    reproduce: {finding.curl}")
    hidden = len(result.findings) - MAX_FINDINGS_PER_CHECK
    if hidden > 0:
        lines.append(f"  [{result.name}] ... and {hidden} more (see the json report)")
    return lines


# -- files ---------------------------------------------------------------------------------


def to_junit(report: Report, suite_name: str = "mockserver conform") -> str:
    """JUnit XML. `suite_name` names the suite and, by its last word, each case's class (the proxy's reports)."""
    prefix = suite_name.split()[-1]
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(report.checks) + (1 if report.errors else 0)),
        failures=str(len(report.failed_checks())),
        errors=str(1 if report.errors else 0),
        skipped=str(len(report.skipped_checks())),
        time=f"{report.duration:.3f}",
    )
    for result in report.checks.values():
        case = ET.SubElement(suite, "testcase", classname=f"{prefix}.{result.source}", name=result.name)
        text = "\n\n".join(
            f"{f.operation} ({f.step})\nexpected: {f.expected}\nactual: {f.actual}\nreproduce: {f.curl}"
            for f in result.findings
        )
        if result.status == "fail":
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{result.failed} failure(s): {result.findings[0].actual if result.findings else ''}",
            )
            failure.text = text
        elif result.status == "deviation":
            # JUnit has no "warning": a passing case whose output carries the findings.
            ET.SubElement(
                case, "system-out"
            ).text = f"deviation ({result.failed} finding(s); does not fail the run)\n\n{text}"
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", message="; ".join(result.skip_reasons) or "nothing to check")
    if report.errors:
        case = ET.SubElement(suite, "testcase", classname=f"{prefix}.run", name="run_errors")
        error = ET.SubElement(case, "error", message=f"{len(report.errors)} error(s)")
        error.text = "\n".join(report.errors)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write_reports(report: Report, formats: Iterable[str], directory: Path, redact: Redactor) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        if fmt == "junit":
            path = directory / "conform-junit.xml"
            path.write_text(redact(to_junit(report)), encoding="utf-8")
        elif fmt == "html":
            path = directory / "conform-report.html"
            path.write_text(to_html(report, redact), encoding="utf-8")
        elif fmt == "json":
            path = directory / "conform-report.json"
            path.write_text(json.dumps(redact.data(report.to_dict()), indent=2, ensure_ascii=False), encoding="utf-8")
        else:
            raise ValueError(f"unknown report format {fmt!r}; use {', '.join(REPORT_FORMATS)}")
        written.append(path)
    return written
