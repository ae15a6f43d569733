"""Every HTTP request's way through the server, in one pure-ASGI layer.

The concerns are plain calls in a fixed order, and `send` is wrapped once (a layer per concern
cost more than the work on the poll path: see the README's performance section):

1. the webhook dispatcher is started on this loop when no lifespan did it;
2. a request id, the arrival times, and the request's clock (`Clock.for_request`);
3. a /__mock path passes the control API's one guard (control/access.py), or is refused;
4. a dialect answers operations it lacks;
5. the fault injector may delay the request, answer it with an error, or add rate-limit headers;
6. an API request is looked up in the one routing table (routing.py): its handler runs here, given
   the request and its `Call`; a known path with a wrong method is 405 with Allow, a trailing slash
   too many or too few is a redirect. Any other request goes to Starlette: the control API,
   /openapi.*, and the 404 for unknown paths.

As the response starts, the dialect's, the fault's and the OpenAI headers are added, and the journal
records the request with its status before the client can have its answer. After a POST the webhook
dispatcher looks again (a job to announce, or a clock change).

A handler's exception is rendered by the handler the app registered for its class (the nearest in
the exception's MRO), so an error reads the same whichever way it came; the `Exception` handler
makes anything unexpected the 500 envelope, with a request id and journaled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.control.access import CONTROL_PREFIX
from mockserver.http.headers import new_request_id, openai_headers
from mockserver.http.routing import OperationTable, route_path
from mockserver.profiles.base import send_json, with_dialect_headers
from mockserver.store.cached import CachedStore

if TYPE_CHECKING:
    from mockserver.control.journal import Journal
    from mockserver.core.clock import Clock
    from mockserver.http.app import Server


class Call:
    """One API request as the journal records it, filled in as it goes: the handler adds what it parsed.

    Handlers are given it beside the request; `clock` is the request's clock (Clock.for_request).
    """

    __slots__ = ("added", "answered", "arrived", "body", "clock", "fault", "request_id", "started", "uploads")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.started = time.perf_counter()
        self.request_id = new_request_id()
        self.arrived = (time.time(), 0.0)  # wall and virtual time (the virtual one once the clock is read)
        self.added: list[tuple[bytes, bytes]] = []  # a fault's headers on the server's own answer
        self.fault: str | None = None  # the id of the fault rule that acted
        self.answered = False
        # What the client sent (before defaults), as the handler parsed it; uploads as their metadata.
        self.body: dict[str, Any] | None = None
        self.uploads: dict[str, dict[str, Any]] | None = None


class RequestPipeline:
    """Pure ASGI; `app` (Starlette) gets lifespan events and every request that is not an operation."""

    def __init__(
        self,
        app: ASGIApp,
        server: Server,
        operations: OperationTable,
    ) -> None:
        self.app = app
        self.operations = operations
        self.error_response = server.error_response
        self.clock = server.clock
        self.webhooks = server.webhooks
        self.journal = server.journal
        self.faults = server.faults
        self.control_access = server.control_access
        self.render_error = server.render_error
        self.profile = server.profile
        self.unserved = frozenset(f"{method} {path}" for method, path in server.profile.unserved)
        self.dialect_headers = server.profile.adds_headers
        # A shared store's copies are checked as each request starts (store/cached.py).
        self.refresh = server.store.refreshed if isinstance(server.store, CachedStore) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        webhooks = self.webhooks
        if not webhooks.lifespan_running:
            webhooks.ensure_started()
        method, path = scope["method"], scope["path"]
        api = not path.startswith(CONTROL_PREFIX)
        call = Call(self.clock)
        journal = self.journal if api and self.journal.size else None
        reply = _RecordingSend(send, scope, call, journal)
        hit = self.operations.match(method, route_path(scope)) if api else None
        endpoint, params = hit if hit is not None else (None, {})
        answer: Send = reply
        if endpoint is not None and self.dialect_headers:
            answer = with_dialect_headers(reply, self.profile, endpoint.label)
        try:
            if self.refresh is not None:
                await self.refresh()
            call.clock = self.clock.for_request()
            if journal is not None:
                call.arrived = (call.arrived[0], call.clock.settings.at(call.arrived[0]))
            if not api:
                self.control_access.check(path, scope["headers"], scope.get("query_string", b""))
            if endpoint is not None and endpoint.label in self.unserved:
                status, body = self.profile.unknown_route(method, path)
                await send_json(answer, status, body)
                return
            decision = self.faults.decide(method, path, scope["headers"]) if api else None
            if decision is not None:
                call.fault = decision.rule_id
                if decision.latency_ms:
                    await asyncio.sleep(decision.latency_ms / 1000)
                error = decision.error()
                if error is not None:
                    await self.render_error(Request(scope, receive), error)(scope, receive, answer)
                    return
                call.added = decision.raw_headers()
            if endpoint is None or endpoint.handler is None:
                redirect = self._not_an_operation(scope) if api else None
                await (redirect or self.app)(scope, receive, answer)
                return
            scope["path_params"] = params
            request = Request(scope, receive, send)
            try:
                response = await endpoint.handler(request, call)
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
            if call.answered:
                raise
            response = await self._render(Request(scope, receive), exc)
            await response(scope, receive, answer)
        finally:
            if journal is not None and not call.answered:
                # What the client sees when the app raises before answering: the connection's 500.
                written = reply.record(500)
                if written is not None:
                    await written
            if method == "POST":  # a create (a job to announce) or a clock change: look again now
                webhooks.wake()

    def _not_an_operation(self, scope: Scope) -> Response | None:
        """A request under the API that is no operation: 405 (raised) for a known path and a wrong method,
        a redirect for a trailing slash too many or too few, else None (Starlette's 404)."""
        path = route_path(scope)
        allowed = self.operations.allowed(path)
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        if path in ("", "/"):
            return None
        if not self.operations.allowed(path[:-1] if path.endswith("/") else f"{path}/"):
            return None
        full = scope["path"]
        return RedirectResponse(URL(scope={**scope, "path": full[:-1] if full.endswith("/") else f"{full}/"}))

    async def _render(self, request: Request, exc: Exception) -> Response:
        response = await self.error_response(request, exc)
        exc.__traceback__ = None  # an exception object raised again later must not pile up frames
        return response


class _RecordingSend:
    """One request's `send`: as the response starts, adds the fault's and the OpenAI headers and has the
    journal record the request with its status, before the client can have its answer.

    An object rather than a closure: the request's state lives in slots, not in cells that every
    access in the pipeline would go through.
    """

    __slots__ = ("call", "journal", "scope", "send")

    def __init__(self, send: Send, scope: Scope, call: Call, journal: Journal | None) -> None:
        self.send = send
        self.scope = scope
        self.call = call
        self.journal = journal

    async def __call__(self, message: Message) -> None:
        call = self.call
        if message["type"] == "http.response.start" and not call.answered:
            call.answered = True
            # A new list in the message, as Starlette's middleware does: a response may keep its own.
            message["headers"] = [
                *message.get("headers", ()),
                *call.added,
                *openai_headers(call.request_id, call.started),
            ]
            if self.journal is not None:
                written = self.record(message["status"])
                if written is not None:  # a shared store: stored with this loop turn's others
                    await written
        await self.send(message)

    def record(self, status: int) -> Awaitable[None] | None:
        assert self.journal is not None
        call = self.call
        latency_ms = (time.perf_counter() - call.started) * 1000
        return self.journal.record(
            self.scope,
            status,
            call.arrived,
            call.request_id,
            call.fault,
            body=call.body,
            uploads=call.uploads,
            latency_ms=latency_ms,
        )
