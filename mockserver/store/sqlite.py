"""`sqlite:///path/to/file.db`: state in one file that survives restarts and is shared by the workers of one host.

The file is in WAL mode, so readers never wait for the writer and several processes may write:
each write is one short transaction, and a writer that finds the file busy waits (up to
BUSY_TIMEOUT_SECONDS) rather than failing with "database is locked". WAL relies on shared memory
between processes, which is why one host is the limit: never put the file on a network filesystem.

Jobs keep their row after a delete (body NULL, a tombstone), so a deleted id still works as a page
cursor; a job's `due` column holds its finish time until it has been announced (claimed) once.
Documents carry a global `seq` in insertion order, which an upsert keeps, so a replaced document
keeps its place. Partial indexes make a page cost O(limit) and a claim O(claimed), not O(jobs).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mockserver.core.jobs import Job
from mockserver.core.jsonbody import dumps_text
from mockserver.store.base import (
    BACKEND_METHODS,
    Page,
    StoreError,
    T,
    Updater,
    finish_time,
    job_from_json,
    job_to_json,
)

_F = TypeVar("_F", bound=Callable[..., Any])
RIGHT_FORM = "sqlite:///path/to/file.db (three slashes, then the path; four for an absolute path)"
# Long enough for several workers queueing behind one another's short transactions.
BUSY_TIMEOUT_SECONDS = 10.0

# Each step takes the schema from version N to N+1 (PRAGMA user_version). A later release appends a
# step and never edits an old one, so every file, however old, is brought up to date in order.
# Plain CREATE (no IF NOT EXISTS): a step that ran twice would fail loudly instead of hiding a race.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY,  -- creation order (an alias of the rowid)
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            body TEXT,                -- the job as JSON; NULL once deleted, the row stays as a cursor
            due REAL                  -- finish time until announced by claim_due, then NULL
        )""",
        "CREATE INDEX jobs_by_owner ON jobs (owner, seq) WHERE body IS NOT NULL",
        "CREATE INDEX jobs_by_due ON jobs (due) WHERE due IS NOT NULL",
        """CREATE TABLE docs (
            seq INTEGER PRIMARY KEY,  -- insertion order; an upsert keeps it
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (kind, id)
        )""",
        "CREATE INDEX docs_by_kind ON docs (kind, seq)",
        # How many documents each kind holds, kept by triggers so every path (put, update, delete,
        # clear) stays in step, and `keep` trims in O(excess) instead of counting the kind each time.
        "CREATE TABLE doc_counts (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        """CREATE TRIGGER docs_counted_in AFTER INSERT ON docs BEGIN
            INSERT INTO doc_counts (kind, n) VALUES (new.kind, 1) ON CONFLICT (kind) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER docs_counted_out AFTER DELETE ON docs BEGIN
            UPDATE doc_counts SET n = n - 1 WHERE kind = old.kind;
        END""",
        "CREATE TABLE numbers (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    ),
    (
        # SharedStore.versions: a count per document kind, moved by triggers on every path that writes
        # one; 'jobs' moves when a job is deleted (its body set to NULL); '*' moves with clear().
        # Counts may repeat nowhere, so clear() never deletes this table.
        "CREATE TABLE versions (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        """CREATE TRIGGER docs_versioned_in AFTER INSERT ON docs BEGIN
            INSERT INTO versions (name, n) VALUES (new.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER docs_versioned_changed AFTER UPDATE ON docs BEGIN
            INSERT INTO versions (name, n) VALUES (new.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER docs_versioned_out AFTER DELETE ON docs BEGIN
            INSERT INTO versions (name, n) VALUES (old.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER jobs_versioned_out AFTER UPDATE OF body ON jobs WHEN new.body IS NULL BEGIN
            INSERT INTO versions (name, n) VALUES ('jobs', 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
        END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_encode = dumps_text  # one encoder for every JSON the server writes (mockserver/jsonbody.py)
_decode = json.JSONDecoder().decode

# -- statements (sqlite3 caches each prepared statement per connection, keyed by its text) --------

_ADD = "INSERT OR REPLACE INTO jobs (id, owner, body, due) VALUES (?, ?, ?, ?)"
_GET = "SELECT body FROM jobs WHERE id = ? AND body IS NOT NULL"
_DELETE = "UPDATE jobs SET body = NULL, due = NULL WHERE id = ? AND body IS NOT NULL"
_COUNT = "SELECT count(*) FROM jobs WHERE body IS NOT NULL"
# A cursor that is not one of this owner's ids makes the comparison NULL: an empty page.
_CURSOR = "(SELECT seq FROM jobs WHERE id = ?2 AND owner = ?1)"
_PAGES = {
    (False, False): "SELECT body FROM jobs WHERE owner = ?1 AND body IS NOT NULL ORDER BY seq LIMIT ?3",
    (True, False): "SELECT body FROM jobs WHERE owner = ?1 AND body IS NOT NULL ORDER BY seq DESC LIMIT ?3",
    (
        False,
        True,
    ): f"SELECT body FROM jobs WHERE owner = ?1 AND body IS NOT NULL AND seq > {_CURSOR} ORDER BY seq LIMIT ?3",
    (
        True,
        True,
    ): f"SELECT body FROM jobs WHERE owner = ?1 AND body IS NOT NULL AND seq < {_CURSOR} ORDER BY seq DESC LIMIT ?3",
}
_RECENT = "SELECT body FROM jobs WHERE body IS NOT NULL ORDER BY seq DESC LIMIT ?"
_ANY_DUE = "SELECT 1 FROM jobs WHERE due <= ? LIMIT 1"
_DUE = "SELECT seq, id FROM jobs WHERE due <= ? ORDER BY due, seq LIMIT ?"
_CLAIM = "UPDATE jobs SET due = NULL WHERE seq = ?"
_NEXT_DUE = "SELECT due FROM jobs WHERE due IS NOT NULL ORDER BY due LIMIT 1"

_GET_DOC = "SELECT body FROM docs WHERE kind = ? AND id = ?"
_PUT_DOC = (
    "INSERT INTO docs (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body"
)
_DOC_COUNT = "SELECT n FROM doc_counts WHERE kind = ?"
_TRIM = "DELETE FROM docs WHERE seq IN (SELECT seq FROM docs WHERE kind = ? ORDER BY seq LIMIT ?)"
_DELETE_DOC = "DELETE FROM docs WHERE kind = ? AND id = ?"
_DELETE_KIND = "DELETE FROM docs WHERE kind = ?"
_DOCS = "SELECT body FROM docs WHERE kind = ? ORDER BY seq"

_NEXT_NUMBER = (
    "INSERT INTO numbers (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
)
_NEXT_NUMBERS = (
    "INSERT INTO numbers (name, value) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET value = value + ?2 RETURNING value"
)
_CLEARED = "INSERT INTO versions (name, n) VALUES ('*', 1) ON CONFLICT (name) DO UPDATE SET n = n + 1"


def _versions_query(count: int) -> str:
    return f"SELECT name, n FROM versions WHERE name IN ('*'{', ?' * count})"


def path_from_url(url: str) -> Path:
    """The absolute file path of a `sqlite:///` URL; anything else raises StoreError showing the right form."""
    if not url.startswith("sqlite:"):
        raise StoreError(f"{url!r} is not a SQLite store URL: write {RIGHT_FORM}")
    rest = url[len("sqlite:") :]
    path = rest[3:] if rest.startswith("///") else ""
    if not path and rest.strip("/"):
        raise StoreError(
            f"store URL {url!r} needs three slashes before the path: write {RIGHT_FORM}, "
            f"here sqlite:///{rest.lstrip('/')}"
        )
    if not path:
        raise StoreError(f"store URL {url!r} has no file path: write {RIGHT_FORM}")
    if path == ":memory:" or path.startswith("file:") or "?" in path:
        raise StoreError(
            f"store URL {url!r}: the SQLite store takes a plain file path, no in-memory database or options; "
            f"write {RIGHT_FORM}, or use memory: for state in this process only"
        )
    file = Path(path).absolute()  # fixed now: a later chdir must not move the store
    if not file.parent.is_dir():
        raise StoreError(
            f"store URL {url!r}: directory {str(file.parent)!r} does not exist; create it or write {RIGHT_FORM}"
        )
    if file.is_dir():
        raise StoreError(f"store URL {url!r}: {str(file)!r} is a directory; name a file in it: {RIGHT_FORM}")
    return file


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

    IMMEDIATE takes the write lock before the first read, so no other process can write between
    this transaction's reads and writes, and a busy file is waited for (the busy timeout) instead
    of failing half-way the way a read transaction upgraded to a write would in WAL mode.
    """

    __slots__ = ("db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # some errors (a full disk) have rolled back already
            self.db.execute("ROLLBACK")


# Connections must not cross a fork (SQLite's locks belong to the process that took them): a child
# forgets the ones it inherited, without closing them under its parent, and opens its own.
_open_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for store in list(_open_stores):
        store._forget_inherited()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


class SQLiteStore:
    shared = True

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self._lock = threading.Lock()  # guards the list of connections, not the database
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        # The schema version the file had when this store opened it (0: a new file); later it is SCHEMA_VERSION.
        self.found_version = self._open()
        _open_stores.add(self)

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(path_from_url(url), url)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"

    # -- connections and schema ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; a single statement commits on its own and
        # read-modify-write takes BEGIN IMMEDIATE explicitly. check_same_thread=False only so close()
        # may close every thread's connection; each connection is used by its own thread alone.
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        # NORMAL in WAL mode: a committed transaction survives a killed process (it is in the WAL
        # file the moment COMMIT returns); only a power loss or OS crash may undo the last few.
        connection.execute("PRAGMA synchronous = NORMAL")
        current = threading.current_thread()
        with self._lock:
            # Threads come and go (test threads, thread pools): close what dead threads left behind.
            alive = []
            for thread, old in self._connections:
                if thread.is_alive():
                    alive.append((thread, old))
                else:
                    old.close()
            alive.append((current, connection))
            self._connections = alive
        self._local.connection = connection
        return connection

    def _db(self) -> sqlite3.Connection:
        try:
            connection: sqlite3.Connection = self._local.connection
            return connection
        except AttributeError:
            return self._connect()

    def _open(self) -> int:
        # Processes opening a new file together can collide where SQLite does not wait: switching
        # to WAL, or upgrading a read lock to a write lock, answers "database is locked" at once
        # rather than risk a deadlock. Such an open is tried again, within the busy timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        pause = 0.005
        while True:
            try:
                return self._open_once()
            except sqlite3.OperationalError as error:
                self.close()
                if ("locked" not in str(error) and "busy" not in str(error)) or time.monotonic() + pause > deadline:
                    raise StoreError(f"cannot use {str(self.path)!r} as a mockserver SQLite store: {error}") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def _open_once(self) -> int:
        try:
            db = self._connect()
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(
                    f"{self.path}: SQLite could not switch to WAL mode (got {mode!r}); use a local, writable disk"
                )
            found = self._version(db)
            if found != SCHEMA_VERSION:
                # Several workers may open a new file at the same moment: the write lock lets one migrate
                # while the others wait, then find the schema current and do nothing.
                with _Transaction(db):
                    found = self._version(db)
                    for steps in MIGRATIONS[found:]:
                        for statement in steps:
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return found
        except sqlite3.OperationalError:
            raise  # _open decides: try again, or give up
        except sqlite3.DatabaseError as error:
            self.close()
            raise StoreError(f"cannot use {str(self.path)!r} as a mockserver SQLite store: {error}") from None
        except BaseException:
            self.close()
            raise

    def _version(self, db: sqlite3.Connection) -> int:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{str(self.path)!r} was written by a newer mockserver (store schema v{version}; this version knows "
                "up to "
                f"v{SCHEMA_VERSION}): upgrade mockserver, or point --store at another file"
            )
        return version

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for _, connection in connections:
            connection.close()

    def _forget_inherited(self) -> None:
        self._connections = []
        self._local = threading.local()
        self._lock = threading.Lock()

    # -- jobs ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._db().execute(_COUNT).fetchone()[0])

    def add(self, job: Job) -> None:
        # REPLACE: an id seen before (only possible after its tombstone, or by a caller's mistake)
        # starts again at the end of the creation order, as a new job would.
        self._db().execute(_ADD, (job.id, job.owner, _encode(job_to_json(job)), finish_time(job)))

    def add_many(self, jobs: Sequence[Job]) -> None:
        db = self._db()
        with _Transaction(db):
            db.executemany(_ADD, [(job.id, job.owner, _encode(job_to_json(job)), finish_time(job)) for job in jobs])

    def get(self, job_id: str) -> Job | None:
        row = self._db().execute(_GET, (job_id,)).fetchone()
        return None if row is None else job_from_json(_decode(row[0]))

    def delete(self, job_id: str) -> bool:
        return self._db().execute(_DELETE, (job_id,)).rowcount > 0

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        rows = self._db().execute(_PAGES[descending, after is not None], (owner, after, limit + 1)).fetchall()
        jobs = [job_from_json(_decode(row[0])) for row in rows[:limit]]
        return Page(jobs, len(rows) > limit)

    def recent(self, limit: int) -> list[Job]:
        return [job_from_json(_decode(row[0])) for row in self._db().execute(_RECENT, (max(limit, 0),))]

    # -- announcements -------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int = 100) -> list[str]:
        db = self._db()
        if db.execute(_ANY_DUE, (now,)).fetchone() is None:
            return []  # the usual answer, found without taking the write lock
        with _Transaction(db):
            rows = db.execute(_DUE, (now, limit)).fetchall()
            db.executemany(_CLAIM, [(seq,) for seq, _ in rows])
        return [job_id for _, job_id in rows]

    def next_due(self) -> float | None:
        row = self._db().execute(_NEXT_DUE).fetchone()
        return None if row is None else float(row[0])

    # -- documents -----------------------------------------------------------------------------

    def get_doc(self, kind: str, doc_id: str) -> Any:
        row = self._db().execute(_GET_DOC, (kind, doc_id)).fetchone()
        return None if row is None else _decode(row[0])

    def put_doc(self, kind: str, doc_id: str, doc: Any, *, keep: int | None = None) -> None:
        db = self._db()
        if keep is None:
            db.execute(_PUT_DOC, (kind, doc_id, _encode(doc)))
            return
        with _Transaction(db):
            db.execute(_PUT_DOC, (kind, doc_id, _encode(doc)))
            excess = db.execute(_DOC_COUNT, (kind,)).fetchone()[0] - max(keep, 0)
            if excess > 0:
                db.execute(_TRIM, (kind, excess))

    def update(self, kind: str, doc_id: str, change: Updater[T]) -> T:
        db = self._db()
        # The write lock is held from the read to the write: `change` runs once, on the latest document.
        with _Transaction(db):
            row = db.execute(_GET_DOC, (kind, doc_id)).fetchone()
            new, result = change(None if row is None else _decode(row[0]))
            if new is None:
                if row is not None:
                    db.execute(_DELETE_DOC, (kind, doc_id))
            else:
                db.execute(_PUT_DOC, (kind, doc_id, _encode(new)))
        return result

    def docs(self, kind: str) -> list[Any]:
        return [_decode(row[0]) for row in self._db().execute(_DOCS, (kind,))]

    def delete_docs(self, kind: str, ids: Iterable[str] | None = None) -> int:
        db = self._db()
        if ids is None:
            return db.execute(_DELETE_KIND, (kind,)).rowcount
        with _Transaction(db):
            removed = sum(db.execute(_DELETE_DOC, (kind, doc_id)).rowcount for doc_id in ids)
        return removed

    def append_numbered(self, kind: str, docs: Sequence[dict[str, Any]], *, keep: int) -> list[int]:
        if not docs:
            return []
        db = self._db()
        with _Transaction(db):
            last = int(db.execute(_NEXT_NUMBERS, (kind, len(docs))).fetchone()[0])
            numbers = list(range(last - len(docs) + 1, last + 1))
            db.executemany(
                _PUT_DOC, [(kind, str(n), _encode({"seq": n, **doc})) for n, doc in zip(numbers, docs, strict=True)]
            )
            excess = db.execute(_DOC_COUNT, (kind,)).fetchone()[0] - max(keep, 0)
            if excess > 0:
                db.execute(_TRIM, (kind, excess))
        return numbers

    def versions(self, names: Sequence[str]) -> tuple[Any, ...]:
        found = dict(self._db().execute(_versions_query(len(names)), tuple(names)).fetchall())
        cleared = found.get("*")
        return tuple((cleared, found.get(name)) for name in names)

    # -- counters ------------------------------------------------------------------------------

    def next_number(self, name: str) -> int:
        return int(self._db().execute(_NEXT_NUMBER, (name,)).fetchone()[0])

    # -- everything ----------------------------------------------------------------------------

    def clear(self) -> None:
        db = self._db()
        with _Transaction(db):
            for table in ("jobs", "docs", "doc_counts", "numbers"):
                db.execute(f"DELETE FROM {table}")
            db.execute(_CLEARED)


def _reported(method: _F) -> _F:
    """Turns a SQLite failure (a full disk, an I/O error, a file gone read-only) into a StoreError,
    which the server answers as 503 `store_unavailable` and the journal survives."""

    @functools.wraps(method)
    def call(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            reason = str(error) or type(error).__name__
            hint = "free space on that disk" if "full" in reason else "check the file, its directory and its disk"
            raise StoreError(f"SQLite failed at {str(self.path)!r} ({reason}): {hint}") from None

    return call  # type: ignore[return-value]


for _name in BACKEND_METHODS:
    setattr(SQLiteStore, _name, _reported(getattr(SQLiteStore, _name)))
del _name
