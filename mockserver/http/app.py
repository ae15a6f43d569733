"""create_app(config) -> Starlette: the explicit route table, built from the loaded contract."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from mockserver import __version__, profiles
from mockserver.config import ConfigError, ServerConfig
from mockserver.contract.loading import Contract
from mockserver.control.access import ControlAccess
from mockserver.control.faults import FaultBook
from mockserver.control.jobs import job_routes
from mockserver.control.journal import Journal
from mockserver.control.plane import ControlPlane
from mockserver.control.routes import control_routes
from mockserver.control.webhooks import WebhookDispatcher, lifespan
from mockserver.core import jsonbody
from mockserver.core.clock import Clock
from mockserver.core.errors import APIError
from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState
from mockserver.core.media import MediaLibrary
from mockserver.core.outcomes import OutcomeQueue
from mockserver.core.throttle import LogThrottle
from mockserver.core.videos import JobView, TimingPlan, VideoService, key_salt
from mockserver.http import wire
from mockserver.http.auth import Authenticator
from mockserver.http.pipeline import RequestPipeline
from mockserver.http.routes import CompactJSONResponse, VideoRoutes
from mockserver.http.routing import Endpoint, OperationTable
from mockserver.profiles import ProfileIds, RenderContext
from mockserver.profiles.base import request_origin
from mockserver.render.source import MediaSource
from mockserver.store import Store, StoreError, open_store
from mockserver.store.base import SharedStore
from mockserver.store.cached import CachedStore
from mockserver.ui import dashboard_routes

if TYPE_CHECKING:
    from mockserver.core.replay import ReplaySource

log = logging.getLogger("mockserver")
_STORE_LOG = LogThrottle()
_REMEMBERED_BODIES = 1024  # encoded Video bodies kept, one per job (Server.video_body)


class Server:
    """Everything one running fake holds; the app's routes and the control API share it."""

    def __init__(
        self, config: ServerConfig, *, store: Store | None = None, clock: Clock | None = None, boot: bool = True
    ) -> None:
        self.config = config
        self.started = time.monotonic()
        # A dialect (`serve --profile`) transforms how things are said, never what happens to a job.
        self.profile = profiles.load(config.profile, config.profile_options)
        self.contract = Contract.load(self.profile.contract_name(config.spec))
        self.vocabulary = self.profile.vocabulary(self.contract.vocabulary)  # the status words clients see
        self.video_shape = wire.VideoShape(self.vocabulary)
        # Most dialects keep the reference Video; those skip building a render context per poll.
        self._profile_renders_video = type(self.profile).video is not profiles.Profile.video
        # Everything that changes at run time lives in the store, so workers sharing it agree.
        self.store: Store = _with_copies(store if store is not None else open_store(config.store))
        remember = not (self._profile_renders_video or (self.store.shared and not isinstance(self.store, CachedStore)))
        self._bodies: dict[str, tuple[Job, JobState, bytes]] | None = {} if remember else None
        self.clock = clock or Clock(self.store)
        self.ids = ProfileIds(IdFactory(config.seed, self.store.next_number), self.profile)
        self.outcomes = OutcomeQueue(self.store)
        fixtures = MediaLibrary(config.fixtures_dir) if config.fixtures_dir else MediaLibrary()
        self.media = MediaSource(fixtures, config.media)
        self.service = VideoService(
            self.store, self.clock, self.media, self.ids, TimingPlan(dict(config.timings), config.speed), self.outcomes
        )
        if config.replay is not None:
            self.service.replay = _replay_source(config.replay, config.replay_unmatched, self.contract, self.store)
        self.key_salt = key_salt(self.store)  # of key fingerprints; kept in the store, so workers share it
        self.auth = Authenticator(config.api_keys, config.admin_token, self.key_salt)
        self.journal = Journal(self.store, config.journal_size, config.admin_token, salt=self.key_salt)
        self.faults = FaultBook(self.store, config.faults, seed=config.seed, salt=self.key_salt)
        self.webhooks = WebhookDispatcher(self.store, self.clock, self.journal, config.webhooks)
        self.control = ControlPlane(
            self.store, self.clock, self.outcomes, self.faults, self.journal, self.webhooks, self.key_salt
        )
        self.control_access = ControlAccess(config.admin_token, config.loopback_only, config.bind_host)
        if boot:
            self.control.boot()

    def render_video(self, view: JobView, scope: Scope) -> dict[str, Any]:
        """The Video document of a job in its state, in the dialect; `scope` is the request being answered."""
        doc = self.video_shape.render(view.job, view.state)
        if not self._profile_renders_video:
            return doc
        context = RenderContext(request_origin(scope), self.contract.base_path)
        return self.profile.video(doc, view.job, view.state, context)

    def video_body(self, view: JobView, scope: Scope) -> bytes:
        """The encoded Video document of a job in its state, as the poll and create answers carry it.

        A client polls the same job over and over, and the answer changes only when the job's state
        does (phase, progress), so the last body of each job is remembered with the job and state it
        was made from. A job is immutable, so the same job object in an equal state makes the same
        bytes. Not remembered where that does not hold or cannot pay: a dialect that puts URLs of the
        request in the body, and a shared store without this process's copies (store/cached.py), where
        every read makes a new job object.
        """
        bodies = self._bodies
        if bodies is None:
            return jsonbody.dumps(self.render_video(view, scope))
        known = bodies.get(view.job.id)
        if known is not None and known[0] is view.job and known[1] == view.state:
            return known[2]
        body = jsonbody.dumps(self.render_video(view, scope))
        bodies[view.job.id] = (view.job, view.state, body)
        if len(bodies) > _REMEMBERED_BODIES:
            bodies.pop(next(iter(bodies)), None)  # the job that was answered longest ago
        return body

    def render_error(self, request: Request, error: APIError) -> Response:
        body, status = error.body(self.contract.error_type(error.status)), error.status
        if request.url.path.startswith(f"{self.contract.base_path}/"):  # the dialect covers the API, not /__mock
            status, body = self.profile.error(status, body, method=request.method, path=request.url.path)
        return CompactJSONResponse(body, status_code=status, headers=error.headers)

    async def error_response(self, request: Request, exc: Exception) -> Response:
        """The answer to any exception raised while answering `request`, by the pipeline or by Starlette."""
        if isinstance(exc, APIError):
            return self.render_error(request, exc)
        if isinstance(exc, HTTPException):  # Starlette's 404, the routing table's 405
            if exc.status_code == 404:
                message = (
                    f"Unknown path {request.url.path}. The video API lives under {self.contract.base_path}/videos."
                )
            elif exc.status_code == 405:
                message = f"Method {request.method} is not allowed on {request.url.path}."
            else:
                message = str(exc.detail)
            code = "unknown_url" if exc.status_code == 404 else "method_not_allowed"
            return self.render_error(request, APIError(exc.status_code, message, code=code, headers=exc.headers))
        if isinstance(exc, StoreError):
            # Not the client's fault and not a bug: the shared store (Redis, a SQLite file) failed. A 503
            # tells the SDKs to retry, which is right once the store is back.
            held_back = _STORE_LOG.allow("store")  # a store that is down fails every request: a line now and then
            if held_back is not None:
                log.error(
                    "store error on %s %s: %s (%d more since the last line)",
                    request.method,
                    request.url.path,
                    exc,
                    held_back,
                )
            error = APIError(503, f"The mock server's store is unavailable: {exc}", code="store_unavailable")
            return self.render_error(request, error)
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        error = APIError(
            500, "The mock server hit an unexpected error; this is a bug in the mock.", code="internal_error"
        )
        return self.render_error(request, error)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "spec": str(self.contract.source),
            "base_path": self.contract.base_path,
            "profile": self.profile.name,
            "store": self.store.url,
            "media": "rendered" if self.media.rendering else "fixtures",
            "pid": os.getpid(),  # which worker answered, with `serve --workers N`
            # Not secret: what a client needs to work out a key's `owner` (mockserver.client does).
            "key_salt": self.key_salt,
        }


