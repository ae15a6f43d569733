"""Every HTTP request's way through the server, in one pure-ASGI layer.

This replaces a stack of seven middlewares (clock pin, webhooks, OpenAI headers, dialect, journal,
faults, operation dispatcher) under Starlette's own two outer layers. Each of them wrapped `send`
in a closure and added a call and an await; on the poll path the layers cost more than the work
(the benchmark's poll ran at 0.58 of a bare Starlette endpoint and 3.6x Prism, against targets of
0.6 and 5x). Here the concerns are plain calls in a fixed order and `send` is wrapped once:

1. with a shared store, the clock's settings are read once for the request (`Clock.pin`);
2. the webhook dispatcher is started on this loop when no lifespan did it;
3. a request id, and the journal's start times (the control API is not journaled);
4. the dialect remembers the request (for absolute URLs in bodies) and answers operations it lacks;
5. the fault injector may delay the request, answer it with an error, or add rate-limit headers;
6. a contract operation runs its handler here, without the Router; any other request goes to
   Starlette: the control API, /openapi.*, unknown paths (404), a wrong method (405 with Allow),
   trailing-slash redirects, requests under a root_path.

As the response starts, the dialect's, the fault's and the OpenAI headers are added, and the journal
records the request with its status before the client can have its answer. After a POST the webhook
dispatcher looks again (a job to announce, or a clock change).

A handler's exception is rendered by the handler the app registered for its class, looked up the
way Starlette does (the exception's MRO), so an error reads the same whichever way it came; the
`Exception` handler makes anything unexpected the 500 envelope, with a request id and journaled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.control.faults import CONTROL_PREFIX
from mockserver.http.headers import new_request_id, openai_headers
from mockserver.http.routing import ErrorHandler, Handler, compile_operations, match_operation
from mockserver.profiles.base import remember_request, renders_urls, send_json, with_dialect_headers

if TYPE_CHECKING:
    from mockserver.control.journal import Journal
    from mockserver.http.app import Server


class Operation(NamedTuple):
    """One operation of the contract: how a dialect names it, and this server's handler for it."""

    label: str  # "GET /videos/{video_id}"
    handler: Handler | None  # None: the contract has it and this server does not (the Router says 404)


