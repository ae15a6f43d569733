"""The consistency pass: every observation of a job must agree with every other one.

The checks in checks.py judge one answer at a time. A server can give answers that are each valid
against the schema and still contradict one another: a job `in_progress` whose `error` is set, a
create for `seconds="4"` that answers `"12"`, content served while the polls around it say the job
is still queued, a list entry that disagrees with the retrieve of the same job. A stateless mock
(Steady, Prism) does exactly that, and so does a gateway that caches or re-maps answers.

An observation is any Video the run saw for a job: the create's answer, every poll, and the job's
entry in each list page. Content answers are judged against the status seen right before and
right after them (the lifecycle asks for content after every pending poll, so the last pending
poll always has one).

The contract's schema cannot decide these rules (it describes one answer); each description says
what they rest on. `request_mismatches` is a plain function so that other checks of what a job
says about its request (prompt, the MP4's own size and duration) can build on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mockserver.conformance.checks import Failed, Passed, Skipped, Verdict, check
from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobTrace, LifecycleRun
from mockserver.core.jobs import Phase

REQUEST_FIELDS = ("model", "size", "seconds")  # what a create asks for and the job must then say
UNCHANGING_FIELDS = ("id", "object", "created_at", "model", "size", "seconds", "prompt", "remixed_from_video_id")
CONTENT_OPERATION = "GET /videos/{video_id}/content"


def observations(job: JobTrace) -> list[tuple[Exchange, dict[str, Any]]]:
    """Every Video the run saw for this job, in the order seen: create, polls, its entries in list pages."""
    seen: list[tuple[Exchange, dict[str, Any]]] = []
    for exchange in job.videos():
        if isinstance(exchange.json, dict):
            seen.append((exchange, exchange.json))
    seen += list_entries(job)
    return sorted(seen, key=lambda item: item[0].sent_at)


def list_entries(job: JobTrace) -> list[tuple[Exchange, dict[str, Any]]]:
    found: list[tuple[Exchange, dict[str, Any]]] = []
    for page in job.listing:
        data = page.json.get("data") if page.ok and isinstance(page.json, dict) else None
        for item in data if isinstance(data, list) else ():
            if isinstance(item, dict) and job.video_id is not None and item.get("id") == job.video_id:
                found.append((page, item))
    return found


def request_mismatches(
    asked: Mapping[str, str], video: Mapping[str, Any], fields: tuple[str, ...] = REQUEST_FIELDS
) -> list[tuple[str, str, Any]]:
    """(field, what was asked, what the job says) for each field the create sent and the job answers otherwise.

    A number is compared as its text ("4" and 4 are the same value; seconds_is_string judges the type).
    A field the create did not send, or the job does not carry, is not compared (required_fields judges absence).
    """
    found: list[tuple[str, str, Any]] = []
    for name in fields:
        if name not in asked or name not in video:
            continue
        value = video[name]
        text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if text != asked[name]:
            found.append((name, asked[name], value))
    return found


def _phase(run: LifecycleRun, video: Mapping[str, Any]) -> Phase | None:
    return run.phase_of(video.get("status"))


def _jobs(run: LifecycleRun) -> Iterator[JobTrace]:
    yield from (job for job in run.jobs.values() if job.video_id is not None)


@check(
    "error and expires_at agree with status on every observation of a job, list entries included: a pending job has "
    "neither, a completed one no error, a failed one an error (completed_at is judged by completed_at_when_done and "
    "completed_timestamps; the contract only makes these fields nullable, the rule is what its field descriptions "
    "mean and what the official API does)"
)
def status_fields(run: LifecycleRun) -> Iterator[Verdict]:
    for job in _jobs(run):
        for exchange, video in observations(job):
            phase = _phase(run, video)
            if phase is None:
                continue  # status_vocabulary judges a word nobody knows
            status = video.get("status")
            if phase is Phase.FAILED:
                expected = "error {code, message} set"
                wrong = [] if isinstance(video.get("error"), dict) else [f"error {video.get('error')!r}"]
            else:
                names = ("error",) if phase is Phase.COMPLETED else ("expires_at", "error")
                expected = " and ".join(names) + " null"
                wrong = [f"{name} {video[name]!r}" for name in names if video.get(name) is not None]
            if wrong:
                yield Failed(
                    exchange, f"{expected} while status is {status!r}", f"status {status!r} with {', '.join(wrong)}"
                )
            else:
                yield Passed()


@check(
    "progress is 100 only once a job has completed (the contract only calls progress an approximate percentage; a "
    "client showing it would sit at 100 % while the job is still pending)"
)
def progress_matches_status(run: LifecycleRun) -> Iterator[Verdict]:
    for job in _jobs(run):
        for exchange, video in observations(job):
            phase = _phase(run, video)
            if phase is None or phase.terminal or not isinstance(video.get("progress"), (int, float)):
                continue
            if video["progress"] >= 100:
                yield Failed(
                    exchange,
                    f"progress below 100 while status is {video.get('status')!r}",
                    f"progress {video['progress']!r}",
                )
            else:
                yield Passed()


@check(
    "a job's model, size and seconds are the ones its create asked for, on every observation (the schema allows any "
    "value; a job that renders something other than what was asked and paid for is not the job requested)"
)
def job_matches_request(run: LifecycleRun) -> Iterator[Verdict]:
    for job in _jobs(run):
        asked = job.asked()
        if not any(name in asked for name in REQUEST_FIELDS):
            yield Skipped("the create sent none of model, size, seconds")
            continue
        for exchange, video in observations(job):
            wrong = request_mismatches(asked, video)
            if wrong:
                yield Failed(
                    exchange,
                    f"{', '.join(f'{name} {want!r}' for name, want, _ in wrong)}, as the create asked",
                    ", ".join(f"{name} {got!r}" for name, _, got in wrong),
                )
            else:
                yield Passed()


def _statuses_around(
    run: LifecycleRun, job: JobTrace, content: Exchange
) -> tuple[tuple[Exchange, Phase] | None, tuple[Exchange, Phase] | None]:
    """The last status seen before `content` was asked for and the first one after it (create and polls)."""
    before = after = None
    for exchange, video in observations(job):
        if exchange.operation == "GET /videos":
            continue  # a list page is not about this job alone; the retrieves bracket the content
        phase = _phase(run, video)
        if phase is None:
            continue
        if exchange.sent_at < content.sent_at:
            before = (exchange, phase)
        elif after is None:
            after = (exchange, phase)
    return before, after


def _content_verdict(run: LifecycleRun, job: JobTrace, content: Exchange) -> Verdict | None:
    if content.status is None:
        return None  # no answer: the run's errors list it
    before, after = _statuses_around(run, job, content)
    if before is None:
        return Skipped("no status was seen before the content request")
    served = content.ok
    said = f"the job said {before[0].json.get('status')!r} at {before[0].step}"
    if after is not None:
        said += f" and {after[0].json.get('status')!r} at {after[0].step}"
    pending_around = not before[1].terminal and after is not None and not after[1].terminal
    if served and (pending_around or before[1] is Phase.FAILED):
        return Failed(
            content, f"a 4xx error: {said}, so there is no content yet", f"{content.describe_response()} served"
        )
    if not served and before[1] is Phase.COMPLETED:
        return Failed(
            content, f"200 with the content: {said}, and a completed job stays completed", content.describe_response()
        )
    return Passed()


@check(
    "every content answer agrees with the status seen right before and after it: refused while the job is pending or "
    "failed, served once it has completed (the contract describes each answer alone; together they must tell one story)"
)
def content_matches_status(run: LifecycleRun) -> Iterator[Verdict]:
    for job in _jobs(run):
        contents = [ex for ex in job.timeline() if ex.operation == CONTENT_OPERATION]
        if not contents:
            yield Skipped("no content was asked for")
        for content in contents:
            verdict = _content_verdict(run, job, content)
            if verdict is not None:
                yield verdict


@check(
    "a job's entry in the list says what its retrieve says: the same fields that never change, and the same state once "
    "the job is final (the contract gives both the Video schema but does not say they must agree)"
)
def list_matches_retrieve(run: LifecycleRun) -> Iterator[Verdict]:
    for job in _jobs(run):
        entries = list_entries(job)
        if not entries:
            if job.listing:
                yield Skipped("the job was not in the list (listed_after_create judges that)")
            continue
        retrieves = [(ex, ex.json) for ex in job.polls if ex.ok and isinstance(ex.json, dict)]
        for page, entry in entries:
            earlier = [(ex, video) for ex, video in retrieves if ex.sent_at < page.sent_at]
            if not earlier:
                yield Skipped("no retrieve before the list")
                continue
            retrieve, video = earlier[-1]
            phase = _phase(run, video)
            fields = (
                sorted(set(video) | set(entry)) if phase is not None and phase.terminal else list(UNCHANGING_FIELDS)
            )
            differ = [name for name in fields if entry.get(name) != video.get(name)]
            if differ:
                yield Failed(
                    page,
                    f"the values {retrieve.step} returned: "
                    + ", ".join(f"{name} {video.get(name)!r}" for name in differ),
                    "the list entry has " + ", ".join(f"{name} {entry.get(name)!r}" for name in differ),
                )
            else:
                yield Passed()
