"""The video API's domain rules: who may see which job, what a new job plans, what a job may do now.

Like moto's models.py: no HTTP here. Handlers translate requests into these calls and the results
into wire shapes (see wire.py).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from mockserver.core.clock import Clock, ClockSettings
from mockserver.core.errors import APIError, not_found
from mockserver.core.ids import IdSource
from mockserver.core.jobs import Job, JobState, Outcome, Phase, state
from mockserver.core.media import JobMedia
from mockserver.core.outcomes import OutcomeQueue, ScriptedOutcome
from mockserver.store import Character, Page, Store
from mockserver.store.base import character_from_json, character_to_json
from mockserver.store.cached import CachedStore

if TYPE_CHECKING:
    from mockserver.core.replay import ReplaySource

CHARACTERS = "characters"  # the store's document kind
NOT_READY_HEADERS = {"x-should-retry": "false"}  # the SDKs would otherwise retry a 409 twice


@dataclass(frozen=True)
class Timing:
    """Planned durations of a job: time queued, then render time per second of video."""

    queue_seconds: float = 2.0
    render_seconds_per_clip_second: float = 1.0


DEFAULT_TIMINGS: dict[str, Timing] = {
    "*": Timing(2.0, 1.0),
    "sora-2-pro": Timing(3.0, 2.0),  # the pro model renders more slowly, as the real one does
}


@dataclass
class TimingPlan:
    timings: dict[str, Timing] = field(default_factory=lambda: dict(DEFAULT_TIMINGS))
    scale: float = 1.0  # `serve --speed`: 0 makes every job finish the moment it is created

    def for_model(self, model: str) -> Timing:
        return self.timings.get(model) or self.timings["*"]

    def plan(self, model: str, seconds: str, script: ScriptedOutcome) -> tuple[float, float]:
        if script.duration is not None:
            # An explicit duration is what the test asked for, so --speed does not scale it.
            return script.duration * 0.25, script.duration * 0.75
        timing = self.for_model(model)
        clip = _clip_seconds(seconds)
        return timing.queue_seconds * self.scale, timing.render_seconds_per_clip_second * clip * self.scale


def _clip_seconds(seconds: str) -> float:
    try:
        return max(0.0, float(seconds))
    except ValueError:
        return 4.0


SALT_KIND, SALT_ID = "settings", "key_salt"
LEGACY_SALT = ""  # the salt of a store whose jobs were fingerprinted before salts existed


def key_salt(store: Store) -> str:
    """The store's key-fingerprint salt (`core/keys.owner_of`), made by the first server to open the store.

    Kept in the store, so every worker and every restart shares it. A store that already holds jobs
    but no salt was written before fingerprints were salted: it keeps the empty salt, so its jobs,
    journal and faults still belong to their keys. Only a new store gets a random one.
    """
    fresh = LEGACY_SALT if len(store) else secrets.token_hex(16)
    salt: str = store.update(SALT_KIND, SALT_ID, lambda doc: (fresh, fresh) if doc is None else (doc, doc))
    return salt


class JobView(NamedTuple):
    """A job as it stands at `now`, read with the clock `settings` of the same moment (one per poll)."""

    job: Job
    state: JobState
    now: float
    settings: ClockSettings


class VideoService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        media: JobMedia,
        ids: IdSource,
        timing: TimingPlan,
        outcomes: OutcomeQueue,
    ) -> None:
        self.store = store
        self.clock = clock
        self.media = media
        self.ids = ids
        self.timing = timing
        self.outcomes = outcomes
        self.replay: ReplaySource | None = None  # `serve --replay DIR`: creates replay recorded jobs

    def with_clock(self, clock: Clock) -> VideoService:
        """This service, reading the time from `clock` (one request's: see Clock.for_request)."""
        if clock is self.clock:
            return self
        service = VideoService(self.store, clock, self.media, self.ids, self.timing, self.outcomes)
        service.replay = self.replay
        return service

    # -- reading ---------------------------------------------------------------------------

    def view(self, job: Job) -> JobView:
        settings, now = self.clock.reading()  # one read of the clock for everything said about the job
        return JobView(job, state(job, now), now, settings)

    def get(self, owner: str, video_id: str) -> JobView:
        job = self.store.get(video_id)
        if job is None or job.owner != owner:  # another key's job does not exist for this caller
            raise not_found("video", video_id)
        return self.view(job)

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> tuple[Page, float]:
        return self.store.page(owner, after=after, limit=limit, descending=descending), self.clock.now()

    # -- creating --------------------------------------------------------------------------

    async def create(
        self,
        owner: str,
        *,
        model: str,
        prompt: str | None,
        size: str,
        seconds: str,
        script: ScriptedOutcome,
        source: Job | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> JobView:
        # Matched first: a create the replay refuses must not use up a queued outcome.
        replay = self.replay
        recorded = None
        if replay is not None:
            recorded = replay.match(model=model, prompt=prompt, size=size, seconds=seconds, source=source)
        # Headers and prompt markers win; only a create that chose nothing takes from the queue.
        if script == ScriptedOutcome():
            script = self.outcomes.pop(owner) or script
        if recorded is not None and script.duration is None:
            scale = self.timing.scale
            queue_seconds, render_seconds = recorded.queue_seconds * scale, recorded.render_seconds * scale
        else:
            queue_seconds, render_seconds = self.timing.plan(model, seconds, script)
        job = Job(
            id=self.ids.new("video"),
            owner=owner,
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            created_at=self.clock.now(),
            queue_seconds=queue_seconds,
            render_seconds=render_seconds,
            outcome=script.outcome or (recorded.outcome if recorded else Outcome.completed()),
            remixed_from_video_id=source.id if source else None,
            extras=dict(extras or {}),
        )
        if isinstance(self.store, CachedStore):  # a shared store: stored with this loop turn's other creates
            await self.store.add_soon(job)
        else:
            self.store.add(job)
        if replay is not None and recorded is not None:
            replay.bind(job.id, recorded)  # its media were recorded: nothing to render
        else:
            self.media.prepare(job)  # its media render while it is queued and in progress; never waits
        return self.view(job)

    def completed_source(self, owner: str, video_id: str) -> Job:
        """Remix, edits and extensions build on a finished video only."""
        view = self.get(owner, video_id)
        if view.state.phase is not Phase.COMPLETED:
            raise APIError(
                409,
                f"Video '{video_id}' is {view.state.phase.value}; only a completed video can be used as a source.",
                code="video_not_ready",
                param="video_id",
                headers=NOT_READY_HEADERS,
            )
        return view.job

    @staticmethod
    def extended_seconds(source: Job, extension: str) -> str:
        # Officially, an extension's `seconds` is the stitched total duration.
        return str(int(_clip_seconds(source.seconds) + _clip_seconds(extension)))

    # -- content and deletion --------------------------------------------------------------

    def downloadable(self, owner: str, video_id: str) -> Job:
        """The job whose content may be downloaded now (completed, not expired), or the error why not."""
        view = self.get(owner, video_id)
        phase = view.state.phase
        if phase is Phase.FAILED:
            raise APIError(
                409,
                f"Video '{video_id}' failed; it has no content.",
                code="video_failed",
                param="video_id",
                headers=NOT_READY_HEADERS,
            )
        if phase is not Phase.COMPLETED:
            raise APIError(
                409,
                f"Video '{video_id}' is not ready yet (status {phase.value}, {view.state.progress}% done). Poll it "
                "until it is completed.",
                code="video_not_ready",
                param="video_id",
                headers=NOT_READY_HEADERS,
            )
        if view.state.expired(self.clock.now()):
            raise APIError(
                404,
                f"The content of video '{video_id}' expired at {view.state.expires_at}.",
                code="video_expired",
                param="video_id",
            )
        return view.job

    def delete(self, owner: str, video_id: str) -> Job:
        view = self.get(owner, video_id)
        if not view.state.phase.terminal:
            # Officially, delete is for "a completed or failed video".
            raise APIError(
                409,
                f"Video '{video_id}' is still {view.state.phase.value}; only a completed or failed video can be "
                "deleted.",
                code="video_not_ready",
                param="video_id",
                headers=NOT_READY_HEADERS,
            )
        self.store.delete(video_id)
        return view.job

    # -- characters ------------------------------------------------------------------------

    def create_character(self, owner: str, name: str) -> Character:
        character = Character(self.ids.new("char"), owner, name, math.floor(self.clock.now()))
        self.store.put_doc(CHARACTERS, character.id, character_to_json(character))
        return character

    def get_character(self, owner: str, character_id: str) -> Character:
        record = self.store.get_doc(CHARACTERS, character_id)
        if record is None or record["owner"] != owner:
            raise not_found("character", character_id)
        return character_from_json(record)