def _with_copies(store: Store) -> Store:
    """A shared store as this process uses it: with copies of what a request reads on every call."""
    if not store.shared or isinstance(store, CachedStore):
        return store
    return CachedStore(cast(SharedStore, store), kinds=(Clock.KIND, FaultBook.RULES, OutcomeQueue.KIND))


def _replay_source(directory: Path, unmatched: str, contract: Contract, store: Store) -> ReplaySource:
    """`serve --replay DIR`: the cassette's recorded jobs, their requests read with this contract's defaults."""
    # Imported here: a server that replays nothing never loads them (start-up time).
    from mockserver.core.cassette import CassetteError
    from mockserver.core.replay import ReplaySource

    op = contract.find("POST", "/videos")
    body = (op.bodies.get("multipart/form-data") or next(iter(op.bodies.values()), None)) if op else None
    values = body.with_defaults({}) if body is not None else {}
    # The same fallbacks as the create handler, for a contract without defaults.
    defaults = {"model": "sora-2", "size": "720x1280", "seconds": "4"}
    defaults.update({name: str(values[name]) for name in defaults if name in values})
    try:
        return ReplaySource(directory, store, defaults=defaults, unmatched=unmatched)
    except CassetteError as exc:
        raise ConfigError(f"--replay {directory}: {exc}") from None


