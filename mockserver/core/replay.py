"""`serve --replay DIR`: creates that match a recorded one get that job's lifecycle and media.

A recorded job (a cassette's jobs/NNNN.json, written by `mockserver proxy --record`) becomes a
plan for a new job of the fake: it stays queued for as long as the recording saw it queued,
renders until the moment the recording first saw it finished, and ends as it ended there
(completed, or failed with the recorded error). Those times are scaled by `--speed` and run on
the server clock, so freezing and advancing the clock moves a replayed job like any other; a
request that chooses its own outcome or duration (header, prompt marker, queued outcome) still
gets it. A completed replayed job serves the recorded bytes of every variant the recording
downloaded (the fixtures for any other).

Matching. A create matches a recorded create with the same model, prompt, size and seconds (the
contract's defaults filled in on both sides); a remix (or an edit or extension of a video)
matches a recorded one with the same prompt whose source is the recorded job that video replays.
Several recorded jobs with the same request are handed out in recorded order, the first again
after the last. A request that matches nothing is refused with 400 `replay_unmatched`, naming
the nearest recorded request; with `--replay-unmatched fake` it becomes an ordinary fake job.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.core import cassette
from mockserver.core.errors import APIError
from mockserver.core.jobs import Job, Outcome, Phase
from mockserver.core.media import MediaFile
from mockserver.store import Store

NEVER = 10.0**9  # seconds: a recorded job never seen leaving a phase stays in it
UNMATCHED_MODES = ("error", "fake")
_FIELDS = ("model", "size", "seconds")
UNRECORDED = -1  # the source number of a remix whose source replays no recorded job


@dataclass(frozen=True)
class RecordedJob:
    number: int
    file: str  # e.g. jobs/0001.json, for messages
    remix_of: int | None  # the number of the recorded job a remix was made from
    model: str
    prompt: str | None
    size: str
    seconds: str
    queue_seconds: float  # unscaled: the recording's own times
    render_seconds: float
    outcome: Outcome
    media: dict[str, MediaFile]

    @property
    def key(self) -> str:
        if self.remix_of is not None:
            return f"remix\0{self.remix_of}\0{self.prompt}"
        return f"create\0{self.model}\0{self.prompt}\0{self.size}\0{self.seconds}"

    def describe(self) -> str:
        if self.remix_of == UNRECORDED:
            return f"a remix of a video this cassette did not record, with prompt {self.prompt!r}"
        if self.remix_of is not None:
            return f"a remix of recorded job {self.remix_of} with prompt {self.prompt!r}"
        return f"model {self.model!r}, prompt {self.prompt!r}, size {self.size!r}, seconds {self.seconds!r}"


def _timings(timeline: list[dict[str, Any]]) -> tuple[float, float]:
    """(queued for, then rendering for): until the first moment seen in a later phase."""
    started = next((float(p["t"]) for p in timeline if p.get("phase") not in (None, Phase.QUEUED.value)), None)
    finished = next(
        (float(p["t"]) for p in timeline if p.get("phase") in (Phase.COMPLETED.value, Phase.FAILED.value)), None
    )
    if started is None:
        return NEVER, NEVER
    if finished is None:
        return started, NEVER
    return started, max(0.0, finished - started)


def _outcome(recorded: dict[str, Any]) -> Outcome:
    final = recorded.get("final") or {}
    phases = [p.get("phase") for p in recorded["timeline"]]
    if Phase.FAILED.value not in phases:
        return Outcome.completed()
    error: dict[str, Any] = final["error"] if isinstance(final.get("error"), dict) else {}
    return Outcome.failure(str(error.get("code") or "internal_error"), error.get("message"))


def _media(directory: Path, recorded: dict[str, Any], size: str, seconds: str) -> dict[str, MediaFile]:
    found: dict[str, MediaFile] = {}
    for variant, facts in (recorded.get("content") or {}).items():
        path = directory / str(facts.get("file", ""))
        if not path.is_file():
            raise cassette.CassetteError(
                f"{directory / cassette.JOBS_DIR}/{recorded['number']:04d}.json: {path} is missing"
            )
        media_type = str(facts.get("media_type") or "application/octet-stream")
        found[variant] = MediaFile(
            path=path.resolve(),
            media_type=media_type,
            size_bytes=path.stat().st_size,
            extension=cassette.extension_for(media_type),
            variant=variant,
            size=size,
            seconds=int(seconds) if variant == "video" and seconds.isdigit() else None,
        )
    return found


class ReplaySource:
    """The recorded jobs of one cassette, and which job of this server replays which of them."""

    BINDINGS = "replay_jobs"  # store kinds: job id -> recorded number; match key -> creates so far
    COUNTERS = "replay_counters"

    def __init__(self, directory: Path, store: Store, *, defaults: dict[str, str], unmatched: str = "error") -> None:
        if unmatched not in UNMATCHED_MODES:
            raise ValueError(f"--replay-unmatched must be one of {', '.join(UNMATCHED_MODES)}, got {unmatched!r}")
        cassette.read_header(directory)
        self.directory = directory
        self.store = store
        self.unmatched = unmatched
        self.jobs: dict[int, RecordedJob] = {}
        for recorded in cassette.read_jobs(directory):
            job = self._recorded(recorded, defaults)
            self.jobs[job.number] = job
        self._by_key: dict[str, list[RecordedJob]] = {}
        for job in self.jobs.values():
            self._by_key.setdefault(job.key, []).append(job)

    def _recorded(self, recorded: dict[str, Any], defaults: dict[str, str]) -> RecordedJob:
        number = int(recorded["number"])
        fields = recorded.get("request") or {}
        source = self.jobs.get(recorded["source_job"]) if recorded.get("source_job") is not None else None
        # A remix takes model, size and seconds from its source, as the server does.
        values = {name: str(getattr(source, name) if source else fields.get(name, defaults[name])) for name in _FIELDS}
        queue_seconds, render_seconds = _timings(recorded["timeline"])
        prompt = fields.get("prompt")
        return RecordedJob(
            number=number,
            file=f"{cassette.JOBS_DIR}/{number:04d}.json",
            remix_of=source.number if source else None,
            prompt=str(prompt) if prompt is not None else None,
            queue_seconds=queue_seconds,
            render_seconds=render_seconds,
            outcome=_outcome(recorded),
            media=_media(self.directory, recorded, values["size"], values["seconds"]),
            **values,
        )

    # -- creating --------------------------------------------------------------------------

    def match(
        self, *, model: str, prompt: str | None, size: str, seconds: str, source: Job | None
    ) -> RecordedJob | None:
        """The recorded job this create replays; None: make a fake job. Raises 400 when unmatched."""
        remix_of: int | None = None
        if source is not None:
            replayed = self.recorded_for(source.id)
            remix_of = replayed.number if replayed is not None else UNRECORDED
        wanted = RecordedJob(0, "", remix_of, model, prompt, size, seconds, 0.0, 0.0, Outcome(), {})
        candidates = self._by_key.get(wanted.key)
        if not candidates:
            if self.unmatched == "fake":
                return None
            raise self._unmatched(wanted)
        turn: int = self.store.update(self.COUNTERS, wanted.key, lambda n: ((n or 0) + 1, n or 0))
        return candidates[turn % len(candidates)]

    def bind(self, job_id: str, recorded: RecordedJob) -> None:
        self.store.put_doc(self.BINDINGS, job_id, {"number": recorded.number})

    def recorded_for(self, job_id: str) -> RecordedJob | None:
        doc = self.store.get_doc(self.BINDINGS, job_id)
        return self.jobs.get(int(doc["number"])) if doc else None

    def media(self, job_id: str, variant: str) -> MediaFile | None:
        recorded = self.recorded_for(job_id)
        return recorded.media.get(variant) if recorded is not None else None

    def _unmatched(self, wanted: RecordedJob) -> APIError:
        kind = [job for job in self.jobs.values() if (job.remix_of is None) == (wanted.remix_of is None)]
        what = "remix" if wanted.remix_of is not None else "create"
        hint = "record this request through `mockserver proxy --record`, or start serve with --replay-unmatched fake"
        if not kind:
            return APIError(
                400,
                f"The replayed cassette {self.directory} has no recorded {what}; this request ({wanted.describe()}) "
                f"cannot be replayed: {hint}.",
                code="replay_unmatched",
            )

        def closeness(job: RecordedJob) -> tuple[int, float]:
            same = sum(getattr(job, name) == getattr(wanted, name) for name in _FIELDS)
            same += job.remix_of == wanted.remix_of
            return same, difflib.SequenceMatcher(None, job.prompt or "", wanted.prompt or "").ratio()

        nearest = max(kind, key=closeness)
        differs = [name for name in ("prompt", *_FIELDS) if getattr(nearest, name) != getattr(wanted, name)]
        if nearest.remix_of != wanted.remix_of:
            differs.append("video_id")
        return APIError(
            400,
            f"No recorded {what} matches this request ({wanted.describe()}). The nearest recorded request is "
            f"{nearest.file} ({nearest.describe()}), which differs in {', '.join(differs)}: {hint}.",
            code="replay_unmatched",
            param=differs[0] if differs else None,
        )
