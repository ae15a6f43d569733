"""The request journal: the last N API requests, so a test can assert what its application sent.

Each entry holds method, path, query, headers (API keys masked, the admin token never shown), the
body as the handler parsed it (form fields or JSON; uploads as filename, type, size and sha256,
never their bytes), the response status, and the fingerprint of the caller's key so that a test
sharing a server can filter its own requests. The handlers leave the parsed body on
`scope["state"]` (see inputs.parse_body); the journal never reads or parses a body itself.
Control-API calls (`/__mock/...`) are not journaled.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.auth import mask
from mockserver.config import DEFAULT_JOURNAL_SIZE
from mockserver.faults import ANONYMOUS, CONTROL_PREFIX
from mockserver.service import owner_of

# Headers that carry a credential in some client or gateway; their values are masked.
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})
STATE_BODY = "journal_body"  # scope["state"] keys the handlers fill in
STATE_UPLOADS = "journal_uploads"


@dataclass(frozen=True)
class Entry:
    seq: int
    time: float  # real wall-clock seconds
    virtual_time: float  # the server clock, as jobs saw it
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any] | None
    uploads: dict[str, dict[str, Any]]
    status: int
    owner: str  # fingerprint of the API key (`mockserver.service.owner_of`), or "anonymous"
    key: str | None  # the key masked, e.g. "sk-...abcd"
    request_id: str | None
    fault: str | None  # the id of the injected fault that answered or delayed it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """A bounded ring buffer; appends and reads are cheap and thread-safe."""

    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE) -> None:
        if size < 0:
            raise ValueError("journal size must be >= 0")
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def next_seq(self) -> int:
        return next(self._seq)

    def append(self, entry: Entry) -> None:
        if self.size:
            with self._lock:
                self._entries.append(entry)

    def find(
        self,
        *,
        path: str | None = None,
        method: str | None = None,
        owner: str | None = None,
        status: int | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Oldest first. `path` may be a glob (`/v1/videos/*`); `limit` keeps the newest N."""
        with self._lock:
            entries = list(self._entries)
        selected = [
            e
            for e in entries
            if (path is None or e.path == path or fnmatch.fnmatchcase(e.path, path))
            and (method is None or e.method == method.upper())
            and (owner is None or e.owner == owner)
            and (status is None or e.status == status)
        ]
        return selected[-limit:] if limit else selected

    def clear(self, owner: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            if owner is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.owner != owner]
                self._entries.clear()
                self._entries.extend(kept)
            return before - len(self._entries)


def _masked_headers(raw: Iterable[tuple[bytes, bytes]], admin_token: str | None) -> tuple[dict[str, str], str, str | None]:
    headers: dict[str, str] = {}
    owner, key = ANONYMOUS, None
    for name_bytes, value_bytes in raw:
        name, value = name_bytes.decode("latin-1").lower(), value_bytes.decode("latin-1")
        if name in SECRET_HEADERS:
            scheme, _, token = value.partition(" ")
            secret = token.strip() if scheme.lower() == "bearer" else value.strip()
            if admin_token and secret == admin_token:
                value = f"{scheme} ***" if token else "***"  # the admin token is never shown, not even in part
            elif name == "authorization" and scheme.lower() == "bearer" and secret:
                owner, key = owner_of(secret), mask(secret)
                value = f"Bearer {key}"
            else:
                value = mask(value)
        headers[name] = value if name not in headers else f"{headers[name]}, {value}"
    return headers, owner, key


def _query(raw: bytes) -> dict[str, list[str]]:
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}


class JournalMiddleware:
    """Pure ASGI: records each API request once its response has started (or failed)."""

    def __init__(self, app: ASGIApp, journal: Journal, virtual_now: Callable[[], float], admin_token: str | None = None) -> None:
        self.app = app
        self.journal = journal
        self.virtual_now = virtual_now
        self.admin_token = admin_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX) or not self.journal.size:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        started_real, started_virtual = time.time(), self.virtual_now()
        status = 500  # what the client sees if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            headers, owner, key = _masked_headers(scope.get("headers", ()), self.admin_token)
            uploads = state.get(STATE_UPLOADS) or {}
            self.journal.append(
                Entry(
                    seq=self.journal.next_seq(),
                    time=started_real,
                    virtual_time=started_virtual,
                    method=scope["method"],
                    path=scope["path"],
                    query=_query(scope.get("query_string", b"")),
                    headers=headers,
                    body=state.get(STATE_BODY),
                    uploads={name: dict(upload) for name, upload in uploads.items()},
                    status=status,
                    owner=owner,
                    key=key,
                    request_id=state.get("request_id"),
                    fault=state.get("fault"),
                )
            )
