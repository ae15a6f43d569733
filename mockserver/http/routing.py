"""The one routing table of the video API: which contract operation a request is, or why none is.

Compiled once from the contract's operations (literal paths before templates, so /videos/edits is
not a video called "edits"; a GET serves HEAD). The request pipeline answers every request under
the API from this table: the operation's handler, 405 with Allow for a known path and a wrong
method, a redirect for a trailing slash too many or too few. Starlette's Router has only the
control API and /openapi.*; it answers 404 for whatever neither knows.

Starlette's own path compiler makes the regexes, so `{video_id}` matches as a Starlette Route would.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from starlette.convertors import Convertor, StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

if TYPE_CHECKING:
    from mockserver.http.pipeline import Call

Handler = Callable[[Request, "Call"], Awaitable[Response]]


class Endpoint(NamedTuple):
    """One operation of the contract as this server serves it."""

    label: str  # "GET /videos/{video_id}": how dialects name it
    handler: Handler | None  # None: the contract has it and this server does not (a 404)


class _Template:
    """One path template of one method: its regex and, when not plain strings, its converters."""

    __slots__ = ("convertors", "depth", "endpoint", "regex")

    def __init__(self, path: str, endpoint: Endpoint) -> None:
        self.depth = path.count("/")  # a plain parameter is one segment: only paths this deep can match
        regex, _, convertors = compile_path(path)
        self.regex: re.Pattern[str] = regex
        # Plain `{name}` parameters need no conversion; skip the loop for them.
        plain = all(type(c) is StringConvertor for c in convertors.values())
        self.convertors: dict[str, Convertor[object]] | None = None if plain else convertors
        self.endpoint = endpoint

    def match(self, path: str) -> dict[str, Any] | None:
        found = self.regex.match(path)
        if found is None:
            return None
        params: dict[str, Any] = found.groupdict()
        if self.convertors is not None:
            params = {name: self.convertors[name].convert(value) for name, value in params.items()}
        return params


class _MethodTable:
    """The operations of one method: literal paths, then templates (by depth when all are plain)."""

    __slots__ = ("by_depth", "literal", "templates")

    def __init__(self) -> None:
        self.literal: dict[str, Endpoint] = {}
        self.templates: list[_Template] = []
        # The templates by depth, in order, when all their parameters are plain (one segment each):
        # a poll then tries one regex, not every template of its method. None: try them all.
        self.by_depth: dict[int, list[_Template]] | None = None

    def index(self) -> None:
        if all(template.convertors is None for template in self.templates):
            self.by_depth = {}
            for template in self.templates:
                self.by_depth.setdefault(template.depth, []).append(template)

    def match(self, path: str) -> tuple[Endpoint, dict[str, Any]] | None:
        endpoint = self.literal.get(path)
        if endpoint is not None:
            return endpoint, {}
        templates = self.templates if self.by_depth is None else self.by_depth.get(path.count("/"), ())
        for template in templates:
            params = template.match(path)
            if params is not None:
                return template.endpoint, params
        return None


class OperationTable:
    def __init__(self, operations: Iterable[tuple[str, str, Endpoint]]) -> None:
        """`operations`: (method, full path template, endpoint), literal paths first."""
        self._methods: dict[str, _MethodTable] = {}
        # Each served path with its methods, in order: a wrong method gets the Allow of the first path
        # that matches, as a Starlette Router of one Route per path would say.
        self._paths: dict[str, tuple[re.Pattern[str] | None, list[str]]] = {}
        for method, path, endpoint in operations:
            for served in (method, "HEAD") if method == "GET" else (method,):
                table = self._methods.setdefault(served, _MethodTable())
                if "{" in path:
                    table.templates.append(_Template(path, endpoint))
                elif path not in table.literal:
                    table.literal[path] = endpoint
                if endpoint.handler is not None:
                    regex = compile_path(path)[0] if "{" in path else None
                    self._paths.setdefault(path, (regex, []))[1].append(served)
        for table in self._methods.values():
            table.index()

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, Any]] | None:
        """What `method path` is, with its path parameters; None when no operation matches."""
        table = self._methods.get(method)
        return None if table is None else table.match(path)

    def allowed(self, path: str) -> list[str]:
        """The methods served on `path` (for a 405's Allow); [] for a path no operation has."""
        for template, (regex, methods) in self._paths.items():
            if (regex.match(path) is not None) if regex is not None else template == path:
                return methods
        return []


def route_path(scope: Scope) -> str:
    """The path the table matches: the request's, without the ASGI root_path it was mounted under."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path
