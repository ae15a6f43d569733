"""The lifecycle phase: real jobs driven through the API the way a client drives them.

It only talks and records; `checks.py` judges what it recorded. The scenario:

1. probes that create nothing: the list without a key and with a made-up key, an unknown id;
2. a job that should complete: create, ask for its content at once (before it can be done),
   poll it to a terminal state within the deadline (plus a few polls after, to see that it stays
   there), asking for its content again after every poll that says it is pending, download every
   content variant, find it in the list, delete it, fetch it again;
3. a job that should fail: created with `X-Mock-Outcome: failed:internal_error` and the same
   request as a `[mock:...]` prompt marker (the fake honours either; real servers ignore both),
   polled to a terminal state the same way, then asked for its content.

Between listing and deleting the completed job, the `JobStep`s the runner passes in run in turn
(a remix to see its lineage, a walk over the list's pages, the same job asked for with a second
key); each keeps what it sent in `LifecycleRun.records`, for its own checks.

Every create is taken from the shared `CreateBudget`; a job the budget does not cover is not
created and its checks are reported as skipped. Every request is retried on 429/503 as a careful
client does (retries.py); the answer recorded is the last one. The steps' creates are optional:
they never take the create the failed job still needs.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests

from mockserver import __version__
from mockserver.conformance.budget import CreateBudget
from mockserver.conformance.exchange import BODY_PREFIX_BYTES, KEY_PLACEHOLDER, Exchange, lower_headers
from mockserver.conformance.retries import RetryLedger, may_resend_create, send_carefully
from mockserver.contract.loading import PHASE_SYNONYMS, Contract
from mockserver.core.jobs import Phase

POLL_AFTER_HEADER = "openai-poll-after-ms"
WRONG_KEY = "invalid-key-for-conformance"  # not sk-..., so even the fake's "any sk- key" rule rejects it
FAILED_OUTCOME = "failed:internal_error"
DEFAULT_PROMPT = "A calico cat playing a piano on stage"

Progress = Callable[[str], None]


@dataclass
class LifecycleSettings:
    deadline: float = 600.0  # seconds a job may take to reach a terminal state
    max_polls: int = 200  # per job, whatever the deadline
    poll_interval: float | None = None  # fixed wait between polls; None: the server's hint, else a backoff
    max_poll_interval: float = 10.0
    settle_polls: int = 2  # extra polls after a terminal state, to see that it stays terminal
    mock_duration: float | None = 2.0  # X-Mock-Duration on creates (only the fake reads it)
    request_timeout: float = 30.0
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    prompt: str = DEFAULT_PROMPT
    failed_job: bool = True  # try to produce a failed job


@dataclass
class JobTrace:
    role: str  # "completed" (the job we expect to complete) or "failed"
    create: Exchange | None = None
    video_id: str | None = None
    early_content: Exchange | None = None  # content asked for right after the create
    polls: list[Exchange] = field(default_factory=list)
    pending_content: list[Exchange] = field(default_factory=list)  # content asked for after each pending poll
    content: dict[str, Exchange] = field(default_factory=dict)  # variant -> download
    listing: list[Exchange] = field(default_factory=list)
    delete: Exchange | None = None
    after_delete: Exchange | None = None
    timed_out: bool = False
    not_created: str | None = None  # why there is no job (budget spent, create rejected)
    removed: str | None = None  # how a step removed the job before its own delete (another key deleted it)

    def videos(self) -> Iterator[Exchange]:
        """Every exchange whose body should be a Video."""
        if self.create is not None and self.create.ok:
            yield self.create
        yield from (poll for poll in self.polls if poll.ok)

    def statuses(self) -> list[tuple[Exchange, Any]]:
        return [(ex, ex.json.get("status")) for ex in self.videos() if isinstance(ex.json, dict)]

    def final_status(self) -> Any:
        seen = self.statuses()
        return seen[-1][1] if seen else None

    def exchanges(self) -> Iterator[Exchange]:
        for ex in (
            self.create,
            self.early_content,
            *self.polls,
            *self.pending_content,
            *self.content.values(),
            *self.listing,
            self.delete,
            self.after_delete,
        ):
            if ex is not None:
                yield ex

    def timeline(self) -> list[Exchange]:
        """Every exchange of the job in the order it was sent."""
        return sorted(self.exchanges(), key=lambda ex: ex.sent_at)

    def asked(self) -> dict[str, str]:
        """The form the create sent (empty when there was no create)."""
        return dict(self.create.form or {}) if self.create is not None else {}


class Record(Protocol):
    """What a `JobStep` keeps: its own dataclass, giving every exchange it recorded."""

    def exchanges(self) -> Iterator[Exchange]: ...


@dataclass
class LifecycleRun:
    contract: Contract
    probes: dict[str, Exchange] = field(default_factory=dict)  # "no_key", "wrong_key", "unknown_id"
    jobs: dict[str, JobTrace] = field(default_factory=dict)  # role -> trace
    phase_words: dict[str, Phase] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)  # step name -> what it recorded

    def exchanges(self) -> Iterator[Exchange]:
        yield from self.probes.values()
        for job in self.jobs.values():
            yield from job.exchanges()
        for record in self.records.values():
            yield from record.exchanges()

    def phase_of(self, status: Any) -> Phase | None:
        return self.phase_words.get(status) if isinstance(status, str) else None


def phase_words(contract: Contract) -> dict[str, Phase]:
    """Status word -> phase: the contract's own words first, then the synonyms gateways use."""
    words = {word: phase for phase, synonyms in PHASE_SYNONYMS.items() for word in synonyms}
    words.update({word: phase for phase, word in contract.vocabulary.status_names.items()})
    return words


