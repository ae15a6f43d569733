"""create_app(config) -> Starlette: the explicit route table, built from the loaded contract."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver import __version__, wire
from mockserver.auth import Authenticator
from mockserver.clock import Clock
from mockserver.config import ServerConfig
from mockserver.contract import Contract
from mockserver.errors import APIError
from mockserver.headers import OpenAIHeadersMiddleware
from mockserver.ids import IdFactory
from mockserver.media import MediaLibrary
from mockserver.outcomes import ScriptQueue
from mockserver.routes import VideoRoutes, error_response
from mockserver.service import JobView, TimingPlan, VideoService
from mockserver.store import MemoryStore, Store

log = logging.getLogger("mockserver")


class Server:
    """Everything one running fake holds; the app's routes and the control API share it."""

    def __init__(self, config: ServerConfig, *, store: Store | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.started = time.monotonic()
        self.contract = Contract.load(config.spec)
        self.clock = clock or Clock()
        self.ids = IdFactory(config.seed)
        self.scripts = ScriptQueue()
        self.media = MediaLibrary(config.fixtures_dir) if config.fixtures_dir else MediaLibrary()
        self.store: Store = store or MemoryStore()
        self.service = VideoService(
            self.store, self.clock, self.media, self.ids, TimingPlan(dict(config.timings), config.speed), self.scripts
        )
        self.auth = Authenticator(config)

    def render_video(self, view: JobView) -> dict[str, Any]:
        return wire.video(view.job, view.state, self.contract.vocabulary)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "spec": str(self.contract.source),
            "base_path": self.contract.base_path,
        }


def _routes(server: Server) -> list[BaseRoute]:
    contract = server.contract
    handlers = VideoRoutes(server).table()
    routes: list[BaseRoute] = []
    # Literal paths (/videos/edits) must win over templates (/videos/{video_id}), so mount them first.
    ordered = sorted(contract.operations.values(), key=lambda op: ("{" in op.path, op.path))
    by_path: dict[str, dict[str, Any]] = {}
    for op in ordered:
        handler = handlers.get((op.method, op.path))
        if handler is None:
            log.warning("the contract has %s %s, which this server has no handler for", op.method, op.path)
            continue
        by_path.setdefault(op.path, {})[op.method] = handler
    for path, methods in by_path.items():
        routes.append(Route(contract.base_path + path, _dispatch(methods), methods=list(methods)))

    async def health(request: Request) -> Response:
        return JSONResponse(server.health())

    async def spec_yaml(request: Request) -> Response:
        return Response(contract.yaml_text, media_type="application/yaml")

    async def spec_json(request: Request) -> Response:
        return Response(contract.json_text, media_type="application/json")

    routes += [
        Route("/__mock/health", health),
        Route("/openapi.yaml", spec_yaml),
        Route("/openapi.json", spec_json),
    ]
    return routes


def _dispatch(methods: dict[str, Any]) -> Any:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def by_method(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await methods[method](request)

    return by_method


def create_app(config: ServerConfig | None = None, *, server: Server | None = None) -> Starlette:
    server = server or Server(config or ServerConfig())

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return error_response(exc, server.contract.error_type(exc.status))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = f"Unknown path {request.url.path}. The video API lives under {server.contract.base_path}/videos."
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            message = str(exc.detail)
        error = APIError(exc.status_code, message, code="unknown_url" if exc.status_code == 404 else "method_not_allowed", headers=exc.headers)
        return error_response(error, server.contract.error_type(exc.status_code))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = APIError(500, "The mock server hit an unexpected error; this is a bug in the mock.", code="internal_error")
        return error_response(error, server.contract.error_type(500))

    app = Starlette(
        routes=_routes(server),
        middleware=[Middleware(OpenAIHeadersMiddleware)],
        exception_handlers={APIError: api_error, HTTPException: http_error, Exception: unexpected},
    )
    app.state.server = server
    return app
