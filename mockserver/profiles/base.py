"""The Profile interface: one real-world dialect as a documented transform of the reference behaviour.

A profile never decides *what happens* to a job (lifecycle, ownership, timing and outcomes stay
the server's); it only changes *how the server says it*:

- ``spec``          the contract the dialect implies (``docs`` serves openapi/docs.yaml);
- ``status_names``  phase -> word overrides on top of the contract's own Vocabulary;
- ``new_id``        the id format;
- ``video``         the Video document after the reference shape is built (add/drop/rename fields);
- ``error``         the error response (status and body) after the reference envelope is built;
- ``unserved``      operations of the contract the dialect does not have, answered as ``unknown_route``;
- ``response_headers`` headers the dialect adds to a response.

The server calls these hooks in one place each (mockserver/http/app.py: ``Server``; the last two
in mockserver/http/pipeline.py, with the helpers below), so a dialect is read top to bottom in its own
module rather than found in branches spread through the handlers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.types import Message, Scope, Send

from mockserver.contract.loading import Vocabulary
from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState, Phase

Document = dict[str, Any]


class ProfileError(ValueError):
    """An unknown profile or a bad profile option; `serve` prints it and exits 2."""


@dataclass(frozen=True)
class RenderContext:
    """What a transform may need from the request being answered."""

    origin: str  # scheme://host[:port] as the client addressed us, for absolute URLs in bodies
    base_path: str  # the contract's base path, e.g. /v1

    def content_url(self, video_id: str) -> str:
        return f"{self.origin}{self.base_path}/videos/{video_id}/content"


def request_origin(scope: Scope) -> str:
    """scheme://host[:port] as the client addressed the request being answered (`scope`)."""
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
    if host is None and scope.get("server"):
        name, port = scope["server"]
        host = f"{name}:{port}"
    return f"{scope.get('scheme', 'http')}://{host or '127.0.0.1'}"


def with_dialect_headers(send: Send, profile: Profile, operation: str) -> Send:
    """`send`, adding the dialect's headers to the response of `operation` ("POST /videos").

    A response is only buffered for the operations a profile names in `headers_need_body` (small
    JSON bodies), never a download.
    """
    held: list[Message] = []
    buffer = operation in profile.headers_need_body

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start" and not buffer:
            extra = profile.response_headers(operation, message["status"], None)
            message = {**message, "headers": [*message.get("headers", []), *_encode(extra)]}
        elif buffer and message["type"] in ("http.response.start", "http.response.body"):
            held.append(message)
            if message["type"] == "http.response.start" or message.get("more_body"):
                return
            start, chunks = held[0], held[1:]
            data = b"".join(m.get("body", b"") for m in chunks)
            try:
                body = json.loads(data) if data else None
            except ValueError:
                body = None
            extra = profile.response_headers(operation, start["status"], body if isinstance(body, dict) else None)
            await send({**start, "headers": [*start.get("headers", []), *_encode(extra)]})
            message = {"type": "http.response.body", "body": data}
        await send(message)

    return send_with_headers


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_json(send: Send, status: int, body: Document) -> None:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class Profile:
    """The reference behaviour; every hook is the identity. Dialects subclass and override."""

    name: ClassVar[str] = "reference"
    summary: ClassVar[str] = "the contract as written: no deviations"
    # One line per deviation, for `mockserver profiles --verbose` and the README.
    changes: ClassVar[tuple[str, ...]] = ()
    # Where the deviations come from (a source file, a docs page), so a reader can check them.
    source: ClassVar[str] = "openapi/reference.yaml"
    spec: ClassVar[str | None] = None
    status_names: ClassVar[Mapping[Phase, str]] = {}
    # name -> help text; values arrive as strings from `--profile-option NAME=VALUE` or the config file.
    options: ClassVar[Mapping[str, str]] = {}
    # Operations of the contract, as (METHOD, path template), that the dialect does not have.
    unserved: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    # Operations ("POST /videos") whose JSON response body `response_headers` needs (it is buffered).
    headers_need_body: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ProfileError(f"profile {self.name!r} has no option {', '.join(unknown)} (its options: {known})")
        self.option_values = {name: str(value) for name, value in options.items()}

    def __repr__(self) -> str:
        return f"<Profile {self.name} {self.option_values or ''}>".replace(" >", ">")

    def flag(self, name: str) -> bool:
        value = self.option_values.get(name, "false").strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ProfileError(f"profile option {name} must be true or false, got {value!r}")

    # -- hooks ------------------------------------------------------------------------------

    def contract_name(self, configured: str) -> str:
        """The contract to load: the dialect's own, unless the user chose one other than the default."""
        if self.spec is not None and configured == "reference":
            return self.spec
        return configured

    def vocabulary(self, base: Vocabulary) -> Vocabulary:
        if not self.status_names:
            return base
        return dataclasses.replace(base, status_names={**base.status_names, **self.status_names})

    def new_id(self, ids: IdFactory, prefix: str) -> str:
        return ids.new(prefix)

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        return doc

    def error(self, status: int, body: Document, *, method: str, path: str) -> tuple[int, Document]:
        return status, body

    def unknown_route(self, method: str, path: str) -> tuple[int, Document]:
        """The answer to an `unserved` operation: the reference server's own 404 for an unknown path."""
        message = f"Unknown path {path}: this dialect has no {method} on it."
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "unknown_url"}}
        return self.error(404, body, method=method, path=path)

    @property
    def adds_headers(self) -> bool:
        return type(self).response_headers is not Profile.response_headers

    def response_headers(self, operation: str, status: int, body: Document | None) -> list[tuple[str, str]]:
        """Headers the dialect adds to a response of `operation` ("GET /videos/{video_id}/content")."""
        return []


class ProfileIds:
    """The server's id source with the profile's id format (an IdSource, as the videos service needs)."""

    def __init__(self, factory: IdFactory, profile: Profile) -> None:
        self.factory = factory
        self.profile = profile

    def new(self, prefix: str) -> str:
        return self.profile.new_id(self.factory, prefix)


def drop_param(body: Document) -> Document:
    """`{"error": {message, type, code}}` without `param`, as several gateways' docs show it."""
    error = body.get("error")
    if not isinstance(error, dict):
        return body
    return {**body, "error": {k: v for k, v in error.items() if k != "param"}}


def hex_part(ids: IdFactory, prefix: str = "x") -> str:
    """The random (or seeded) 32 hex digits of a reference id, to build another format from."""
    return ids.new(prefix).rpartition("_")[2]