def _operations(server: Server) -> OperationTable:
    """The one routing table: every operation of the contract with this server's handler for it.

    Literal paths (/videos/edits) must win over templates (/videos/{video_id}), so they come first.
    """
    contract = server.contract
    handlers = VideoRoutes(server).table()
    ordered = sorted(contract.operations.values(), key=lambda op: ("{" in op.path, op.path))
    operations = []
    for op in ordered:
        handler = handlers.get((op.method, op.path))
        if handler is None:
            log.warning("the contract has %s %s, which this server has no handler for", op.method, op.path)
        operations.append((op.method, contract.base_path + op.path, Endpoint(f"{op.method} {op.path}", handler)))
    return OperationTable(operations)


def _routes(server: Server) -> list[BaseRoute]:
    """What Starlette's Router answers: the control API and the contract as YAML and JSON (the API is the table's)."""
    contract = server.contract

    async def spec_yaml(request: Request) -> Response:
        return Response(contract.yaml_text, media_type="application/yaml")

    async def spec_json(request: Request) -> Response:
        return Response(contract.json_text, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse(server.health())

    return [
        Route("/__mock/health", health, methods=["GET"]),  # the server's own description, open to supervisors
        *control_routes(server.control),  # /__mock/...: health, clock, outcomes, faults, journal, webhooks, reset
        # /__mock/jobs: every key's jobs, and their media for the admin
        *job_routes(
            server.control,
            server.service,
            server.vocabulary,
            server.control_access,
            server.render_video,
            tuple(server.config.api_keys),
        ),
        *dashboard_routes(),  # /__mock/ui: the dashboard's page
        Route("/openapi.yaml", spec_yaml),
        Route("/openapi.json", spec_json),
    ]


class MockApp(Starlette):
    """Starlette whose HTTP requests all enter through the RequestPipeline (see mockserver/http/pipeline.py).

    Lifespan events and whatever the pipeline passes on reach Starlette as usual; `app.state.server`
    and everything else a Starlette app offers stay as they were.
    """

    pipeline: RequestPipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.pipeline(scope, receive, send)


def _lifespan(server: Server) -> Any:
    webhooks = lifespan(server.webhooks)

    @contextlib.asynccontextmanager
    async def run(app: Any) -> Any:
        try:
            async with webhooks(app):
                yield
        finally:
            server.media.close()  # queued renders are dropped; a running one finishes in its thread

    return run


def create_app(config: ServerConfig | None = None, *, server: Server | None = None) -> Starlette:
    server = server or Server(config or ServerConfig())

    # Starlette renders what the Router and the control routes raise with the server's one error answer.
    errors = dict.fromkeys((APIError, HTTPException, StoreError, Exception), server.error_response)
    app = MockApp(routes=_routes(server), exception_handlers=errors, lifespan=_lifespan(server))
    # Starlette's own __call__ (its error layers and the Router) is what the pipeline passes on to.
    app.pipeline = RequestPipeline(functools.partial(Starlette.__call__, app), server, _operations(server))
    app.state.server = server
    return app