class LifecycleClient:
    """A small recording HTTP client for one base URL and key that retries 429/503 as retries.py says."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        settings: LifecycleSettings,
        extra_headers: dict[str, str] | None = None,
        retries: RetryLedger | None = None,
        budget: CreateBudget | None = None,
        key_placeholder: str = KEY_PLACEHOLDER,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.key_placeholder = key_placeholder  # what a reproducing curl line reads the key from
        self.settings = settings
        self.extra_headers = dict(extra_headers or {})
        self.retries = retries or RetryLedger()
        self.budget = budget
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"mockserver-conform/{__version__}"

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        step: str,
        operation: str,
        method: str,
        path: str,
        *,
        auth: str = "key",
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        read_body: bool = True,
        creates_job: bool = False,
        keep_body: bool = False,
    ) -> Exchange:
        """Send one request, retried while it is answered 429/503 and the budgets allow; the last answer is recorded."""
        budget = self.budget
        exchange, attempts, stopped = send_carefully(
            self.retries,
            f"{step} ({operation})",
            lambda: self._send_once(step, operation, method, path, auth, params, form, headers, read_body, keep_body),
            lambda exchange: (exchange.status, exchange.headers),
            may_resend_create(lambda: budget.spend(operation))
            if creates_job and budget is not None
            else lambda s: True,
        )
        exchange.attempts = attempts
        exchange.gave_up = stopped.reason if stopped else None
        return exchange

    def _send_once(
        self,
        step: str,
        operation: str,
        method: str,
        path: str,
        auth: str,
        params: dict[str, str] | None,
        form: dict[str, str] | None,
        headers: dict[str, str] | None,
        read_body: bool,
        keep_body: bool,
    ) -> Exchange:
        url = self.base_url + path
        if params:
            url += "?" + "&".join(f"{quote(k)}={quote(str(v))}" for k, v in params.items())
        request_headers = {**self.extra_headers, **(headers or {})}
        sent_headers = dict(request_headers)
        if auth == "key":
            sent_headers["Authorization"] = f"Bearer {self.api_key}"
        elif auth == "wrong":
            sent_headers["Authorization"] = f"Bearer {WRONG_KEY}"
        exchange = Exchange(
            step, operation, method, url, request_headers, form=form, auth=auth, key_placeholder=self.key_placeholder
        )
        exchange.sent_at = time.monotonic()
        try:
            # Multipart even without a file, as the official SDKs send it.
            files = {name: (None, value) for name, value in form.items()} if form is not None else None
            with self.session.request(
                method, url, headers=sent_headers, files=files, timeout=self.settings.request_timeout, stream=True
            ) as response:
                exchange.status = response.status_code
                exchange.headers = lower_headers(response.headers)
                body = response.content if read_body else b""
        except requests.RequestException as exc:
            exchange.network_error = f"{type(exc).__name__}: {exc}".replace(self.api_key, "***")
            return exchange
        exchange.body_prefix = body[:BODY_PREFIX_BYTES]
        exchange.body_size = len(body)
        if keep_body:
            exchange.body = body
        if exchange.media_type.endswith("json") or exchange.media_type == "":
            try:
                exchange.json = json.loads(body) if body else None
            except ValueError:
                exchange.json = None
        return exchange


def _numeric(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def create_form(contract: Contract, settings: LifecycleSettings, prompt: str) -> dict[str, str]:
    """The cheapest request the contract allows: its default model, size and the shortest clip."""
    op = contract.find("POST", "/videos")
    body = None
    if op is not None:
        body = op.bodies.get("multipart/form-data") or next(iter(op.bodies.values()), None)
    form: dict[str, str] = {}
    props = body.properties if body is not None else {}

    def pick(name: str, chosen: str | None, prefer: Callable[[list[Any]], Any] | None = None) -> None:
        if chosen is not None:
            form[name] = chosen
            return
        if name not in props:
            return
        schema = contract.deep_resolve(props[name])
        enum = schema.get("enum") or next(
            (s["enum"] for s in schema.get("anyOf", []) + schema.get("oneOf", []) if "enum" in s), None
        )
        if prefer and enum:
            form[name] = str(prefer(list(enum)))
        elif "default" in schema:
            form[name] = str(schema["default"])
        elif enum:
            form[name] = str(enum[0])

    pick("model", settings.model)
    form["prompt"] = prompt
    pick("seconds", settings.seconds, lambda values: min(values, key=_numeric))
    pick("size", settings.size)
    return form


class Lifecycle:
    def __init__(
        self,
        contract: Contract,
        client: LifecycleClient,
        budget: CreateBudget,
        settings: LifecycleSettings,
        progress: Progress = lambda line: None,
        steps: Sequence[JobStep] = (),
    ) -> None:
        self.contract = contract
        self.client = client
        self.budget = budget
        self.settings = settings
        self.progress = progress
        self.steps = tuple(steps)
        self.run = LifecycleRun(contract, phase_words=phase_words(contract))

    def create_headers(self) -> dict[str, str]:
        """Headers of every job-creating request: how long the job takes on the fake."""
        if self.settings.mock_duration is None:
            return {}
        return {"X-Mock-Duration": f"{self.settings.mock_duration:g}"}

    def spend_optional(self, operation: str) -> bool:
        """Take a create for a step, unless it is the one the failed job still needs."""
        needed = 1 if self.settings.failed_job and "failed" not in self.run.jobs else 0
        return self.budget.spend(operation, keep=needed)

    def execute(self) -> LifecycleRun:
        self.progress("lifecycle: probing auth and unknown ids")
        self._probes()
        self.progress("lifecycle: a job that should complete")
        self.run.jobs["completed"] = self._job("completed")
        if self.settings.failed_job:
            self.progress("lifecycle: a job that should fail")
            self.run.jobs["failed"] = self._job("failed")
        return self.run

    # -- steps -----------------------------------------------------------------------------

    def _probes(self) -> None:
        c = self.client
        self.run.probes["no_key"] = c.send("list without a key", "GET /videos", "GET", "/videos", auth="none")
        self.run.probes["wrong_key"] = c.send("list with a wrong key", "GET /videos", "GET", "/videos", auth="wrong")
        unknown = f"video_conform_missing_{secrets.token_hex(6)}"
        self.run.probes["unknown_id"] = c.send(
            "get an unknown id", "GET /videos/{video_id}", "GET", f"/videos/{unknown}"
        )

    def _job(self, role: str) -> JobTrace:
        trace = JobTrace(role)
        if not self.budget.spend("POST /videos"):
            trace.not_created = f"create budget spent (--max-creates {self.budget.limit})"
            self.progress(f"lifecycle: {role} job not created: {trace.not_created}")
            return trace
        headers = self.create_headers()
        prompt = self.settings.prompt
        if role == "failed":
            headers["X-Mock-Outcome"] = FAILED_OUTCOME
            prompt = f"{prompt} [mock:{FAILED_OUTCOME}]"
        form = create_form(self.contract, self.settings, prompt)
        trace.create = self.client.send(
            "create", "POST /videos", "POST", "/videos", form=form, headers=headers, creates_job=True
        )
        body = trace.create.json
        if trace.create.rate_limited:
            trace.not_created = f"rate limited: the create was answered 429 ({trace.create.gave_up or 'not retried'})"
            self.progress(f"lifecycle: {role} job not created: {trace.not_created}")
            return trace
        if not trace.create.ok or not isinstance(body, dict) or not isinstance(body.get("id"), str):
            trace.not_created = f"the create request was not accepted: {trace.create.describe_response()}"
            self.progress(f"lifecycle: {role} job not created: {trace.not_created}")
            return trace
        trace.video_id = body["id"]
        path = f"/videos/{quote(trace.video_id, safe='')}"
        if role == "completed" and self.run.phase_of(body.get("status")) is not Phase.COMPLETED:
            trace.early_content = self.client.send(
                "content right after create", "GET /videos/{video_id}/content", "GET", path + "/content"
            )
        self._poll(trace, path)
        self.progress(
            f"lifecycle: {role} job {trace.video_id} ended {trace.final_status()!r} after {len(trace.polls)} polls"
        )
        final = self.run.phase_of(trace.final_status())
        if role == "completed" and final is Phase.COMPLETED:
            self._download(trace, path)
            self._find_in_list(trace)
            for step in self.steps:
                if trace.removed is None:
                    step(self, trace, path)
            self._delete(trace, path)
        elif role == "failed" and final is Phase.FAILED:
            trace.content[self.contract.vocabulary.default_variant] = self.client.send(
                "content of a failed job", "GET /videos/{video_id}/content", "GET", path + "/content"
            )
        return trace

    def _wait(self, exchange: Exchange, attempt: int) -> float:
        if self.settings.poll_interval is not None:
            return self.settings.poll_interval
        hint = exchange.headers.get(POLL_AFTER_HEADER)
        try:
            wait = float(hint) / 1000 if hint else 0.5 * 1.5**attempt
        except ValueError:
            wait = 0.5 * 1.5**attempt
        return max(0.05, min(wait, self.settings.max_poll_interval))

    def _poll(self, trace: JobTrace, path: str) -> None:
        started = time.monotonic()
        deadline = started + self.settings.deadline
        settle_left: int | None = None
        while len(trace.polls) < self.settings.max_polls:
            poll = self.client.send(f"poll {len(trace.polls) + 1}", "GET /videos/{video_id}", "GET", path)
            trace.polls.append(poll)
            status = poll.json.get("status") if isinstance(poll.json, dict) else None
            phase = self.run.phase_of(status)
            if phase is not None and not phase.terminal:
                # Any poll may be the last pending one; what content says then is judged against it (consistency.py).
                trace.pending_content.append(
                    self.client.send(
                        f"content at poll {len(trace.polls)}",
                        "GET /videos/{video_id}/content",
                        "GET",
                        path + "/content",
                    )
                )
            if settle_left is None and phase is not None and phase.terminal:
                settle_left = self.settings.settle_polls
            elif settle_left is not None:
                settle_left -= 1
            if settle_left is not None and settle_left <= 0:
                return
            wait = 0.2 if settle_left is not None else self._wait(poll, len(trace.polls))
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)  # a poll interval, bounded by the deadline and max_polls above
        if settle_left is None:
            trace.timed_out = True

    def _download(self, trace: JobTrace, path: str) -> None:
        variants = self.contract.vocabulary.variants or (self.contract.vocabulary.default_variant,)
        for variant in variants:
            # The video's bytes are kept: its own header says its frame size and duration (mp4.py).
            trace.content[variant] = self.client.send(
                f"content {variant}",
                "GET /videos/{video_id}/content",
                "GET",
                path + "/content",
                params={"variant": variant},
                keep_body=variant == "video",
            )

    def _find_in_list(self, trace: JobTrace, max_pages: int = 5) -> None:
        if self.contract.find("GET", "/videos") is None:
            return
        params: dict[str, str] = {}
        for page in range(max_pages):
            listing = self.client.send(f"list page {page + 1}", "GET /videos", "GET", "/videos", params=params or None)
            trace.listing.append(listing)
            body = listing.json if isinstance(listing.json, dict) else {}
            data: list[Any] = body["data"] if isinstance(body.get("data"), list) else []
            if any(isinstance(item, dict) and item.get("id") == trace.video_id for item in data):
                return
            if not body.get("has_more") or not data or not isinstance(data[-1], dict) or "id" not in data[-1]:
                return
            params = {"after": str(data[-1]["id"])}

    def _delete(self, trace: JobTrace, path: str) -> None:
        if self.contract.find("DELETE", "/videos/{video_id}") is None or trace.removed is not None:
            return
        trace.delete = self.client.send("delete", "DELETE /videos/{video_id}", "DELETE", path)
        trace.after_delete = self.client.send("get after delete", "GET /videos/{video_id}", "GET", path)


# A step over the completed job (lifecycle, its trace, its URL path), run after it was listed and
# before it is deleted; it keeps what it sent in `lifecycle.run.records`.
JobStep = Callable[[Lifecycle, JobTrace, str], None]


def run_lifecycle(
    contract: Contract,
    base_url: str,
    api_key: str,
    budget: CreateBudget,
    settings: LifecycleSettings | None = None,
    *,
    extra_headers: dict[str, str] | None = None,
    retries: RetryLedger | None = None,
    progress: Progress = lambda line: None,
    steps: Sequence[JobStep] = (),
) -> LifecycleRun:
    settings = settings or LifecycleSettings()
    client = LifecycleClient(base_url, api_key, settings, extra_headers, retries, budget)
    try:
        return Lifecycle(contract, client, budget, settings, progress, steps).execute()
    finally:
        client.close()
