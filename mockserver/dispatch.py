"""The contract's operations, answered without Starlette's Router: path template -> method -> handler.

On the poll path Starlette's routing cost more than the handler: the Router tries every route in
turn, and each endpoint runs inside `request_response` and two layers of exception handling, each
wrapping `send`. `OperationDispatcher` is compiled at start-up from the same table the Router's
API routes are built from and sits innermost in the middleware, so auth, faults, the journal and
the OpenAI headers apply exactly as before. It answers only exact hits, a request the Router
would hand to one of those routes (the same regexes, in the same order, literal paths first);
everything else goes on to the Router unchanged: the control API, /openapi.*, unknown paths (404),
a wrong method (405 with Allow), trailing-slash redirects, requests under a root_path.

An exception a handler raises is rendered by the handler the app registered for its class, looked
up the way Starlette does (the exception's MRO), so an error reads the same whichever way it came.
An exception with no handler propagates to Starlette's ServerErrorMiddleware, as before.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Generic, Mapping, TypeVar

from starlette.convertors import Convertor, StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
V = TypeVar("V")  # what an operation maps to: a handler here, a label for a dialect's middleware


class _Template(Generic[V]):
    """One path template of one method: its regex and, when not plain strings, its converters."""

    __slots__ = ("regex", "convertors", "handler")

    def __init__(self, path: str, handler: V) -> None:
        regex, _, convertors = compile_path(path)
        self.regex: re.Pattern[str] = regex
        # Plain `{name}` parameters need no conversion; skip the loop for them.
        plain = all(type(c) is StringConvertor for c in convertors.values())
        self.convertors: dict[str, Convertor[object]] | None = None if plain else convertors
        self.handler = handler


class _MethodTable(Generic[V]):
    """The operations of one method, in the Router's order: literal paths, then templates."""

    __slots__ = ("literal", "templates")

    def __init__(self) -> None:
        self.literal: dict[str, V] = {}
        self.templates: list[_Template[V]] = []


OperationTables = dict[str, _MethodTable[V]]


def compile_operations(operations: Mapping[str, Mapping[str, V]]) -> OperationTables[V]:
    """`{"/v1/videos/{video_id}": {"GET": handler, ...}, ...}` -> method -> table.

    The order of `operations` is the Router's order; a GET serves HEAD too, as a Starlette Route does.
    """
    tables: OperationTables[V] = {}
    for path, methods in operations.items():
        for method, handler in methods.items():
            for served in (method, "HEAD") if method == "GET" else (method,):
                table = tables.setdefault(served, _MethodTable())
                if "{" in path:
                    table.templates.append(_Template(path, handler))
                elif path not in table.literal:
                    table.literal[path] = handler
    return tables


def match_operation(tables: OperationTables[V], method: str, path: str) -> tuple[V, dict[str, Any]] | None:
    """What `method path` maps to, with its path parameters; None when no operation matches."""
    table = tables.get(method)
    if table is None:
        return None
    handler = table.literal.get(path)
    if handler is not None:
        return handler, {}
    for template in table.templates:
        found = template.regex.match(path)
        if found is not None:
            params: dict[str, Any] = found.groupdict()
            if template.convertors is not None:
                params = {name: template.convertors[name].convert(value) for name, value in params.items()}
            return template.handler, params
    return None


class OperationDispatcher:
    """Pure ASGI: runs the handler of a matched operation; anything else goes on to `app` (the Router)."""

    def __init__(
        self,
        app: ASGIApp,
        operations: Mapping[str, Mapping[str, Handler]],
        error_handlers: Mapping[type[Exception], ErrorHandler],
    ) -> None:
        self.app = app
        self.tables = compile_operations(operations)
        self.error_handlers = dict(error_handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A root_path changes what the Router matches against; leave those requests to it.
        hit = match_operation(self.tables, scope["method"], scope["path"]) if scope["type"] == "http" and not scope.get("root_path") else None
        if hit is None:
            await self.app(scope, receive, send)
            return
        handler, params = hit
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except Exception as exc:
            render = self._error_handler(exc)
            if render is None:
                raise
            response = await render(request, exc)
            exc.__traceback__ = None  # an exception object raised again later must not pile up frames
        await response(scope, receive, send)

    def _error_handler(self, exc: Exception) -> ErrorHandler | None:
        for cls in type(exc).__mro__:
            render = self.error_handlers.get(cls)
            if render is not None:
                return render
        return None
