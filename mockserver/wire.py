"""The wire shapes of the reference API, built from a job's derived state and the contract's vocabulary.

A field the contract requires is always present (null when it has no value); an optional one
appears only when it has a value. Profiles (real-world dialects) transform these shapes afterwards.
"""

from __future__ import annotations

import math
from typing import Any

from mockserver.contract import Vocabulary
from mockserver.jobs import Job, JobState, Phase
from mockserver.store import Character


def video(job: Job, job_state: JobState, vocabulary: Vocabulary) -> dict[str, Any]:
    error = None
    if job_state.phase is Phase.FAILED:
        error = {"code": job.outcome.code, "message": job.outcome.message}
    known: dict[str, Any] = {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": vocabulary.status(job_state.phase),
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
    required = vocabulary.required_video_fields
    return {
        name: known[name]
        for name in vocabulary.video_fields
        if name in known and (known[name] is not None or name in required)
    }


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
