"""Which contract operation a request is, without Starlette's Router: path template -> method -> value.

On the poll path Starlette's routing cost more than the handler: the Router tries every route in
turn, and each endpoint runs inside `request_response` and two layers of exception handling. The
tables here are compiled once from the same operations the Router's API routes are built from, and
match the same way (the same regexes, in the same order, literal paths first; a GET serves HEAD),
so a request is the same operation whichever looks at it. The request pipeline answers the hits;
anything else goes on to the Router unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from starlette.convertors import Convertor, StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

Handler = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
V = TypeVar("V")  # what an operation maps to (the pipeline: its label and handler)


class _Template(Generic[V]):
    """One path template of one method: its regex and, when not plain strings, its converters."""

    __slots__ = ("convertors", "depth", "handler", "regex")

    def __init__(self, path: str, handler: V) -> None:
        self.depth = path.count("/")  # a plain parameter is one segment: only paths this deep can match
        regex, _, convertors = compile_path(path)
        self.regex: re.Pattern[str] = regex
        # Plain `{name}` parameters need no conversion; skip the loop for them.
        plain = all(type(c) is StringConvertor for c in convertors.values())
        self.convertors: dict[str, Convertor[object]] | None = None if plain else convertors
        self.handler = handler


class _MethodTable(Generic[V]):
    """The operations of one method, in the Router's order: literal paths, then templates."""

    __slots__ = ("by_depth", "literal", "templates")

    def __init__(self) -> None:
        self.literal: dict[str, V] = {}
        self.templates: list[_Template[V]] = []
        # The templates by depth, in order, when all their parameters are plain (one segment each):
        # a poll then tries one regex, not every template of its method. None: try them all.
        self.by_depth: dict[int, list[_Template[V]]] | None = None

    def index(self) -> None:
        if all(template.convertors is None for template in self.templates):
            self.by_depth = {}
            for template in self.templates:
                self.by_depth.setdefault(template.depth, []).append(template)


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
    for table in tables.values():
        table.index()
    return tables


def match_operation(tables: OperationTables[V], method: str, path: str) -> tuple[V, dict[str, Any]] | None:
    """What `method path` maps to, with its path parameters; None when no operation matches."""
    table = tables.get(method)
    if table is None:
        return None
    handler = table.literal.get(path)
    if handler is not None:
        return handler, {}
    templates = table.templates if table.by_depth is None else table.by_depth.get(path.count("/"), ())
    for template in templates:
        found = template.regex.match(path)
        if found is not None:
            params: dict[str, Any] = found.groupdict()
            if template.convertors is not None:
                params = {name: template.convertors[name].convert(value) for name, value in params.items()}
            return template.handler, params
    return None
