"""The request journal: the last N API requests, so a test can assert what its application sent.

Each entry holds method, path, query, headers (API keys masked, the admin token never shown), the
body as the handler parsed it (form fields or JSON; uploads as filename, type, size and sha256,
never their bytes), the response status, and the fingerprint of the caller's key so that a test
sharing a server can filter its own requests. The request pipeline hands over the body the handler
parsed (see inputs.parse_body); the journal never reads or parses a body itself.
Control-API calls (`/__mock/...`) are not journaled.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, cast
from urllib.parse import parse_qs

from starlette.types import Scope

from mockserver.core.keys import ANONYMOUS, caller, is_credential_header, mask
from mockserver.core.throttle import LogThrottle
from mockserver.store import Store
from mockserver.store.base import SharedStore
from mockserver.store.cached import CachedStore

log = logging.getLogger("mockserver")
_THROTTLE = LogThrottle()

DEFAULT_JOURNAL_SIZE = 1000


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
    owner: str  # fingerprint of the API key (`mockserver.core.keys.owner_of`), or "anonymous"
    key: str | None  # the key masked, e.g. "sk-...abcd"
    request_id: str | None
    fault: str | None  # the id of the injected fault that answered or delayed it
    latency_ms: float | None = None  # arrival to the response's start; None for a webhook call

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is slower, and one is made per request
class RawEntry:
    """What the request pipeline saw, before masking and decoding: cheap to take on the hot path.

    The journal's own ring (a memory store) keeps their fields as they are, turned into entries
    when read, so a busy server pays for masking only when a test looks. A shared store gets the
    masked entry at once: nothing unmasked ever leaves the process. Nothing changes one after it
    is made.
    """

    seq: int
    time: float
    virtual_time: float
    method: str
    path: str
    query: bytes
    headers: Sequence[tuple[bytes, bytes]]  # the ASGI list as the server made it
    body: dict[str, Any] | None
    uploads: dict[str, dict[str, Any]] | None  # None rather than an empty dict kept per entry
    status: int
    request_id: str | None
    fault: str | None
    latency_ms: float

    def entry(self, admin_token: str | None, salt: str) -> Entry:
        headers, owner, key = _masked_headers(self.headers, admin_token, salt)
        return Entry(
            seq=self.seq,
            time=self.time,
            virtual_time=self.virtual_time,
            method=self.method,
            path=self.path,
            query=_query(self.query),
            headers=headers,
            body=self.body,
            uploads={name: dict(upload) for name, upload in (self.uploads or {}).items()},
            status=self.status,
            owner=owner,
            key=key,
            request_id=self.request_id,
            fault=self.fault,
            latency_ms=self.latency_ms,
        )


_UNNUMBERED_FIELDS = tuple(f.name for f in fields(Entry) if f.name != "seq")


class Journal:
    """The newest `size` entries, kept in the store (kind `journal`), so every worker's requests are in it.

    A store no other process reads (`memory:`) does not need them: there the entries live in a ring
    of this object's own. An entry is written on every request, and a keyed, ordered document per
    entry (a key string, a node, a lock taken) would cost the poll path.
    """

    KIND = "journal"

    def __init__(
        self, store: Store, size: int = DEFAULT_JOURNAL_SIZE, admin_token: str | None = None, *, salt: str
    ) -> None:
        if size < 0:
            raise ValueError("journal size must be >= 0")
        self.store = store
        self.salt = salt  # of key fingerprints (core/keys.owner_of)
        self.size = size
        self.admin_token = admin_token
        # The ring holds RawEntry fields as plain tuples, and Entry objects (webhook deliveries).
        self._ring: deque[Entry | tuple[Any, ...]] | None = None if store.shared else deque(maxlen=size)
        self._numbers = itertools.count(1)  # the ring's sequence numbers (a shared store counts its own)

    def append(self, entry: Entry) -> None:
        """An entry made elsewhere (a webhook delivery); its `seq` is given here, after the others'."""
        if not self.size:
            return
        if self._ring is not None:
            self._ring.append(replace(entry, seq=next(self._numbers)))
            return
        cast(SharedStore, self.store).append_numbered(self.KIND, [_unnumbered(entry)], keep=self.size)

    def record(
        self,
        scope: Scope,
        status: int,
        started: tuple[float, float],
        request_id: str,
        fault: str | None,
        *,
        body: dict[str, Any] | None = None,
        uploads: dict[str, dict[str, Any]] | None = None,
        latency_ms: float = 0.0,
    ) -> Awaitable[None] | None:
        """One API request as its response starts; `started` is (wall, virtual) time when it arrived.

        `body` and `uploads` are what the handler parsed (the journal never reads a body itself).

        The request pipeline calls this before the response goes out, and with a shared store awaits
        what it returns (the entry, written with the others of this loop turn), so a client that has
        its answer finds the request here, whichever worker it asks. A store that fails to take the
        entry costs the entry, not the response: the request was handled (a job may exist).
        """
        if not self.size:
            return None
        try:
            # A RawEntry's fields, in order. The server's header list is kept, not copied: it is made
            # for this request and nothing changes it after (the pipeline and handlers only read it).
            fields = (
                next(self._numbers) if self._ring is not None else 0,  # a shared store numbers its own
                started[0],
                started[1],
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                scope.get("headers", ()),
                body,
                uploads or None,
                status,
                request_id,
                fault,
                round(latency_ms, 3),
            )
            if self._ring is not None:
                # A plain tuple: this runs on every request, where each call and object made costs
                # poll throughput. Masked when read.
                self._ring.append(fields)  # deque.append is atomic: no lock
                return None
            # Nothing unmasked leaves the process.
            doc = _unnumbered(RawEntry(*fields).entry(self.admin_token, self.salt))
            if isinstance(self.store, CachedStore):
                return self._written(self.store.append_soon(self.KIND, doc, keep=self.size), scope)
            cast(SharedStore, self.store).append_numbered(self.KIND, [doc], keep=self.size)
        except Exception as error:  # a store that fails (or a bug) costs the entry, never the answer
            _lost(scope, error)
        return None

    async def _written(self, written: Awaitable[int], scope: Scope) -> None:
        try:
            await written
        except Exception as error:
            _lost(scope, error)

    def _entries(self) -> list[Entry]:
        return self._entries_of(list(self._ring) if self._ring is not None else self.store.docs(self.KIND))

    def _entries_of(self, records: Iterable[Any]) -> list[Entry]:
        entries = []
        for record in records:
            if type(record) is tuple:
                entries.append(RawEntry(*record).entry(self.admin_token, self.salt))
            elif isinstance(record, Entry):
                entries.append(record)
            else:
                entries.append(Entry(**record))
        return entries

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
        selected = [
            e
            for e in self._entries()
            if (path is None or e.path == path or fnmatch.fnmatchcase(e.path, path))
            and (method is None or e.method == method.upper())
            and (owner is None or e.owner == owner)
            and (status is None or e.status == status)
        ]
        return selected[-limit:] if limit else selected

    def reset(self) -> None:
        """Empty, numbering from 1 again (a server reset; a shared store was cleared with the rest)."""
        if self._ring is not None:
            self._ring.clear()
            self._numbers = itertools.count(1)

    def clear(self, owner: str | None = None) -> int:
        """Forget every entry, or those of one owner; returns how many went."""
        if self._ring is None:
            if owner is None:
                return self.store.delete_docs(self.KIND)
            return self.store.delete_docs(self.KIND, [str(e.seq) for e in self._entries() if e.owner == owner])
        before = list(self._ring)
        pairs = zip(before, self._entries_of(before), strict=True)
        kept = [] if owner is None else [record for record, entry in pairs if entry.owner != owner]
        self._ring.clear()
        self._ring.extend(kept)
        return len(before) - len(kept)


