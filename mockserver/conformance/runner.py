"""Run a conformance check: the lifecycle phase over real jobs, then schemathesis over the contract.

schemathesis runs in-process through its engine (`schemathesis.engine.from_schema(...).execute()`,
the same engine `st run` drives), so its events feed this report directly and its requests pass
through the cost guard: while the run lasts, the requests transport refuses any job-creating
request the shared `CreateBudget` no longer covers (those show up as "not sent", never as
failures). Operations that could create a job are left out of schemathesis altogether once the
lifecycle phase has used the whole budget. The same transport retries 429/503 answers within the
run's shared `RetryLedger` (retries.py), so schemathesis judges what a careful client ends up with.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockserver.conformance import request_vs_job  # noqa: F401  (registers its checks in CHECKS)
from mockserver.conformance.budget import CreateBudget, CreateBudgetSpent, job_creating_operations
from mockserver.conformance.checks import CHECKS, Failed, Passed, Skipped, run_checks
from mockserver.conformance.exchange import header_variable
from mockserver.conformance.isolation import isolation_step
from mockserver.conformance.lifecycle import JobStep, LifecycleSettings, run_lifecycle
from mockserver.conformance.lineage import lineage_field, remix_step
from mockserver.conformance.pagination import pages_step
from mockserver.conformance.report import ERROR, Finding, PhaseResult, Report
from mockserver.conformance.retries import (
    RATE_LIMITED,
    RateLimited,
    RetryLedger,
    RetryPolicy,
    may_resend_create,
    send_carefully,
)
from mockserver.conformance.wire_forms import negative_on_the_wire
from mockserver.contract.loading import Contract, resolve_spec_path
from mockserver.core.keys import mask

SCHEMATHESIS_PHASES = ("examples", "coverage", "fuzzing", "stateful")
PHASES = ("lifecycle", *SCHEMATHESIS_PHASES)

Progress = Callable[[str], None]


@dataclass
class ConformOptions:
    base_url: str  # what you give the SDK, e.g. http://127.0.0.1:8000/v1
    api_key: str
    spec: str = "reference"  # reference, docs, or a path
    second_api_key: str | None = None  # another key of the same server, for the isolation checks
    max_creates: int = 3
    phases: tuple[str, ...] = PHASES
    max_examples: int = 10
    seed: int | None = None
    request_timeout: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)  # extra headers on every request
    exclude_checks: tuple[str, ...] = ()  # lifecycle or schemathesis check names not to run
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        unknown = [p for p in self.phases if p not in PHASES]
        if unknown:
            raise ValueError(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
        if self.max_creates < 0:
            raise ValueError("--max-creates must be >= 0")
        self.base_url = self.base_url.rstrip("/")


@dataclass
class Plan:
    spec_path: Path
    operations: list[str]
    creating: list[str]
    phases: tuple[str, ...]
    max_creates: int
    lifecycle_uses: list[str]  # what each create the lifecycle phase asks for is for, in the order it is served
    retry: RetryPolicy

    def render(self, base_url: str) -> str:
        lines = [
            f"Plan: check {base_url} against {self.spec_path}",
            "",
            f"Operations ({len(self.operations)}; $ = could start a paid job):",
        ]
        lines += [f"  {'$' if op in self.creating else ' '} {op}" for op in self.operations]
        lines.append("")
        lines.append(f"Phases: {', '.join(self.phases) or '(none)'}")
        if "lifecycle" in self.phases:
            lines.append(f"  lifecycle checks: {', '.join(n for n, c in CHECKS.items() if c.severity == ERROR)}")
            deviations = ", ".join(n for n, c in CHECKS.items() if c.severity != ERROR)
            lines.append(f"  deviation checks (reported, do not fail the run): {deviations}")
        lines.append(
            f"Creates: at most {self.max_creates} job-creating request(s) in the whole run (--max-creates); "
            f"the lifecycle phase uses up to {min(self.max_creates, len(self.lifecycle_uses))} "
            f"({', '.join(self.lifecycle_uses) or 'none'}; in this order, as the budget lasts), schemathesis the rest"
        )
        lines.append(
            f"Retries: 429/503 answers are retried after the wait the server asks for; {self.retry.describe()}"
        )
        return "\n".join(lines)


def load_contract(spec: str) -> Contract:
    return Contract.load(resolve_spec_path(spec))


def make_plan(options: ConformOptions, contract: Contract | None = None) -> Plan:
    contract = contract or load_contract(options.spec)
    creating = job_creating_operations(contract)
    operations = [f"{method} {path}" for (method, path) in contract.operations]
    wanted = lifecycle_creates(options, contract) if "lifecycle" in options.phases else []
    return Plan(
        spec_path=Path(contract.source or options.spec),
        operations=operations,
        creating=[f"{m} {p}" for (m, p) in sorted(creating)],
        phases=options.phases,
        max_creates=options.max_creates,
        lifecycle_uses=wanted,
        retry=options.retry,
    )


def lifecycle_creates(options: ConformOptions, contract: Contract) -> list[str]:
    """What each create the lifecycle phase may send is for, in the order the budget serves them."""
    remix = contract.find("POST", "/videos/{video_id}/remix") is not None
    wanted = ["a job that should complete"]
    if options.lifecycle.failed_job:
        wanted.append("one that should fail")
    if remix and lineage_field(contract) is not None:
        wanted.append("a remix (lineage)")
    if remix and options.second_api_key:
        wanted.append("the second key's remix (isolation; creates nothing on a server that isolates keys)")
    return wanted


def job_steps(options: ConformOptions) -> tuple[JobStep, ...]:
    """The steps over the completed job, in order: the remix first, so that the list has two jobs to page over."""
    return (remix_step, pages_step, isolation_step(options.second_api_key))


def run_conformance(options: ConformOptions, progress: Progress = lambda line: None) -> Report:
    """Check the server at `options.base_url` against the contract; never raises for what the server does."""
    started = time.monotonic()
    contract = load_contract(options.spec)
    budget = CreateBudget(options.max_creates)
    retries = RetryLedger(options.retry)
    report = Report(
        base_url=options.base_url,
        spec=str(contract.source or options.spec),
        key_hint=mask(options.api_key),
        max_creates=options.max_creates,
        second_key_hint=mask(options.second_api_key) if options.second_api_key else "",
    )
    if "lifecycle" in options.phases:
        _lifecycle_phase(options, contract, budget, retries, report, progress)
    wanted = [p for p in SCHEMATHESIS_PHASES if p in options.phases]
    if wanted:
        _schemathesis_phases(options, contract, budget, retries, report, progress, wanted)
    report.creates_sent = budget.sent
    report.creates_refused = dict(budget.refused)
    report.retry_policy = options.retry.describe()
    report.retries = {str(status): count for status, count in sorted(retries.retries.items())}
    report.retry_seconds = retries.waited
    report.retries_given_up = [f"HTTP {status} {what}" for status, what in retries.given_up]
    limited = sum(1 for status, _ in retries.given_up if status == RATE_LIMITED)
    if limited:
        report.errors.append(
            f"{limited} request(s) still rate-limited (429) when the retry budget said stop; "
            "the checks that needed them are skipped, not failed"
        )
    report.duration = time.monotonic() - started
    return report


# -- lifecycle -----------------------------------------------------------------------------


def _rate_limited_skip(verdict: Failed) -> Skipped | None:
    """A verdict on an answer that was still 429 after the retries says nothing about the contract."""
    ex = verdict.exchange
    if ex is None or not ex.rate_limited:
        return None
    return Skipped(f"rate limited: {ex.step} was answered 429 ({ex.gave_up or 'not retried'})")


def _lifecycle_phase(
    options: ConformOptions,
    contract: Contract,
    budget: CreateBudget,
    retries: RetryLedger,
    report: Report,
    progress: Progress,
) -> None:
    started = time.monotonic()
    progress("lifecycle phase: real jobs, polled to the end")
    headers = dict(options.headers)
    settings = options.lifecycle
    settings.request_timeout = options.request_timeout
    run = run_lifecycle(
        contract,
        options.base_url,
        options.api_key,
        budget,
        settings,
        extra_headers=headers,
        retries=retries,
        progress=progress,
        steps=job_steps(options),
    )
    verdicts = run_checks(run, [name for name in CHECKS if name not in options.exclude_checks])
    for name, results in verdicts.items():
        result = report.result(name, "lifecycle", CHECKS[name].description, CHECKS[name].severity)
        for verdict in results:
            if isinstance(verdict, Failed):
                verdict = _rate_limited_skip(verdict) or verdict
            if isinstance(verdict, Passed):
                result.passed += 1
            elif isinstance(verdict, Skipped):
                result.add_skip(verdict.reason)
            elif isinstance(verdict, Failed):
                ex = verdict.exchange
                result.add_finding(
                    Finding(
                        check=name,
                        operation=ex.operation if ex else "",
                        expected=verdict.expected,
                        actual=verdict.actual,
                        curl=ex.curl() if ex else "",
                        step=ex.step if ex else "",
                    )
                )
        if not results:
            result.add_skip("nothing to check")
        progress(f"  {result.status.upper():<7} {name}")
    network = [ex for ex in run.exchanges() if ex.network_error]
    for ex in network[:5]:
        report.errors.append(f"lifecycle: {ex.method} {ex.url} ({ex.step}) got no response: {ex.network_error}")
    report.phases.append(
        PhaseResult("lifecycle", "ran", f"{sum(1 for _ in run.exchanges())} requests", time.monotonic() - started)
    )


# -- schemathesis --------------------------------------------------------------------------

_guard_lock = threading.Lock()


def _status_and_headers(response: Any) -> tuple[int | None, dict[str, str]]:
    """schemathesis' Response has lower-cased header names with a list of values each."""
    return response.status_code, {name.lower(): values[0] for name, values in response.headers.items() if values}


