"""create_app(config) -> Starlette: the explicit route table, built from the loaded contract."""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from mockserver import __version__, profiles
from mockserver.config import ServerConfig
from mockserver.contract.loading import Contract
from mockserver.control.faults import FaultBook
from mockserver.control.journal import Journal
from mockserver.control.routes import control_routes
from mockserver.control.webhooks import WebhookDispatcher, lifespan, webhook_routes
from mockserver.core import jsonbody
from mockserver.core.clock import Clock
from mockserver.core.errors import APIError
from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState
from mockserver.core.media import MediaLibrary
from mockserver.core.outcomes import ScriptQueue
from mockserver.core.throttle import LogThrottle
from mockserver.core.videos import SALT_ID, SALT_KIND, JobView, TimingPlan, VideoService, key_salt
from mockserver.http import wire
from mockserver.http.auth import Authenticator
from mockserver.http.pipeline import Operation, RequestPipeline
from mockserver.http.routes import CompactJSONResponse, VideoRoutes
from mockserver.http.routing import Handler
from mockserver.profiles import ProfileIds, RenderContext
from mockserver.profiles.base import request_origin
from mockserver.store import Store, StoreError, open_store

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
        self.profile = profiles.load(config.profile, config.extra.get("profile_options"))
        self.contract = Contract.load(self.profile.contract_name(config.spec))
        self.vocabulary = self.profile.vocabulary(self.contract.vocabulary)  # the status words clients see
        self.video_shape = wire.VideoShape(self.vocabulary)
        # Most dialects keep the reference Video; those skip building a render context per poll.
        self._profile_renders_video = type(self.profile).video is not profiles.Profile.video
        # Everything that changes at run time lives in the store, so workers sharing it agree.
        self.store: Store = store if store is not None else open_store(config.store)
        remember = not (self._profile_renders_video or self.store.shared)
        self._bodies: dict[str, tuple[Job, JobState, bytes]] | None = {} if remember else None
        self.clock = clock or Clock(self.store)
        self.ids = ProfileIds(IdFactory(config.seed, self.store.next_number), self.profile)
        self.scripts = ScriptQueue(self.store)
        self.media = MediaLibrary(config.fixtures_dir) if config.fixtures_dir else MediaLibrary()
        self.service = VideoService(
            self.store, self.clock, self.media, self.ids, TimingPlan(dict(config.timings), config.speed), self.scripts
        )
        self.key_salt = key_salt(self.store)  # of key fingerprints; kept in the store, so workers share it
        self.auth = Authenticator(config, self.key_salt)
        self.journal = Journal(self.store, config.journal_size, config.admin_token, salt=self.key_salt)
        self.faults = FaultBook(self.store, config.faults, seed=config.seed, salt=self.key_salt)
        self.webhooks = WebhookDispatcher(self)
        if boot:
            self.boot()

    def boot(self) -> None:
        """Put this configuration's start-up faults and webhook endpoints into the store.

        They replace those of an earlier run on the same store; jobs, the clock and whatever was set
        at run time stay. With several workers the parent process boots once, before they start.
        """
        self.faults.install_startup()
        self.webhooks.install_startup()

    def reset(self) -> int:
        """Everything back to start-up state; returns how many jobs were forgotten."""
        jobs = len(self.store)
        self.store.clear()  # jobs, journal, scripts, faults and their counters, the clock, id counters
        # The fingerprint salt stays: other workers keep using it, and keys must keep their owners.
        self.store.put_doc(SALT_KIND, SALT_ID, self.key_salt)
        self.journal.reset()  # a memory store's journal is the journal's own
        self.faults.reset()  # re-seeds this process's randomness
        self.webhooks.reset()  # cancels deliveries still retrying
        self.boot()
        return jobs

    def render_video(self, view: JobView) -> dict[str, Any]:
        doc = self.video_shape.render(view.job, view.state)
        if not self._profile_renders_video:
            return doc
        context = RenderContext(request_origin(), self.contract.base_path)
        return self.profile.video(doc, view.job, view.state, context)

    def video_body(self, view: JobView) -> bytes:
        """The encoded Video document of a job in its state, as the poll and create answers carry it.

        A client polls the same job over and over, and the answer changes only when the job's state
        does (phase, progress), so the last body of each job is remembered with the job and state it
        was made from. A job is immutable, so the same job object in an equal state makes the same
        bytes. Not remembered where that does not hold or cannot pay: a dialect that puts URLs of the
        request in the body, and shared stores (every read makes a new job object).
        """
        bodies = self._bodies
        if bodies is None:
            return jsonbody.dumps(self.render_video(view))
        known = bodies.get(view.job.id)
        if known is not None and known[0] is view.job and known[1] == view.state:
            return known[2]
        body = jsonbody.dumps(self.render_video(view))
        bodies[view.job.id] = (view.job, view.state, body)
        if len(bodies) > _REMEMBERED_BODIES:
            bodies.pop(next(iter(bodies)), None)  # the job that was answered longest ago
        return body

    def render_error(self, request: Request, error: APIError) -> Response:
        body, status = error.body(self.contract.error_type(error.status)), error.status
        if request.url.path.startswith(f"{self.contract.base_path}/"):  # the dialect covers the API, not /__mock
            status, body = self.profile.error(status, body, method=request.method, path=request.url.path)
        return CompactJSONResponse(body, status_code=status, headers=error.headers)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "spec": str(self.contract.source),
            "base_path": self.contract.base_path,
            "profile": self.profile.name,
            "store": self.store.url,
            "pid": os.getpid(),  # which worker answered, with `serve --workers N`
            # Not secret: what a client needs to work out a key's `owner` (mockserver.client does).
            "key_salt": self.key_salt,
        }


