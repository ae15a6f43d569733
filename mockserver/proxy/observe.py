"""Passive validation: what the proxy saw go by, judged with the checks `conform` uses.

`conform` drives its own jobs and records them as `JobTrace`s; the checks in
conformance/checks.py and conformance/dialect_checks.py judge those traces. The proxy drives
nothing: it sorts the exchanges it forwards into one `JobTrace` per job it saw created (the
create, every successful poll, downloads, the list pages that should show it, a delete and the
retrieve after it) and runs the same checks on that trace after each exchange of the job. Each
exchange on its own also goes through the checks that judge single answers (the error
envelope, 401 without a key, 404 for an id never issued) and the contract's status and schema
rules (schema_checks.py).

Only the checks that can be judged on traffic someone else chose are run (PASSIVE_JOB_CHECKS):
not `terminal_within_deadline` (the client decides how long it waits) nor `create_accepted`
(a client may send a create the contract refuses). A violation is reported once per job and
distinct finding, with how many exchanges showed it and the request ids of the first of them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from mockserver.conformance import dialect_checks  # noqa: F401  (registers its checks in CHECKS)
from mockserver.conformance.budget import job_creating_operations
from mockserver.conformance.checks import CHECKS, Failed, Passed, Skipped, Verdict
from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobTrace, LifecycleRun, phase_words
from mockserver.conformance.report import DEVIATION, ERROR, Finding, Report, to_junit
from mockserver.contract.loading import Contract
from mockserver.core.errors import APIError
from mockserver.core.jobs import Phase
from mockserver.core.keys import is_credential_header, mask
from mockserver.http.inputs import _split_multipart
from mockserver.proxy import schema_checks
from mockserver.proxy.traffic import Observed, sha256_of

log = logging.getLogger("mockserver.proxy")

PASSIVE_JOB_CHECKS = (
    "status_vocabulary",
    "required_fields",
    "seconds_is_string",
    "video_schema",
    "id_stable",
    "forward_transitions",
    "terminal_is_final",
    "progress_range",
    "progress_monotonic",
    "completed_timestamps",
    "content_before_completion",
    "content_available",
    "content_media_type",
    "content_format",
    "failed_job_error",
    "failed_job_no_content",
    "listed_after_create",
    "delete_then_404",
    "id_format",
    "undeclared_fields",
    "optional_extras",
    "timestamps_in_seconds",
    "completed_at_when_done",
)
PASSIVE_EXCHANGE_CHECKS = ("auth_required", "unknown_id_404", "error_envelope")
# Not refusals of the request itself: a list answered so says nothing about whether a job is listed.
_TRANSIENT = frozenset({401, 403, 408, 429})
MAX_REQUEST_IDS = 50  # per violation; `count` says how many exchanges showed it


def passive_checks() -> list[str]:
    """Every check name the proxy can report."""
    return [*PASSIVE_EXCHANGE_CHECKS, *PASSIVE_JOB_CHECKS, *schema_checks.SCHEMA_CHECKS]


@dataclass
class ObservedExchange(Exchange):
    """An exchange as conform records one, with the request id that names it in violations."""

    request_id: str = ""


@dataclass
class Violation:
    check: str
    severity: str
    operation: str
    expected: str
    actual: str
    video_id: str | None
    request_ids: list[str]  # the first MAX_REQUEST_IDS exchanges that showed it
    count: int  # how many exchanges showed it
    first_seen: float
    curl: str
    seen: set[str] = field(default_factory=set, repr=False)  # every request id counted

    @property
    def request_id(self) -> str:
        return self.request_ids[0]

    def line(self) -> str:
        job = f" video {self.video_id}" if self.video_id else ""
        kind = "DEVIATION" if self.severity == DEVIATION else "VIOLATION"
        where = f"{self.check} [{self.request_id}] {self.operation}{job}"
        return f"{kind} {where}: expected {self.expected}; got {self.actual}"

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "request_id": self.request_id,
            "request_ids": self.request_ids,
            "count": self.count,
            "operation": self.operation,
            "video_id": self.video_id,
            "expected": self.expected,
            "actual": self.actual,
            "first_seen": self.first_seen,
            "curl": self.curl,
        }


@dataclass
class TrackedJob:
    """One job the proxy saw created, and what it has seen of it since."""

    number: int  # 1, 2, ...: the order of the creates
    video_id: str
    owner: str | None  # the key's fingerprint: lists of other keys do not show it
    create: Observed
    create_fields: dict[str, Any]
    operation: str  # e.g. "POST /videos/{video_id}/remix"
    source_id: str | None  # the video a remix was made from
    created_at: Any  # the create answer's created_at, to place the job among listed ones
    trace: JobTrace
    observed: list[dict[str, Any]] = field(default_factory=list)  # the timeline: status and progress when seen
    phase: Phase | None = None  # the last status seen
    early_downloads: list[Exchange] = field(default_factory=list)  # 2xx content while it was not seen completed
    pending_delete: Exchange | None = None
    content: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant -> the download's sha256, type, size

    @property
    def deleted(self) -> bool:
        return self.pending_delete is not None or self.trace.delete is not None


class Observation:
    """Everything seen so far, and the violations found in it; used from the proxy's event loop only."""

    def __init__(
        self,
        contract: Contract,
        upstream_url: str,
        base_path: str,
        *,
        on_violation: Callable[[Violation], None] = lambda v: None,
    ) -> None:
        self.contract = contract
        self.upstream_url = upstream_url
        self.base_path = base_path
        self.on_violation = on_violation
        self.words = phase_words(contract)
        self.creating = job_creating_operations(contract)
        self.templates = sorted(contract.operations, key=lambda op: ("{" in op[1], op[1]))  # literal paths first
        self.jobs: dict[str, TrackedJob] = {}
        self.violations: dict[tuple[Any, ...], Violation] = {}
        self.exchanges = 0
        self.keys: set[str] = set()  # every key seen, so that no output ever shows one unmasked
        self.started = time.time()
        self._exchange_counts: dict[str, list[int]] = {}  # per-exchange checks: [passed, failed]
        self._listeners: list[Callable[[Observed, Exchange | None, TrackedJob | None], None]] = []

    def listen(self, listener: Callable[[Observed, Exchange | None, TrackedJob | None], None]) -> None:
        """Also tell `listener` about every exchange, after it was judged (the cassette writer)."""
        self._listeners.append(listener)

    # -- what went by ----------------------------------------------------------------------

    def __call__(self, seen: Observed) -> None:
        self.exchanges += 1
        self.keys.update(_credentials(seen))
        matched = self.match(seen.method, seen.path)
        exchange: Exchange | None = None
        job: TrackedJob | None = None
        if matched is not None and seen.status is not None:
            template, params = matched
            exchange = self._exchange(seen, template)
            listed = self._listed(seen, exchange) if (seen.method, template) == ("GET", "/videos") else []
            before = self._revision(params.get("video_id"))
            job = self._sort(seen, exchange, template, params)
            self._judge_exchange(seen, exchange, template, params, job)
            if job is not None and (job.create is seen or self._revision(job.video_id) != before):
                listed.append(job)
            for touched in listed:
                self._judge_job(touched)
        for listener in self._listeners:
            listener(seen, exchange, job)

    def match(self, method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
        """(path template, path parameters) of the contract operation a request is for."""
        if not raw_path.startswith(self.base_path + "/"):
            return None
        method = "GET" if method == "HEAD" else method
        parts = raw_path[len(self.base_path) :].split("/")
        for op_method, template in self.templates:
            if op_method != method:
                continue
            pattern = template.split("/")
            if len(pattern) != len(parts):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    if not got:
                        break
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return template, params
        return None

    def _exchange(self, seen: Observed, template: str) -> Exchange:
        fields, _ = request_fields(seen)
        shown = {name: value for name, value in seen.request_headers if name.startswith(("x-mock-", "openai-"))}
        form = (
            {name: (value if isinstance(value, str) else json.dumps(value)) for name, value in fields.items()}
            if fields
            else None
        )
        return ObservedExchange(
            request_id=seen.request_id,
            step=f"request {seen.seq}",
            operation=f"{'GET' if seen.method == 'HEAD' else seen.method} {template}",
            method=seen.method,
            url=self.upstream_url[: len(self.upstream_url) - len(self.base_path)]
            + seen.path
            + (f"?{seen.query}" if seen.query else ""),
            request_headers=shown,
            form=form,
            auth="key" if _credential(seen) else "none",
            status=seen.status,
            headers=dict(seen.response_headers),
            body_prefix=seen.response_prefix,
            body_size=seen.response_size,
            json=seen.response_json(),
        )

    def _revision(self, video_id: str | None) -> tuple[Any, ...] | None:
        """What the job's trace holds, by count and identity: the checks can judge it differently once this changes."""
        job = self.jobs.get(video_id) if video_id is not None else None
        if job is None:
            return None
        t = job.trace
        return (
            t.role,
            len(t.polls),
            id(t.early_content),
            tuple(map(id, t.content.values())),
            id(t.delete),
            id(t.after_delete),
            len(t.listing),
        )

    def _phase(self, body: Any) -> Phase | None:
        status = body.get("status") if isinstance(body, dict) else None
        return self.words.get(status) if isinstance(status, str) else None

    def _sort(self, seen: Observed, exchange: Exchange, template: str, params: dict[str, str]) -> TrackedJob | None:
        """Put the exchange where conform would have recorded it; the job it belongs to, if any."""
        method = "GET" if seen.method == "HEAD" else seen.method
        body = exchange.json
        if (method, template) in self.creating:
            if exchange.ok and isinstance(body, dict) and isinstance(body.get("id"), str):
                return self._created(seen, exchange, template, params, body)
            return None
        video_id = params.get("video_id")
        job = self.jobs.get(video_id) if video_id is not None else None
        if job is None:
            return None
        trace = job.trace
        if method == "GET" and template == "/videos/{video_id}":
            if job.deleted:
                if job.pending_delete is not None and trace.after_delete is None:
                    trace.delete, trace.after_delete, job.pending_delete = job.pending_delete, exchange, None
                return job
            if exchange.ok and isinstance(body, dict):
                # A poll answered exactly as the one before adds nothing any check could judge differently;
                # leaving it out keeps judging a job polled for an hour as cheap as one polled a few times.
                if not trace.polls or trace.polls[-1].json != body:
                    trace.polls.append(exchange)
                self._saw(job, seen, body)
                if (
                    job.early_downloads
                    and trace.early_content is None
                    and job.phase is not None
                    and not job.phase.terminal
                ):
                    trace.early_content = job.early_downloads[0]  # served, and the job still not done
            return job
        if method == "GET" and template == "/videos/{video_id}/content":
            if seen.method == "HEAD" or seen.status == 206:
                return job  # a part or the headers only: nothing to judge the bytes by
            variant = seen.query_params.get("variant") or self.contract.vocabulary.default_variant
            if job.phase is not None and job.phase.terminal:
                trace.content[variant] = exchange
                if exchange.ok and seen.response_sha256:
                    job.content[variant] = {
                        "sha256": seen.response_sha256,
                        "media_type": seen.media_type,
                        "size": seen.response_size,
                    }
            elif exchange.ok:
                job.early_downloads.append(exchange)
            elif trace.early_content is None:
                trace.early_content = exchange
            return job
        if method == "DELETE" and template == "/videos/{video_id}":
            if exchange.ok:
                job.pending_delete = exchange  # judged once a retrieve shows what became of the job
            else:
                trace.delete = exchange
            return job
        return job

    def _created(
        self, seen: Observed, exchange: Exchange, template: str, params: dict[str, str], body: dict[str, Any]
    ) -> TrackedJob:
        fields, _ = request_fields(seen)
        key = seen.api_key
        job = TrackedJob(
            number=len(self.jobs) + 1,
            video_id=body["id"],
            owner=sha256_of(key.encode()) if key else None,
            create=seen,
            create_fields=fields,
            operation=f"POST {template}",
            source_id=params.get("video_id") or _source_in(fields),
            created_at=body.get("created_at"),
            trace=JobTrace("completed", create=exchange, video_id=body["id"]),
        )
        self.jobs[job.video_id] = job
        self._saw(job, seen, body)
        return job

    def _saw(self, job: TrackedJob, seen: Observed, body: dict[str, Any]) -> None:
        phase = self._phase(body)
        job.phase = phase or job.phase
        job.trace.role = "failed" if job.phase is Phase.FAILED else "completed"
        job.observed.append(
            {
                # Seconds after the create was answered; the phase, so a replay needs no dialect's words.
                "t": round(seen.finished - job.create.finished, 3),
                "phase": phase.value if phase is not None else None,
                "status": body.get("status"),
                "progress": body.get("progress"),
                "request_id": seen.request_id,
            }
        )

    def _listed(self, seen: Observed, exchange: Exchange) -> list[TrackedJob]:
        """A list page goes to the trace of each job of that key it should show (listed_after_create)."""
        key = seen.api_key
        owner = sha256_of(key.encode()) if key else None
        query = seen.query_params
        body = exchange.json if isinstance(exchange.json, dict) else {}
        data = body.get("data") if isinstance(body.get("data"), list) else None
        ids = {item.get("id") for item in data if isinstance(item, dict)} if data is not None else set()
        touched: list[TrackedJob] = []
        for job in self.jobs.values():
            if job.owner != owner or job.deleted or job.create.finished > seen.started:
                continue
            if not exchange.ok:
                # The list itself refused: the job cannot be listed (unless the refusal is about the caller).
                shows = not query and exchange.status not in _TRANSIENT and (exchange.status or 500) < 500
            elif data is None or job.video_id in ids:
                shows = True
            else:  # the whole list, or a first page that reaches past the job
                first_page = "after" not in query and "before" not in query
                shows = first_page and (not body.get("has_more") or _newer_than_page(job, data, query))
            if shows:
                job.trace.listing.append(exchange)
                touched.append(job)
        return touched

    # -- judging ---------------------------------------------------------------------------

    def _judge_exchange(
        self, seen: Observed, exchange: Exchange, template: str, params: dict[str, str], job: TrackedJob | None
    ) -> None:
        probe = "exchange"
        if not _credential(seen):
            probe = "no_key"
        elif (
            "video_id" in params
            and params["video_id"] not in self.jobs
            and seen.method in ("GET", "HEAD")
            and exchange.status is not None
            and 400 <= exchange.status < 500
            and exchange.status not in _TRANSIENT
        ):
            probe = "unknown_id"  # an id this proxy never saw created, refused: conform's unknown-id probe
        run = LifecycleRun(self.contract, probes={probe: exchange}, phase_words=self.words)
        verdicts: list[tuple[str, Verdict]] = [
            (name, v) for name in PASSIVE_EXCHANGE_CHECKS for v in CHECKS[name].function(run)
        ]
        verdicts += schema_checks.judge(self.contract, exchange, template, dict(seen.request_headers))
        for name, verdict in verdicts:
            counts = self._exchange_counts.setdefault(name, [0, 0])
            if isinstance(verdict, Passed):
                counts[0] += 1
            elif isinstance(verdict, Failed):
                counts[1] += 1
                self._report(name, verdict, job.video_id if job else params.get("video_id"))

    def _judge_job(self, job: TrackedJob) -> None:
        run = self._run_of(job)
        for name in PASSIVE_JOB_CHECKS:
            for verdict in CHECKS[name].function(run):
                if isinstance(verdict, Failed):
                    self._report(name, verdict, job.video_id)

    def _run_of(self, job: TrackedJob) -> LifecycleRun:
        return LifecycleRun(self.contract, jobs={job.trace.role: job.trace}, phase_words=self.words)

    def _report(self, name: str, failed: Failed, video_id: str | None) -> None:
        exchange = failed.exchange
        request_id = exchange.request_id if isinstance(exchange, ObservedExchange) else ""
        operation = exchange.operation if exchange is not None else ""
        key = (name, video_id, operation, failed.expected, failed.actual)
        known = self.violations.get(key)
        if known is not None:
            if request_id not in known.seen:
                known.seen.add(request_id)
                known.count += 1
                if len(known.request_ids) < MAX_REQUEST_IDS:
                    known.request_ids.append(request_id)
            return
        violation = Violation(
            check=name,
            severity=_severity(name),
            operation=operation,
            expected=self.redact(failed.expected),
            actual=self.redact(failed.actual),
            video_id=video_id,
            request_ids=[request_id],
            count=1,
            seen={request_id},
            first_seen=time.time(),
            curl=self.redact(exchange.curl()) if exchange is not None else "",
        )
        self.violations[key] = violation
        self.on_violation(violation)

    def redact(self, text: str) -> str:
        for key in self.keys:
            if key in text:
                text = text.replace(key, mask(key))
        return text

    # -- what to show ----------------------------------------------------------------------

    def violation_list(self) -> list[dict[str, Any]]:
        return [v.to_json() for v in self.violations.values()]

    def summary(self) -> dict[str, Any]:
        """GET /__mock/violations."""
        violations = self.violation_list()
        return {
            "upstream": self.upstream_url,
            "exchanges": self.exchanges,
            "jobs": len(self.jobs),
            "violations": violations,
            "failed_checks": sorted({v["check"] for v in violations if v["severity"] == ERROR}),
            "deviation_checks": sorted({v["check"] for v in violations if v["severity"] == DEVIATION}),
        }

    def report(self, spec: str) -> Report:
        """A conform-style report: per check, what passed, what was skipped and every violation."""
        report = Report(
            base_url=self.upstream_url,
            spec=spec,
            key_hint=", ".join(sorted(mask(k) for k in self.keys)) or "none seen",
            max_creates=0,
            started_at=self.started,
            duration=time.time() - self.started,
        )
        for name in passive_checks():
            source = "schema" if name in schema_checks.SCHEMA_CHECKS else "lifecycle"
            description = (
                schema_checks.SCHEMA_CHECKS[name].description if source == "schema" else CHECKS[name].description
            )
            report.result(name, source, description, _severity(name))
        for name, (passed, _) in self._exchange_counts.items():
            report.checks[name].passed += passed
        for job in self.jobs.values():
            run = self._run_of(job)
            for name in PASSIVE_JOB_CHECKS:
                for verdict in CHECKS[name].function(run):
                    if isinstance(verdict, Passed):
                        report.checks[name].passed += 1
                    elif isinstance(verdict, Skipped):
                        report.checks[name].add_skip(verdict.reason)
                    else:  # known already, unless the last exchange of the job only settled it now
                        self._report(name, verdict, job.video_id)
        for violation in self.violations.values():
            result = report.checks[violation.check]
            result.failed += violation.count - 1
            result.add_finding(
                Finding(
                    violation.check,
                    violation.operation,
                    violation.expected,
                    violation.actual,
                    violation.curl,
                    step=f"request {violation.request_id}"
                    + (f", video {violation.video_id}" if violation.video_id else ""),
                )
            )
        for result in report.checks.values():
            if result.failed:
                result.skipped, result.skip_reasons = 0, []
        return report

    def junit(self, spec: str) -> str:
        return self.redact(to_junit(self.report(spec), suite_name="mockserver proxy"))

    def report_json(self, spec: str) -> dict[str, Any]:
        report = self.report(spec)
        return json.loads(
            self.redact(
                json.dumps(
                    {
                        "upstream": self.upstream_url,
                        "spec": spec,
                        "started_at": self.started,
                        "stopped_at": time.time(),
                        "exchanges": self.exchanges,
                        "jobs": len(self.jobs),
                        "passed": not report.failed_checks(),
                        "failed_checks": report.failed_checks(),
                        "deviation_checks": report.deviation_checks(),
                        "checks": {
                            name: {
                                "status": r.status,
                                "severity": r.severity,
                                "source": r.source,
                                "passed": r.passed,
                                "failed": r.failed,
                                "skipped": r.skipped,
                                "skip_reasons": r.skip_reasons,
                                "description": r.description,
                            }
                            for name, r in report.checks.items()
                        },
                        "violations": self.violation_list(),
                    },
                    ensure_ascii=False,
                )
            )
        )


def _source_in(fields: dict[str, Any]) -> str | None:
    """The video an edit or extension builds on: `video[id]` in a form, `{"video": {"id"}}` in JSON."""
    video = fields.get("video")
    source = video.get("id") if isinstance(video, dict) else fields.get("video[id]")
    return source if isinstance(source, str) else None


def _severity(name: str) -> str:
    return CHECKS[name].severity if name in CHECKS else ERROR


def _credentials(seen: Observed) -> set[str]:
    """Every secret the request carried: the Bearer key, other key headers, a key in the query."""
    found = {seen.api_key or ""}
    found |= {value.strip() for name, value in seen.request_headers if name in ("api-key", "x-api-key")}
    found |= {value for name, value in seen.query_params.items() if name in ("api_key", "key")}
    return {secret for secret in found if len(secret) >= 8}  # masking a shorter one would hit ordinary words


def _credential(seen: Observed) -> bool:
    return (
        any(is_credential_header(name) and name != "cookie" for name, _ in seen.request_headers)
        or "api_key" in seen.query_params
    )


def _newer_than_page(job: TrackedJob, data: list[Any], query: dict[str, str]) -> bool:
    """A newest-first page that lists jobs older than this one must list this one too."""
    if query.get("order", "desc") != "desc" or not isinstance(job.created_at, (int, float)):
        return False
    stamps: list[float] = [
        item["created_at"]
        for item in data
        if isinstance(item, dict) and isinstance(item.get("created_at"), (int, float))
    ]
    return bool(stamps) and min(stamps) < job.created_at


def request_fields(seen: Observed) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The fields of a request body (form or JSON) and its uploads (name -> filename, type, size, sha256).

    Tolerant: a body the proxy cannot read gives no fields; the upstream judged it, not the proxy.
    Read once per exchange (the checks and the cassette both ask).
    """
    if seen.parsed_body is None:
        seen.parsed_body = _request_fields(seen)
    return seen.parsed_body


def _request_fields(seen: Observed) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    if not seen.request_body or not seen.request_body_complete:
        return {}, {}
    content_type = seen.header("content-type") or ""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            value = json.loads(seen.request_body)
        except ValueError:
            return {}, {}
        return (value, {}) if isinstance(value, dict) else ({}, {})
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(seen.request_body.decode("utf-8", "replace"), keep_blank_values=True)), {}
    if kind != "multipart/form-data":
        return {}, {}
    try:
        parts = _split_multipart(content_type, seen.request_body)
    except APIError:
        return {}, {}
    fields: dict[str, Any] = {}
    uploads: dict[str, dict[str, Any]] = {}
    for part in parts:
        if not part.name:
            continue
        if part.is_file():
            uploads[part.name] = {
                "filename": part.filename,
                "content_type": part.content_type,
                "size": part.size(),
                "sha256": part.sha256(),
            }
        else:
            fields[part.name] = part.data.decode("utf-8", "replace")
    return fields, uploads


def upload_bytes(seen: Observed) -> Iterable[tuple[str, bytes]]:
    """(sha256, bytes) of each uploaded file of a multipart request."""
    content_type = seen.header("content-type") or ""
    if not seen.request_body_complete or not content_type.lower().startswith("multipart/form-data"):
        return []
    try:
        parts = _split_multipart(content_type, seen.request_body)
    except APIError:
        return []
    return [(part.sha256(), part.data) for part in parts if part.name and part.is_file()]