@contextlib.contextmanager
def _careful_transport(
    budget: CreateBudget, creating: frozenset[tuple[str, str]], retries: RetryLedger
) -> Iterator[None]:
    """Make schemathesis' requests transport keep to the create budget and retry 429/503 as the lifecycle does.

    Every request schemathesis sends to the API (generated cases, stateful steps, the extra
    requests some checks make) goes through this transport's `send`; the instance attribute
    shadows the method only for the duration of the run. A job-creating request beyond the budget
    is refused; one still answered 429 when the retry budget says stop raises `RateLimited`, so
    that no check judges a rate limit.
    """
    from schemathesis.transport.requests import REQUESTS_TRANSPORT

    with _guard_lock:
        original = REQUESTS_TRANSPORT.send

        def careful_send(case: Any, **kwargs: Any) -> Any:
            operation = case.operation
            label = f"{operation.method.upper()} {operation.path}"
            creates = (operation.method.upper(), operation.path) in creating
            if creates:
                budget.require(label)
            response: Any
            response, _, stopped = send_carefully(
                retries,
                f"schemathesis {label}",
                lambda: original(case, **kwargs),
                _status_and_headers,
                may_resend_create(lambda: budget.spend(label)) if creates else lambda status: True,
            )
            if stopped is not None and response.status_code == RATE_LIMITED:
                raise RateLimited(label, stopped.reason)
            return response

        REQUESTS_TRANSPORT.send = careful_send  # type: ignore[method-assign]
        try:
            yield
        finally:
            del REQUESTS_TRANSPORT.send  # back to the class's method