def _unnumbered(entry: Entry) -> dict[str, Any]:
    # Shallow, unlike asdict's deep copy (made on every request with a shared store): the store
    # encodes it at once, and nothing changes an entry's parts after it is made.
    return {name: getattr(entry, name) for name in _UNNUMBERED_FIELDS}


def _lost(scope: Scope, error: Exception) -> None:
    held_back = _THROTTLE.allow("journal")
    if held_back is not None:
        log.error(
            "journal entry for %s %s lost: %s (%d more lost since the last line)",
            scope["method"],
            scope["path"],
            error,
            held_back,
        )


def _masked_headers(
    raw: Iterable[tuple[bytes, bytes]], admin_token: str | None, salt: str
) -> tuple[dict[str, str], str, str | None]:
    headers: dict[str, str] = {}
    owner, key = ANONYMOUS, None
    for name_bytes, value_bytes in raw:
        name, value = name_bytes.decode("latin-1").lower(), value_bytes.decode("latin-1")
        if is_credential_header(name):
            scheme, _, token = value.partition(" ")
            secret = token.strip() if scheme.lower() == "bearer" else value.strip()
            if admin_token and secret == admin_token:
                value = f"{scheme} ***" if token else "***"  # the admin token is never shown, not even in part
            elif name == "authorization" and (found := caller(value_bytes, salt)) is not None:
                owner, key = found.owner, mask(found.key)
                value = f"Bearer {key}"
            else:
                value = mask(value)
        headers[name] = value if name not in headers else f"{headers[name]}, {value}"
    return headers, owner, key


def _query(raw: bytes) -> dict[str, list[str]]:
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}