def _operations(server: Server) -> dict[str, dict[str, Operation]]:
    """Full path template -> method -> Operation, for every operation of the contract.

    Literal paths (/videos/edits) must win over templates (/videos/{video_id}), so they come first;
    the request pipeline's tables and the Router's API routes are both built from this, in this order.
    """
    contract = server.contract
    handlers = VideoRoutes(server).table()
    ordered = sorted(contract.operations.values(), key=lambda op: ("{" in op.path, op.path))
    by_path: dict[str, dict[str, Operation]] = {}
    for op in ordered:
        handler = handlers.get((op.method, op.path))
        if handler is None:
            log.warning("the contract has %s %s, which this server has no handler for", op.method, op.path)
        by_path.setdefault(contract.base_path + op.path, {})[op.method] = Operation(f"{op.method} {op.path}", handler)
    return by_path


def _routes(server: Server, operations: dict[str, dict[str, Operation]]) -> list[BaseRoute]:
    contract = server.contract
    # The request pipeline answers these first; the Router still has them for what it alone
    # decides: 405 with Allow for a wrong method, and trailing-slash redirects.
    routes: list[BaseRoute] = []
    for path, methods in operations.items():
        served = {method: op.handler for method, op in methods.items() if op.handler is not None}
        if served:
            routes.append(Route(path, _dispatch(served), methods=list(served)))

    async def spec_yaml(request: Request) -> Response:
        return Response(contract.yaml_text, media_type="application/yaml")

    async def spec_json(request: Request) -> Response:
        return Response(contract.json_text, media_type="application/json")

    routes += control_routes(server)  # /__mock/...: health, clock, outcomes, faults, journal, reset
    routes += webhook_routes(server)  # /__mock/webhooks: endpoints, deliveries, faults
    routes += [
        Route("/openapi.yaml", spec_yaml),
        Route("/openapi.json", spec_json),
    ]
    return routes


def _dispatch(methods: dict[str, Handler]) -> Handler:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def by_method(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await methods[method](request)

    return by_method


class MockApp(Starlette):
    """Starlette whose HTTP requests all enter through the RequestPipeline (see mockserver/http/pipeline.py).

    Lifespan events and whatever the pipeline passes on reach Starlette as usual; `app.state.server`
    and everything else a Starlette app offers stay as they were.
    """

    pipeline: RequestPipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.pipeline(scope, receive, send)


def create_app(config: ServerConfig | None = None, *, server: Server | None = None) -> Starlette:
    server = server or Server(config or ServerConfig())

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return server.render_error(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = f"Unknown path {request.url.path}. The video API lives under {server.contract.base_path}/videos."
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            message = str(exc.detail)
        error = APIError(
            exc.status_code,
            message,
            code="unknown_url" if exc.status_code == 404 else "method_not_allowed",
            headers=exc.headers,
        )
        return server.render_error(request, error)

    async def store_down(request: Request, exc: Exception) -> Response:
        # Not the client's fault and not a bug: the shared store (Redis, a SQLite file) failed. A 503
        # tells the SDKs to retry, which is right once the store is back.
        held_back = _STORE_LOG.allow("store")
        if held_back is not None:
            log.error(
                "store error on %s %s: %s (%d more since the last line)",
                request.method,
                request.url.path,
                exc,
                held_back,
            )
        error = APIError(503, f"The mock server's store is unavailable: {exc}", code="store_unavailable")
        return server.render_error(request, error)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StoreError):  # raised outside the route handlers (Starlette passes it here)
            return await store_down(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = APIError(
            500, "The mock server hit an unexpected error; this is a bug in the mock.", code="internal_error"
        )
        return server.render_error(request, error)

    # A handler's error is rendered by these in the pipeline and by Starlette alike.
    handlers: dict[Any, Any] = {
        APIError: api_error,
        HTTPException: http_error,
        StoreError: store_down,
        Exception: unexpected,
    }
    operations = _operations(server)
    app = MockApp(routes=_routes(server, operations), exception_handlers=handlers, lifespan=lifespan(server.webhooks))
    # Starlette's own __call__ (its error layers and the Router) is what the pipeline passes on to.
    app.pipeline = RequestPipeline(functools.partial(Starlette.__call__, app), server, operations, handlers)
    app.state.server = server
    return app
