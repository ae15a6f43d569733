"""The video job: immutable facts recorded at creation, and its state derived from the clock.

Nothing here knows about HTTP. A job's status, progress and timestamps are a pure function of
the job and the time, so there is no background task to run, drift, or lose on restart.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# How long a downloadable asset lives after completion (official: "valid for a maximum of 1 hour").
ASSET_LIFETIME_SECONDS = 3600


class Phase(enum.Enum):
    """The lifecycle roles; each contract names them with its own words (see contract.Vocabulary)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FAILED)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a job ends: completed, or failed with a code and message (chosen when it is created)."""

    failed: bool = False
    code: str | None = None
    message: str | None = None

    @classmethod
    def completed(cls) -> Outcome:
        return cls()

    @classmethod
    def failure(cls, code: str, message: str | None = None) -> Outcome:
        return cls(True, code, message or FAILURE_MESSAGES.get(code, f"Video generation failed ({code})."))

    def describe(self) -> str:
        return f"failed:{self.code}" if self.failed else "completed"


# Messages for the failure codes a client of a real provider must handle.
FAILURE_MESSAGES = {
    "moderation_blocked": "Your request was blocked by our moderation system.",
    "content_policy_violation": "The request was rejected because it may violate our content policy.",
    "internal_error": "The video could not be generated because of an internal error. Try again.",
    "timeout": "Video generation timed out.",
    "invalid_input_reference": "The input reference image could not be used for this size.",
}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    owner: str  # a fingerprint of the API key, never the key itself
    model: str
    prompt: str | None
    size: str
    seconds: str
    created_at: float  # virtual-clock seconds
    queue_seconds: float
    render_seconds: float
    outcome: Outcome = field(default_factory=Outcome.completed)
    remixed_from_video_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # accepted fields the reference shape has no slot for


class JobState(NamedTuple):
    """A job's state at one moment. A tuple, not a frozen dataclass: one is made on every poll, and
    a frozen dataclass sets each field through object.__setattr__."""

    phase: Phase
    progress: int
    completed_at: int | None
    expires_at: int | None
    finished_at: float | None  # when the job reached a terminal phase, virtual seconds

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


_QUEUED = JobState(Phase.QUEUED, 0, None, None, None)  # every queued job's state: made once


def state(job: Job, now: float) -> JobState:
    started = job.created_at + job.queue_seconds
    finished = started + job.render_seconds
    if now < started:
        return _QUEUED
    if now < finished:
        # Monotonic in `now`, and never 100 before the job is really done.
        progress = min(99, int(100 * (now - started) / job.render_seconds))
        return JobState(Phase.RUNNING, progress, None, None, None)
    if job.outcome.failed:
        return JobState(Phase.FAILED, 0 if job.render_seconds == 0 else 99, None, None, finished)
    completed_at = math.floor(finished)
    return JobState(Phase.COMPLETED, 100, completed_at, completed_at + ASSET_LIFETIME_SECONDS, finished)


def seconds_until_change(job: Job, now: float) -> float | None:
    """Virtual seconds until the phase changes next, or None once terminal."""
    started = job.created_at + job.queue_seconds
    finished = started + job.render_seconds
    if now < started:
        return started - now
    if now < finished:
        return finished - now
    return None
