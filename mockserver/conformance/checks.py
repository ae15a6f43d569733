"""Lifecycle checks: plain rules over what the lifecycle phase recorded.

Like schemathesis checks, each rule is a function registered with a decorator. It is given the
recorded run and yields a verdict per thing it judged: `Passed`, `Failed` (with the exchange,
what the contract expects and what the server did, in plain words) or `Skipped` (with why). The
names are stable: reports, tests and quirk profiles refer to them.

Each check has a severity (report.py): `error` (the contract says otherwise; the default) or
`deviation` (the contract permits it but the official API does not do it; dialect_checks.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobTrace, LifecycleRun
from mockserver.conformance.report import ERROR, SEVERITIES
from mockserver.contract.loading import Contract
from mockserver.core.jobs import Phase


@dataclass(frozen=True)
class Passed:
    pass


@dataclass(frozen=True)
class Failed:
    exchange: Exchange | None
    expected: str
    actual: str


@dataclass(frozen=True)
class Skipped:
    reason: str


Verdict = Passed | Failed | Skipped
CheckFunction = Callable[[LifecycleRun], Iterator[Verdict]]


@dataclass(frozen=True)
class LifecycleCheck:
    name: str
    description: str
    function: CheckFunction
    severity: str = ERROR


CHECKS: dict[str, LifecycleCheck] = {}


def check(description: str, severity: str = ERROR) -> Callable[[CheckFunction], CheckFunction]:
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r}: choose from {', '.join(SEVERITIES)}")

    def register(function: CheckFunction) -> CheckFunction:
        # Reports, profiles and tests refer to a check by its name: a second one of that name would replace it unseen.
        if function.__name__ in CHECKS:
            raise ValueError(f"a lifecycle check named {function.__name__!r} is already registered")
        CHECKS[function.__name__] = LifecycleCheck(function.__name__, description, function, severity)
        return function

    return register


# Which body each content variant must carry: its media type and how to recognise its bytes.
def _is_mp4(data: bytes) -> bool:
    return len(data) >= 8 and data[4:8] == b"ftyp"


def _is_webp(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


VARIANT_FORMATS: dict[str, tuple[str, str, Callable[[bytes], bool]]] = {
    "video": ("video/mp4", "an MP4 file (an `ftyp` box at byte 4)", _is_mp4),
    "thumbnail": ("image/webp", "a WebP image (RIFF....WEBP)", _is_webp),
    "spritesheet": ("image/jpeg", "a JPEG image (FF D8 FF)", _is_jpeg),
}


# -- helpers -------------------------------------------------------------------------------


def _job(run: LifecycleRun, role: str) -> JobTrace | None:
    return run.jobs.get(role)


def _created(run: LifecycleRun, role: str) -> tuple[JobTrace | None, Skipped | None]:
    job = _job(run, role)
    if job is None:
        return None, Skipped(f"no {role} job was attempted")
    if job.not_created:
        return None, Skipped(f"no {role} job: {job.not_created}")
    return job, None


def _video_bodies(run: LifecycleRun) -> Iterator[tuple[Exchange, dict[str, Any]]]:
    for job in run.jobs.values():
        for exchange in job.videos():
            if isinstance(exchange.json, dict):
                yield exchange, exchange.json


def _video_schema(contract: Contract) -> dict[str, Any]:
    op = contract.document["paths"]["/videos/{video_id}"]["get"]
    response = contract.resolve(op["responses"].get("200") or op["responses"][200])
    return contract.resolve(response["content"]["application/json"]["schema"])


# Compiled once per contract, not per response; weak, so a freed contract's id is never mistaken for another's.
_validators: weakref.WeakKeyDictionary[Contract, Draft202012Validator] = weakref.WeakKeyDictionary()


def _video_validator(contract: Contract) -> Draft202012Validator:
    if contract not in _validators:
        _validators[contract] = contract.validator_for(_video_schema(contract))
    return _validators[contract]


def _status_enum(contract: Contract) -> list[str]:
    status = contract.deep_resolve(_video_schema(contract).get("properties", {}).get("status", {}))
    enum: list[str] = status.get("enum") or next(
        (sub["enum"] for sub in status.get("anyOf", []) + status.get("oneOf", []) if "enum" in sub), []
    )
    return list(enum)


def _envelope_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return 'the body is not an {"error": {...}} object'
    error = body["error"]
    missing = [name for name in ("message", "type", "param", "code") if name not in error]
    if missing:
        return f"error lacks {', '.join(missing)}"
    wrong = [name for name in ("message", "type") if not isinstance(error[name], str)]
    if wrong:
        return f"error.{wrong[0]} is not a string"
    return None


def _phase_rank(phase: Phase) -> int:
    return {Phase.QUEUED: 0, Phase.RUNNING: 1, Phase.COMPLETED: 2, Phase.FAILED: 2}[phase]


# -- requests that create nothing ----------------------------------------------------------


@check("a request without a key, or with a wrong key, is refused with 401")
def auth_required(run: LifecycleRun) -> Iterator[Verdict]:
    for name, what in (("no_key", "without an API key"), ("wrong_key", "with a wrong API key")):
        probe = run.probes.get(name)
        if probe is None:
            continue
        if probe.status == 401:
            yield Passed()
        else:
            yield Failed(probe, f"401 for a request {what}", probe.describe_response())


@check("an id that does not exist gives 404")
def unknown_id_404(run: LifecycleRun) -> Iterator[Verdict]:
    probe = run.probes.get("unknown_id")
    if probe is None:
        return
    if probe.status == 404:
        yield Passed()
    else:
        yield Failed(probe, "404 for a video id that does not exist", probe.describe_response())


@check('every error response is the OpenAI envelope {"error": {message, type, param, code}}')
def error_envelope(run: LifecycleRun) -> Iterator[Verdict]:
    for exchange in run.exchanges():
        if exchange.status is None or exchange.status < 400:
            continue
        problem = _envelope_problem(exchange.json)
        if problem is None:
            yield Passed()
        else:
            yield Failed(
                exchange,
                f'the error envelope {{"error": {{message, type, param, code}}}} with HTTP {exchange.status}',
                f"{problem}: {exchange.describe_response()}",
            )


# -- the shape of every video --------------------------------------------------------------


@check("a create request with the contract's defaults is accepted and answers with a video")
def create_accepted(run: LifecycleRun) -> Iterator[Verdict]:
    for role in ("completed", "failed"):
        job = _job(run, role)
        if job is None:
            continue
        if job.create is None:
            yield Skipped(f"no {role} job: {job.not_created}")
        elif job.not_created:
            yield Failed(job.create, "200 with a video object that has an id", job.create.describe_response())
        else:
            yield Passed()


@check("every status is one of the contract's words")
def status_vocabulary(run: LifecycleRun) -> Iterator[Verdict]:
    allowed = _status_enum(run.contract)
    for exchange, video in _video_bodies(run):
        status = video.get("status")
        if status in allowed:
            yield Passed()
        else:
            yield Failed(exchange, f"status one of {', '.join(allowed)}", f"status {status!r}")


@check("every video has every field the contract requires")
def required_fields(run: LifecycleRun) -> Iterator[Verdict]:
    required = sorted(run.contract.vocabulary.required_video_fields)
    for exchange, video in _video_bodies(run):
        missing = [name for name in required if name not in video]
        if missing:
            yield Failed(exchange, f"the required fields {', '.join(required)}", f"missing {', '.join(missing)}")
        else:
            yield Passed()


@check('`seconds` is a string such as "4", never a number')
def seconds_is_string(run: LifecycleRun) -> Iterator[Verdict]:
    for exchange, video in _video_bodies(run):
        if "seconds" not in video:
            continue
        value = video["seconds"]
        if isinstance(value, str):
            yield Passed()
        else:
            yield Failed(exchange, 'seconds as a string, e.g. "4"', f"seconds {value!r} ({type(value).__name__})")


@check("every video validates against the contract's Video schema")
def video_schema(run: LifecycleRun) -> Iterator[Verdict]:
    validator = _video_validator(run.contract)
    for exchange, video in _video_bodies(run):
        errors = sorted(validator.iter_errors(video), key=lambda e: list(e.absolute_path))
        if not errors:
            yield Passed()
            continue
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(body)"
        yield Failed(
            exchange,
            "a body valid against the Video schema",
            f"{len(errors)} problem(s), first at {where}: {errors[0].message}",
        )


@check("a job keeps the id its create returned (the contract only types the id; the retrieve path names the job by it)")
def id_stable(run: LifecycleRun) -> Iterator[Verdict]:
    for job in run.jobs.values():
        if job.video_id is None:
            continue
        for exchange in job.polls:
            if not isinstance(exchange.json, dict):
                continue
            if exchange.json.get("id") == job.video_id:
                yield Passed()
            else:
                yield Failed(
                    exchange, f"id {job.video_id!r} (the one create returned)", f"id {exchange.json.get('id')!r}"
                )


# -- the lifecycle -------------------------------------------------------------------------


@check(
    "a job reaches completed or failed within the deadline (the contract sets no time limit: the deadline is "
    "--deadline / --max-polls, the time a user is willing to wait)"
)
def terminal_within_deadline(run: LifecycleRun) -> Iterator[Verdict]:
    for role in ("completed", "failed"):
        job, skipped = _created(run, role)
        if job is None:
            if skipped and _job(run, role) is not None:
                yield skipped
            continue
        last = job.polls[-1] if job.polls else job.create
        if job.timed_out:
            yield Failed(
                last,
                "a terminal status (completed or failed) within the deadline",
                f"still {job.final_status()!r} after {len(job.polls)} polls",
            )
        elif last is not None and last.status != 200:
            yield Failed(last, "200 with the video while polling", last.describe_response())
        else:
            yield Passed()


@check("statuses only move forward: queued -> in_progress -> completed|failed")
def forward_transitions(run: LifecycleRun) -> Iterator[Verdict]:
    for job in run.jobs.values():
        highest: tuple[int, Any] | None = None
        for exchange, status in job.statuses():
            phase = run.phase_of(status)
            if phase is None or phase.terminal:
                continue
            rank = _phase_rank(phase)
            if highest is not None and rank < highest[0]:
                yield Failed(
                    exchange, f"no return to {status!r} after {highest[1]!r}", f"{highest[1]!r} then {status!r}"
                )
                break
            highest = (rank, status) if highest is None or rank >= highest[0] else highest
        else:
            if job.video_id is not None:
                yield Passed()


@check("once completed or failed, a job stays exactly so")
def terminal_is_final(run: LifecycleRun) -> Iterator[Verdict]:
    for job in run.jobs.values():
        terminal: Any = None
        verdict: Verdict | None = None
        for exchange, status in job.statuses():
            phase = run.phase_of(status)
            if terminal is None:
                if phase is not None and phase.terminal:
                    terminal = status
            elif status != terminal:
                verdict = Failed(exchange, f"status to stay {terminal!r}", f"{terminal!r} then {status!r}")
                break
        if verdict is not None:
            yield verdict
        elif terminal is not None:
            yield Passed()


@check("progress is an integer from 0 to 100")
def progress_range(run: LifecycleRun) -> Iterator[Verdict]:
    for exchange, video in _video_bodies(run):
        if video.get("progress") is None:
            continue
        value = video["progress"]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
            yield Passed()
        else:
            yield Failed(exchange, "progress an integer from 0 to 100", f"progress {value!r}")


@check(
    "progress never goes down while a job runs (the contract only calls it an approximate completion percentage; "
    "one that goes down tells a client the job lost work)"
)
def progress_monotonic(run: LifecycleRun) -> Iterator[Verdict]:
    for job in run.jobs.values():
        previous: tuple[Exchange, float] | None = None
        failed = False
        for exchange in job.videos():
            value = exchange.json.get("progress") if isinstance(exchange.json, dict) else None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if previous is not None and value < previous[1]:
                yield Failed(exchange, f"progress >= {previous[1]:g} (the value seen before)", f"progress {value:g}")
                failed = True
                break
            previous = (exchange, value)
        if not failed and previous is not None:
            yield Passed()


@check(
    "a completed job has completed_at >= created_at and expires_at > completed_at (the schema only types them as "
    "integers; the order is what their descriptions mean: created, then completed, then the assets expire)"
)
def completed_timestamps(run: LifecycleRun) -> Iterator[Verdict]:
    completed = run.contract.vocabulary.status(Phase.COMPLETED)
    for exchange, video in _video_bodies(run):
        if video.get("status") != completed:
            continue
        created, done, expires = video.get("created_at"), video.get("completed_at"), video.get("expires_at")
        if not isinstance(done, int) or not isinstance(created, int):
            yield Failed(
                exchange,
                "integer created_at and completed_at on a completed job",
                f"created_at {created!r}, completed_at {done!r}",
            )
        elif done < created:
            yield Failed(exchange, "completed_at >= created_at", f"created_at {created}, completed_at {done}")
        elif expires is not None and (not isinstance(expires, int) or expires <= done):
            yield Failed(exchange, "expires_at after completed_at", f"completed_at {done}, expires_at {expires!r}")
        else:
            yield Passed()


# -- content -------------------------------------------------------------------------------


@check("content asked for before the job completed is refused (4xx), not served")
def content_before_completion(run: LifecycleRun) -> Iterator[Verdict]:
    job, skipped = _created(run, "completed")
    if job is None:
        if skipped:
            yield skipped
        return
    early = job.early_content
    if early is None:
        yield Skipped("the job was already completed when it was created")
        return
    first_poll = job.polls[0].json.get("status") if job.polls and isinstance(job.polls[0].json, dict) else None
    if early.status is not None and 400 <= early.status < 500:
        yield Passed()
    elif early.ok and run.phase_of(first_poll) is Phase.COMPLETED:
        yield Skipped("the job completed between the create and the content request")
    else:
        yield Failed(
            early, "a 4xx error while the job is not completed (the SDK raises on it)", early.describe_response()
        )


@check("every content variant of a completed job downloads with 200")
def content_available(run: LifecycleRun) -> Iterator[Verdict]:
    job, skipped = _created(run, "completed")
    if job is None:
        if skipped:
            yield skipped
        return
    if run.phase_of(job.final_status()) is not Phase.COMPLETED:
        yield Skipped(f"the job did not complete (last status {job.final_status()!r})")
        return
    for variant, exchange in job.content.items():
        if exchange.ok:
            yield Passed()
        else:
            yield Failed(exchange, f"200 with the {variant} content", exchange.describe_response())


@check(
    "each content variant is served with its media type (video/mp4, image/webp, image/jpeg; the contract lists the "
    "three for the one response, which variant carries which is the official API's)"
)
def content_media_type(run: LifecycleRun) -> Iterator[Verdict]:
    job = _job(run, "completed")
    downloads = [(v, ex) for v, ex in (job.content.items() if job else []) if ex.ok]
    if not downloads:
        yield Skipped("no content was downloaded")
        return
    op = run.contract.find("GET", "/videos/{video_id}/content")
    declared = set(op.response_media_types) if op else set()
    for variant, exchange in downloads:
        expected = VARIANT_FORMATS.get(variant, (None, "", None))[0]
        if expected is None:
            if not declared or exchange.media_type in declared:
                yield Passed()
            else:
                yield Failed(
                    exchange,
                    f"one of the declared media types {', '.join(sorted(declared))}",
                    f"Content-Type {exchange.media_type!r}",
                )
        elif exchange.media_type == expected:
            yield Passed()
        else:
            yield Failed(
                exchange,
                f"Content-Type {expected} for variant={variant}",
                f"Content-Type {exchange.media_type or '(none)'!r}",
            )


@check(
    "each content variant really is that format (MP4 ftyp box, WebP or JPEG magic bytes; the contract types the "
    "body as bytes, a player needs them to be what the media type says)"
)
def content_format(run: LifecycleRun) -> Iterator[Verdict]:
    job = _job(run, "completed")
    downloads = [(v, ex) for v, ex in (job.content.items() if job else []) if ex.ok]
    if not downloads:
        yield Skipped("no content was downloaded")
        return
    for variant, exchange in downloads:
        fmt = VARIANT_FORMATS.get(variant)
        if fmt is None:
            continue
        _, description, recognise = fmt
        if recognise(exchange.body_prefix):
            yield Passed()
        else:
            yield Failed(
                exchange,
                f"{description} for variant={variant}",
                f"{exchange.body_size} bytes starting {exchange.body_prefix[:12]!r}",
            )


# -- a failed job --------------------------------------------------------------------------


def _failed_job(run: LifecycleRun) -> tuple[JobTrace | None, Skipped | None]:
    job, skipped = _created(run, "failed")
    if job is None:
        return None, skipped or Skipped("could not produce a failed job")
    if run.phase_of(job.final_status()) is not Phase.FAILED:
        return None, Skipped(f"could not produce a failed job (it ended {job.final_status()!r})")
    return job, None


@check(
    "a failed job carries error.code and error.message (the schema makes error nullable on every job; that a failed "
    "one says why is what the field is for and what the official API does)"
)
def failed_job_error(run: LifecycleRun) -> Iterator[Verdict]:
    job, skipped = _failed_job(run)
    if job is None:
        if skipped:
            yield skipped
        return
    last = job.polls[-1]
    error = last.json.get("error") if isinstance(last.json, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str):
        yield Passed()
    else:
        yield Failed(last, "error {code, message} (strings) on a failed job", f"error {error!r}")


@check("a failed job has no content (4xx; the contract's content is the generated video, which a failed job never had)")
def failed_job_no_content(run: LifecycleRun) -> Iterator[Verdict]:
    job, skipped = _failed_job(run)
    if job is None:
        if skipped:
            yield skipped
        return
    for exchange in job.content.values():
        if exchange.status is not None and 400 <= exchange.status < 500:
            yield Passed()
        else:
            yield Failed(exchange, "a 4xx error: a failed job has no content", exchange.describe_response())


# -- list and delete -----------------------------------------------------------------------


@check("a created job appears in the list")
def listed_after_create(run: LifecycleRun) -> Iterator[Verdict]:
    if run.contract.find("GET", "/videos") is None:
        yield Skipped("the contract has no GET /videos")
        return
    job, skipped = _created(run, "completed")
    if job is None or not job.listing:
        yield skipped or Skipped(f"the job did not complete (last status {job.final_status()!r})" if job else "no job")
        return
    for page in job.listing:
        data = page.json.get("data") if isinstance(page.json, dict) else None
        if isinstance(data, list) and any(isinstance(i, dict) and i.get("id") == job.video_id for i in data):
            yield Passed()
            return
    last = job.listing[-1]
    yield Failed(
        last,
        f"{job.video_id!r} among the listed videos",
        f"not found in {len(job.listing)} page(s): {last.describe_response()}",
    )


@check("DELETE answers 200 and the job is 404 afterwards")
def delete_then_404(run: LifecycleRun) -> Iterator[Verdict]:
    if run.contract.find("DELETE", "/videos/{video_id}") is None:
        yield Skipped("the contract has no DELETE /videos/{video_id}")
        return
    job, skipped = _created(run, "completed")
    if job is not None and job.removed is not None:
        yield Skipped(f"the job was gone before its own delete: {job.removed}")
        return
    if job is None or job.delete is None:
        yield skipped or Skipped(f"the job did not complete (last status {job.final_status()!r})" if job else "no job")
        return
    if not job.delete.ok:
        yield Failed(job.delete, "200 with {id, object: video.deleted, deleted: true}", job.delete.describe_response())
        return
    after = job.after_delete
    if after is not None and after.status == 404:
        yield Passed()
    else:
        yield Failed(after, "404 for a deleted video", after.describe_response() if after else "no request")


def run_checks(run: LifecycleRun, names: list[str] | None = None) -> dict[str, list[Verdict]]:
    selected = [CHECKS[name] for name in names] if names is not None else list(CHECKS.values())
    return {item.name: list(item.function(run)) for item in selected}