def _schemathesis_config(options: ConformOptions, wanted: list[str]) -> Any:
    from schemathesis.config import SchemathesisConfig

    headers = {**options.headers, "Authorization": f"Bearer {options.api_key}"}
    if options.lifecycle.mock_duration is not None:
        # Jobs created by fuzzing finish quickly on the fake; real servers ignore the header.
        headers.setdefault("X-Mock-Duration", f"{options.lifecycle.mock_duration:g}")
    data: dict[str, Any] = {
        "base-url": options.base_url,
        "headers": headers,
        "request-timeout": options.request_timeout,
        "workers": 1,
        "generation": {"max-examples": options.max_examples, "database": "none"},
        "phases": {phase: {"enabled": phase in wanted} for phase in SCHEMATHESIS_PHASES},
        "color": False,
    }
    excluded = [name for name in options.exclude_checks if name not in CHECKS]
    if excluded:
        data["checks"] = {name: {"enabled": False} for name in excluded}
    if options.seed is not None:
        data["seed"] = options.seed
    return SchemathesisConfig.from_dict(data)


def _part_media_types(contract: Contract) -> set[str]:
    """Every media type the contract's multipart encodings give a part (`encoding: {video: {contentType: ...}}`)."""
    found: set[str] = set()
    for methods in contract.document.get("paths", {}).values():
        for operation in methods.values() if isinstance(methods, dict) else ():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            for encoding in content.get("multipart/form-data", {}).get("encoding", {}).values():
                found.update(t.strip() for t in str(encoding.get("contentType", "")).split(",") if t.strip())
    return found


