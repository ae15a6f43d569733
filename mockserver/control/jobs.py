"""The control API's view of every job, across API keys: /__mock/jobs (the dashboard's table).

The video API lists one key's jobs; whoever drives the fake (a test, the dashboard) wants all of
them, with the state each is in now, what it was scripted to end as, and when the next change is
due. Keys are never shown: a job carries its owner's fingerprint, and the masked key where the
server knows it (a configured `--api-key`, or a journaled request of that owner).

The admin's media route serves a job's files through the content route's own FileResponse, with
Range, so a `<video>` element can play and seek the MP4. A media element cannot send an
Authorization header, so the job's JSON carries media URLs the one guard signed (control/access.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from mockserver.contract.loading import Vocabulary
from mockserver.control.access import ControlAccess
from mockserver.control.plane import ControlPlane
from mockserver.core.errors import bad_request, not_found
from mockserver.core.jobs import Job, Phase, seconds_until_change, state
from mockserver.core.keys import mask, owner_of
from mockserver.core.media import MediaFile
from mockserver.core.videos import JobView, VideoService

RenderVideo = Callable[[JobView, Scope], dict[str, Any]]  # the Video document as the video API says it

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # the newest jobs looked at; filters apply among them
# The dashboard polls as often as the server says: soon when a job is about to change, seldom when
# nothing will change by itself (a frozen clock, only finished jobs).
POLL_MIN_MS, POLL_RUNNING_MS, POLL_IDLE_MS = 200, 1000, 2000


def media_response(media: MediaFile, video_id: str) -> FileResponse:
    """A job's file as the content route sends it (to its key, or here to the admin): whole, or the
    byte ranges a player asks for."""
    return FileResponse(
        media.path,
        media_type=media.media_type,
        filename=f"{video_id}{media.path.suffix}",
        content_disposition_type="attachment",
    )


class JobRoutes:
    def __init__(
        self,
        plane: ControlPlane,
        service: VideoService,
        vocabulary: Vocabulary,
        access: ControlAccess,
        render_video: RenderVideo,
        configured_keys: tuple[str, ...] = (),
    ) -> None:
        self.plane = plane
        self.service = service
        self.vocabulary = vocabulary
        self.access = access
        self.render_video = render_video
        self.configured = {owner_of(key, plane.key_salt): mask(key) for key in configured_keys}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/__mock/jobs", self.list, methods=["GET"]),
            Route("/__mock/jobs/{video_id}", self.detail, methods=["GET"]),
            Route("/__mock/jobs/{video_id}/content", self.content, methods=["GET"]),
        ]

    # -- what a job is now -----------------------------------------------------------------

    def key_hints(self) -> dict[str, str]:
        """Owner fingerprint -> the key masked, for the owners the server has seen a key of."""
        hints = dict(self.configured)
        for entry in self.plane.journal.find():
            if entry.key:
                hints.setdefault(entry.owner, entry.key)
        return hints

    def _summary(self, job: Job, now: float, hints: dict[str, str]) -> dict[str, Any]:
        at = state(job, now)
        started = job.created_at + job.queue_seconds
        return {
            "id": job.id,
            "owner": job.owner,
            "key": hints.get(job.owner),
            "model": job.model,
            "size": job.size,
            "seconds": job.seconds,
            "prompt": job.prompt,
            "status": self.vocabulary.status(at.phase),
            "phase": at.phase.value,
            "progress": at.progress,
            "created_at": job.created_at,
            "started_at": started,
            "finished_at": started + job.render_seconds,
            "completed_at": at.completed_at,
            "expires_at": at.expires_at,
            "outcome": job.outcome.describe(),
            "error": {"code": job.outcome.code, "message": job.outcome.message} if at.phase is Phase.FAILED else None,
            "remixed_from_video_id": job.remixed_from_video_id,
        }

    def _timeline(self, job: Job, now: float) -> list[dict[str, Any]]:
        started = job.created_at + job.queue_seconds
        finished = started + job.render_seconds
        end = Phase.FAILED if job.outcome.failed else Phase.COMPLETED
        events = [
            ("created", self.vocabulary.status(Phase.QUEUED), job.created_at),
            ("started", self.vocabulary.status(Phase.RUNNING), started),
            ("finished", self.vocabulary.status(end), finished),
        ]
        expires_at = state(job, finished).expires_at  # the domain's own rule, read at the moment it finishes
        if expires_at is not None:
            events.append(("expires", "expired", float(expires_at)))
        return [{"event": e, "status": status, "at": when, "reached": now >= when} for e, status, when in events]

    def poll_after_ms(self, jobs: list[Job], now: float) -> int:
        settings = self.plane.clock.settings
        if settings.frozen or settings.speed == 0:
            return POLL_IDLE_MS
        changes = [c for c in (seconds_until_change(job, now) for job in jobs) if c is not None]
        if not changes:
            return POLL_IDLE_MS
        soonest = min(changes) / settings.speed * 1000
        running = any(state(job, now).phase is Phase.RUNNING for job in jobs)  # a progress bar moves
        return int(max(POLL_MIN_MS, min(soonest, POLL_RUNNING_MS if running else POLL_IDLE_MS)))

    # -- handlers --------------------------------------------------------------------------

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit") or str(DEFAULT_LIMIT)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise bad_request(
                f"Query parameter 'limit' must be an integer from 1 to {MAX_LIMIT}, got {raw!r}.", param="limit"
            )
        return int(raw)

    async def list(self, request: Request) -> Response:
        limit = self._limit(request)
        owner = request.query_params.get("owner") or None
        status = request.query_params.get("status") or None
        clock = self.plane.clock.describe()  # one reading: every state below is at this `now`
        now = clock["now"]
        jobs = self.plane.store.recent(MAX_LIMIT)
        matching = [job for job in jobs if owner is None or job.owner == owner]
        if status is not None:
            wanted = {phase for phase in Phase if status in (phase.value, self.vocabulary.status(phase))}
            matching = [job for job in matching if state(job, now).phase in wanted]
        hints = self.key_hints() if matching else {}
        return JSONResponse(
            {
                "object": "list",
                "data": [self._summary(job, now, hints) for job in matching[:limit]],
                "has_more": len(matching) > limit,
                "total": len(self.plane.store),
                "now": now,
                "clock": clock,
                "poll_after_ms": self.poll_after_ms(jobs, now),
            }
        )

    def _job(self, request: Request) -> Job:
        video_id = request.path_params["video_id"]
        job = self.plane.store.get(video_id)
        if job is None:
            raise not_found("video", video_id)
        return job

    async def detail(self, request: Request) -> Response:
        job = self._job(request)
        view = self.service.view(job)
        completed = view.state.phase is Phase.COMPLETED
        media = {
            variant: self._media_url(job.id, variant) if completed else None
            for variant in self.service.media.variants()
        }
        return JSONResponse(
            {
                "job": self._summary(job, view.now, self.key_hints()),
                "now": view.now,
                "timeline": self._timeline(job, view.now),
                "video": self.render_video(view, request.scope),
                "media": media,
            }
        )

    def _media_url(self, video_id: str, variant: str) -> str:
        path = f"/__mock/jobs/{video_id}/content"
        return f"{path}?{self.access.signed_query(path, {'variant': variant})}"

    async def content(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        variant = request.query_params.get("variant") or "video"
        variants = self.service.media.variants()
        if variant not in variants:
            raise bad_request(f"Unknown variant {variant!r}; this server has {', '.join(variants)}.", param="variant")
        job = self.service.downloadable(self._job(request).owner, video_id)  # 409 until completed, 404 once expired
        return media_response(await self.service.media.fetch(job, variant), video_id)  # the content route's answer


def job_routes(
    plane: ControlPlane,
    service: VideoService,
    vocabulary: Vocabulary,
    access: ControlAccess,
    render_video: RenderVideo,
    configured_keys: tuple[str, ...] = (),
) -> list[BaseRoute]:
    return JobRoutes(plane, service, vocabulary, access, render_video, configured_keys).routes()
