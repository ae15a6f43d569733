"""The wire shapes of the reference API, built from a job's derived state and the contract's vocabulary.

A field the contract requires is always present (null when it has no value); an optional one
appears only when it has a value. Profiles (real-world dialects) transform these shapes afterwards.
"""

from __future__ import annotations

import math
from typing import Any

from mockserver.contract.loading import Vocabulary
from mockserver.core.jobs import Job, JobState, Phase
from mockserver.store import Character

# The Video fields these shapes can fill; a contract may declare fewer (and others, left out).
_FILLED = (
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
)


class VideoShape:
    """The Video document of one vocabulary, compiled once: its fields in order, and which may be left out."""

    __slots__ = ("fields", "status_names")

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.status_names = dict(vocabulary.status_names)
        required = vocabulary.required_video_fields
        self.fields = tuple((name, name in required) for name in vocabulary.video_fields if name in _FILLED)

    def render(self, job: Job, job_state: JobState) -> dict[str, Any]:
        error = None
        if job_state.phase is Phase.FAILED:
            error = {"code": job.outcome.code, "message": job.outcome.message}
        known: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": self.status_names[job_state.phase],
            "progress": job_state.progress,
            "created_at": math.floor(job.created_at),
            "completed_at": job_state.completed_at,
            "expires_at": job_state.expires_at,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": job.seconds,
            "remixed_from_video_id": job.remixed_from_video_id,
            "error": error,
        }
        return {name: known[name] for name, required in self.fields if required or known[name] is not None}


def video_list(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def deleted(job: Job) -> dict[str, Any]:
    return {"id": job.id, "object": "video.deleted", "deleted": True}


def character(record: Character) -> dict[str, Any]:
    return {"id": record.id, "name": record.name, "created_at": record.created_at}
