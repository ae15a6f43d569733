"""The Profile interface: one real-world dialect as a documented transform of the reference behaviour.

A profile never decides *what happens* to a job (lifecycle, ownership, timing and outcomes stay
the server's); it only changes *how the server says it*:

- ``spec``          the contract the dialect implies (``docs`` serves openapi/docs.yaml);
- ``status_names``  phase -> word overrides on top of the contract's own Vocabulary;
- ``new_id``        the id format;
- ``video``         the Video document after the reference shape is built (add/drop/rename fields);
- ``error``         the error response (status and body) after the reference envelope is built.

The server calls these hooks in one place each (mockserver/app.py: ``Server``), so a dialect is
read top to bottom in its own module rather than found in branches spread through the handlers.
"""

from __future__ import annotations

import contextvars
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.config import ConfigError
from mockserver.contract import Vocabulary
from mockserver.ids import IdFactory
from mockserver.jobs import Job, JobState, Phase

Document = dict[str, Any]


class ProfileError(ConfigError):
    """An unknown profile or a bad profile option; `serve` prints it and exits 2."""


@dataclass(frozen=True)
class RenderContext:
    """What a transform may need from the request being answered."""

    origin: str  # scheme://host[:port] as the client addressed us, for absolute URLs in bodies
    base_path: str  # the contract's base path, e.g. /v1

    def content_url(self, video_id: str) -> str:
        return f"{self.origin}{self.base_path}/videos/{video_id}/content"


_origin: contextvars.ContextVar[str] = contextvars.ContextVar("mockserver_request_origin", default="http://127.0.0.1")


def request_origin() -> str:
    return _origin.get()


class RequestOriginMiddleware:
    """Remember the scheme and Host of the current request, for dialects that put URLs in bodies.

    Pure ASGI and a context variable: the Video renderer is called far from the request object,
    and every request runs in its own task, so the value never leaks between requests.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
            if host is None and scope.get("server"):
                name, port = scope["server"]
                host = f"{name}:{port}"
            _origin.set(f"{scope.get('scheme', 'http')}://{host or '127.0.0.1'}")
        await self.app(scope, receive, send)


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


class ProfileIds:
    """The server's id source with the profile's id format; service.py keeps calling `.new(prefix)`."""

    def __init__(self, factory: IdFactory, profile: Profile) -> None:
        self.factory = factory
        self.profile = profile

    @property
    def seed(self) -> int | None:
        return self.factory.seed

    def new(self, prefix: str) -> str:
        return self.profile.new_id(self.factory, prefix)

    def reset(self) -> None:
        self.factory.reset()


def drop_param(body: Document) -> Document:
    """`{"error": {message, type, code}}` without `param`, as several gateways' docs show it."""
    error = body.get("error")
    if not isinstance(error, dict):
        return body
    return {**body, "error": {k: v for k, v in error.items() if k != "param"}}


def hex_part(ids: IdFactory, prefix: str = "x") -> str:
    """The random (or seeded) 32 hex digits of a reference id, to build another format from."""
    return ids.new(prefix).rpartition("_")[2]