class RequestPipeline:
    """Pure ASGI; `app` (Starlette) gets lifespan events and every request that is not an operation."""

    def __init__(
        self,
        app: ASGIApp,
        server: Server,
        operations: Mapping[str, Mapping[str, Operation]],
        error_handlers: Mapping[type[Exception], ErrorHandler],
    ) -> None:
        self.app = app
        # Full path template -> method -> Operation, in the Router's order (literal paths first).
        self.tables = compile_operations(operations)
        self.error_handlers = dict(error_handlers)
        self.clock = server.clock
        self.pin_clock = server.store.shared  # in memory, a read of the settings is a dict lookup
        self.webhooks = server.webhooks
        self.journal = server.journal
        self.faults = server.faults
        self.render_error = server.render_error
        self.profile = server.profile
        self.unserved = frozenset(f"{method} {path}" for method, path in server.profile.unserved)
        self.dialect_headers = server.profile.adds_headers
        self.remember_requests = renders_urls(server.profile)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        webhooks = self.webhooks
        if not webhooks.lifespan_running:
            webhooks.ensure_started()
        method, path = scope["method"], scope["path"]
        api = not path.startswith(CONTROL_PREFIX)
        reply = _Reply(send, scope, self.journal if api and self.journal.size else None)
        if self.remember_requests:
            remember_request(scope)
        # A root_path changes what the Router matches against; leave those requests to it.
        hit = match_operation(self.tables, method, path) if api and not scope.get("root_path") else None
        operation, params = hit if hit is not None else (None, {})
        answer: Send = reply
        if operation is not None and self.dialect_headers:
            answer = with_dialect_headers(reply, self.profile, operation.label)
        pinned = None
        try:
            if self.pin_clock:
                pinned = self.clock.pin()
            if reply.journal is not None:
                reply.arrived = (reply.arrived[0], self.clock.settings.at(reply.arrived[0]))
            if operation is not None and operation.label in self.unserved:
                status, body = self.profile.unknown_route(method, path)
                await send_json(answer, status, body)
                return
            decision = self.faults.decide(method, path, scope["headers"]) if api else None
            if decision is not None:
                reply.fault = decision.rule_id
                if decision.latency_ms:
                    await asyncio.sleep(decision.latency_ms / 1000)
                error = decision.error()
                if error is not None:
                    await self.render_error(Request(scope, receive), error)(scope, receive, answer)
                    return
                reply.added = decision.raw_headers()
            if operation is None or operation.handler is None:
                await self.app(scope, receive, answer)
                return
            scope["path_params"] = params
            request = Request(scope, receive, send)
            try:
                response = await operation.handler(request)
            except Exception as exc:
                response = await self._render(request, exc)
            if response.background is None and type(response).__call__ is Response.__call__:
                # A complete body (every JSON answer): the two messages Response.__call__ would send.
                await answer(
                    {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
                )
                await answer({"type": "http.response.body", "body": response.body})
            else:
                await response(scope, receive, answer)  # a download streams its file
        except Exception as exc:
            # The pipeline's own steps read the store (clock, faults): a store that fails there is a
            # 503 like anywhere else. Once a response has started (a download that broke, Starlette's
            # own 500), there is nothing more to say: the server closes the connection.
            if reply.answered:
                raise
            response = await self._render(Request(scope, receive), exc)
            await response(scope, receive, answer)
        finally:
            if pinned is not None:
                self.clock.unpin(pinned)
            if reply.journal is not None and not reply.answered:
                # What the client sees when the app raises before answering: the connection's 500.
                reply.record(500)
            if method == "POST":  # a create (a job to announce) or a clock change: look again now
                webhooks.wake()

    async def _render(self, request: Request, exc: Exception) -> Response:
        """The app's answer to an exception: its registered handler's (the `Exception` one: a 500)."""
        render = self._error_handler(exc)
        if render is None:
            raise exc
        response = await render(request, exc)
        exc.__traceback__ = None  # an exception object raised again later must not pile up frames
        return response

    def _error_handler(self, exc: Exception) -> ErrorHandler | None:
        for cls in type(exc).__mro__:
            render = self.error_handlers.get(cls)
            if render is not None:
                return render
        return None


class _Reply:
    """One request's `send`: as the response starts, adds the fault's and the OpenAI headers and
    has the journal record the request with its status, before the client can have its answer.

    An object rather than a closure: the request's state lives in its slots, not in cells that
    every access in the pipeline would go through.
    """

    __slots__ = ("added", "answered", "arrived", "fault", "journal", "request_id", "scope", "send", "started")

    def __init__(self, send: Send, scope: Scope, journal: Journal | None) -> None:
        self.send = send
        self.scope = scope
        self.journal = journal
        self.started = time.perf_counter()
        self.request_id = scope.setdefault("state", {})["request_id"] = new_request_id()
        self.arrived = (time.time(), 0.0)  # wall and virtual time; the pipeline reads the virtual one
        self.added: list[tuple[bytes, bytes]] = []  # a fault's headers on the server's own answer
        self.fault: str | None = None  # the id of the fault rule that acted, for the journal
        self.answered = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.answered:
            self.answered = True
            # A new list in the message, as Starlette's middleware does: a response may keep its own.
            message["headers"] = [
                *message.get("headers", ()),
                *self.added,
                *openai_headers(self.request_id, self.started),
            ]
            if self.journal is not None:
                self.record(message["status"])
        await self.send(message)

    def record(self, status: int) -> None:
        assert self.journal is not None
        self.journal.record(self.scope, status, self.arrived, self.request_id, self.fault)