def _serialize_file_parts(contract: Contract) -> None:
    # schemathesis serialises image parts and octet-stream, but has no serializer for video/mp4: a
    # generated `video` part that is not bytes yet (an object, a number) was reported as "Serialization
    # not possible", a run error against a correct server. Such parts are sent as bytes, as files are.
    import schemathesis
    from schemathesis.transport.requests import REQUESTS_TRANSPORT

    missing = sorted(
        t for t in _part_media_types(contract) if REQUESTS_TRANSPORT.get_first_matching_media_type(t) is None
    )
    if missing:
        schemathesis.serializer.alias(missing, "application/octet-stream")


def _is_held_back(error: BaseException | None) -> bool:
    """A request the cost guard did not send, or a rate limit not handed on: counted, never a run error."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (CreateBudgetSpent, RateLimited)):
            return True
        if isinstance(error, BaseExceptionGroup) and any(_is_held_back(e) for e in error.exceptions):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def _plain(text: str) -> str:
    return " ".join(text.split())


def _schemathesis_phases(
    options: ConformOptions,
    contract: Contract,
    budget: CreateBudget,
    retries: RetryLedger,
    report: Report,
    progress: Progress,
    wanted: list[str],
) -> None:
    try:
        import schemathesis
        from schemathesis.engine import Status, events, from_schema
        from schemathesis.engine.run import INTERNAL_PHASES
        from schemathesis.schemas import BaseSchema
    except ImportError:  # pragma: no cover - depends on the environment
        report.errors.append(
            "schemathesis is not installed: pip install 'mockserver[conform]' (or skip it with --phases lifecycle)"
        )
        return
    _serialize_file_parts(contract)
    creating = job_creating_operations(contract)
    spec_path = Path(contract.source or resolve_spec_path(options.spec))
    schema: BaseSchema = schemathesis.openapi.from_path(str(spec_path), config=_schemathesis_config(options, wanted))
    if budget.remaining <= 0:
        labels = sorted(f"{m} {p}" for m, p in creating)
        schema = schema.exclude(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in creating)
        progress(f"schemathesis: create budget spent, not testing {', '.join(labels)}")
        for label in labels:
            report.creates_refused.setdefault(label, 0)
        report.phases.append(
            PhaseResult("schemathesis", "ran", f"without {len(labels)} job-creating operation(s): create budget spent")
        )

    phase_started: dict[str, float] = {}
    phase_counts: dict[str, list[int]] = {}
    with _careful_transport(budget, creating, retries):
        for event in from_schema(schema).execute():
            if isinstance(event, events.PhaseStarted) and event.phase.name not in INTERNAL_PHASES:
                name = event.phase.name.value
                phase_started[name] = time.monotonic()
                phase_counts[name] = [0, 0]
                if event.phase.is_enabled:
                    progress(f"schemathesis {name} phase ...")
            elif isinstance(event, events.PhaseFinished) and event.phase.name not in INTERNAL_PHASES:
                name = event.phase.name.value
                if name not in wanted:
                    continue
                seconds = time.monotonic() - phase_started.get(name, time.monotonic())
                scenarios, failures = phase_counts.get(name, [0, 0])
                skip = event.phase.skip_reason
                status = "skipped" if event.status == Status.SKIP and scenarios == 0 else "ran"
                detail = f"{scenarios} scenarios, {failures} with failures" + (
                    f" ({skip.display})" if skip and status == "skipped" else ""
                )
                report.phases.append(PhaseResult(name, status, detail, seconds))
                progress(f"schemathesis {name} phase: {detail} in {seconds:.1f}s")
            elif isinstance(event, events.ScenarioFinished):
                counts = phase_counts.setdefault(event.phase.value, [0, 0])
                counts[0] += 1
                if _record_scenario(event, report, Status, contract):
                    counts[1] += 1
            elif isinstance(event, events.NonFatalError):
                if _is_held_back(event.value):
                    continue  # counted by the budget as "not sent", or by the retries as given up
                report.errors.append(
                    _plain(
                        f"schemathesis {event.phase.value if event.phase else ''} {event.label}: {event.info.title}: "
                        f"{event.info.message}"
                    )
                )
            elif isinstance(event, events.FatalError):
                report.errors.append(_plain(f"schemathesis could not run: {event.exception}"))
            elif isinstance(event, events.EngineFinished):
                for failure in getattr(event, "failures", None) or []:
                    result = report.result("after_run", "schemathesis")
                    result.add_finding(
                        Finding("after_run", failure.operation or "", failure.title, _plain(failure.message), "")
                    )


def _valid_as_sent(case_node: Any, contract: Contract) -> bool:
    if case_node is None:
        return False
    case = case_node.value
    return not negative_on_the_wire(contract, case.operation.method, case.operation.path, case.media_type, case.body)


def _expected_actual(title: str, message: str) -> tuple[str, str]:
    """schemathesis writes "what happened ... Expected: ..."; split it into the two sides."""
    text = _plain(message)
    head, sep, tail = text.partition("Expected:")
    if sep:
        tail, _, hint = tail.partition("Hint:")
        return _plain(tail), f"{title}: {_plain(head)}" + (f" (hint: {_plain(hint)})" if hint else "")
    return f"no '{title}'", f"{title}: {text}" if text else title


def _curl(code_sample: str) -> str:
    # schemathesis masks the values of credential headers; make the line runnable with each value read
    # from the environment: the key from $OPENAI_API_KEY, another header from a variable of its own name.
    sample = _plain(code_sample).replace("-H 'Authorization: [Filtered]'", '-H "Authorization: Bearer $OPENAI_API_KEY"')
    return _FILTERED_HEADER.sub(lambda m: f'-H "{m[1]}: {header_variable(m[1])}"', sample).replace(
        "[Filtered]", "$SECRET"
    )


_FILTERED_HEADER = re.compile(r"-H '([A-Za-z0-9-]+): \[Filtered\]'")


def _record_scenario(event: Any, report: Report, Status: Any, contract: Contract) -> bool:
    """Fold one schemathesis scenario into the per-check results; True when a check failed in it."""
    recorder = event.recorder
    failed = False
    for case_id, nodes in recorder.checks.items():
        case_node = recorder.cases.get(case_id)
        operation = case_node.value.operation.label if case_node is not None else (event.label or "")
        for node in nodes:
            result = report.result(node.name, "schemathesis")
            if node.status == Status.SUCCESS:
                result.passed += 1
            elif (
                node.status == Status.FAILURE
                and node.name == "negative_data_rejection"
                and _valid_as_sent(case_node, contract)
            ):
                result.add_skip("the invalid value was valid once sent as multipart text")
            elif node.status == Status.FAILURE and node.failure_info is not None:
                failed = True
                failure = node.failure_info.failure
                expected, actual = _expected_actual(failure.title, failure.message)
                result.add_finding(
                    Finding(
                        check=node.name,
                        operation=operation,
                        expected=expected,
                        actual=actual,
                        curl=_curl(node.failure_info.code_sample),
                        step=f"{event.phase.value} phase",
                    )
                )
            elif node.status == Status.SKIP:
                result.add_skip("not applicable")
    return failed
