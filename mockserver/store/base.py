"""The store interface: everything a running fake remembers, so that several processes can share it.

A job's status is derived from the clock (jobs.state), so the store never holds a status. It holds:
- job records, with per-owner creation order for cursor pages;
- the finish times of jobs nobody has announced yet (webhooks claim them exactly once);
- small JSON documents by kind and id, kept in insertion order: characters, the clock, fault rules,
  rate-limit windows, scripted outcomes, webhook registrations and deliveries, the journal;
- named counters (ids under --seed, fault ids).

Everything a control call changes goes through here, so two workers never disagree. Read-modify-
write goes through `update`, which each back-end makes atomic (a lock, a SQLite write transaction,
a Redis compare-and-set script), so two workers hitting one rate limit count every request once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

from mockserver.core.jobs import Job, Outcome

T = TypeVar("T")
# `update` hands the current document (None if absent) to a function returning (new document or
# None to delete it, result for the caller). It may be called more than once, so it must be pure.
Updater = Callable[[Any], tuple[Any, T]]


class StoreError(Exception):
    """A store URL that cannot work, or a back-end that cannot be reached; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Character:
    id: str
    owner: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Page:
    jobs: list[Job]
    has_more: bool


# The methods of Store that reach the back-end: a shared store wraps each so that its failures are
# StoreErrors (503 store_unavailable), whichever method meets them.
BACKEND_METHODS = (
    "clear",
    "__len__",
    "add",
    "get",
    "delete",
    "page",
    "recent",
    "claim_due",
    "next_due",
    "get_doc",
    "put_doc",
    "update",
    "docs",
    "delete_docs",
    "next_number",
    "versions",
    "append_numbered",
    "add_many",
)


class Store(Protocol):
    url: str  # for display: never carries a password
    # Other processes may use the same state. True changes four things, each where it is decided:
    # `serve --workers N` is allowed (cli._check_shared); the server uses it through copies checked
    # once per request (store/cached.py, wrapped in http/app._with_copies); the journal writes its
    # entries here, batched, instead of a ring of its own (control/journal.py); a request reads the
    # clock's settings once (core/clock.Clock.for_request).
    shared: bool

    # -- jobs ------------------------------------------------------------------------------
    def add(self, job: Job) -> None:
        """Record a job and schedule its announcement at the time it finishes."""

    def get(self, job_id: str) -> Job | None: ...
    def delete(self, job_id: str) -> bool: ...
    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        """Jobs of one owner in creation order; a deleted `after` still works as a cursor."""

    def recent(self, limit: int) -> list[Job]:
        """The newest `limit` jobs of every owner, newest first (the control API's listing)."""

    def __len__(self) -> int: ...

    # -- announcements -----------------------------------------------------------------------
    def claim_due(self, now: float, limit: int = 100) -> list[str]:
        """Ids of jobs finished by `now` and not claimed before; each id is returned once, to one caller."""

    def next_due(self) -> float | None:
        """The earliest unclaimed finish time."""

    # -- documents ---------------------------------------------------------------------------
    # Plain JSON data only (dicts, lists, str, numbers, bool, None): the memory store keeps the
    # caller's object as it is, so a document must not be changed after it was put.
    def get_doc(self, kind: str, doc_id: str) -> Any: ...
    def put_doc(self, kind: str, doc_id: str, doc: Any, *, keep: int | None = None) -> None:
        """Insert or replace; a replaced document keeps its place. `keep`: drop the oldest beyond N."""

    def update(self, kind: str, doc_id: str, change: Updater[T]) -> T: ...
    def docs(self, kind: str) -> list[Any]:
        """Every document of a kind, oldest first."""

    def delete_docs(self, kind: str, ids: Iterable[str] | None = None) -> int:
        """The given ids, or (None) every document of the kind; returns how many went."""

    # -- counters ----------------------------------------------------------------------------
    def next_number(self, name: str) -> int:
        """1, 2, 3, ... per name, across every process sharing the store."""

    # -- everything --------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget everything: jobs, characters, documents, counters."""

    def close(self) -> None: ...


# What a store shared by several processes offers besides, so that each process may keep copies and
# batch writes without losing what sharing promises (store/cached.py).
JOBS_VERSION = "jobs"  # the `versions` name of the job records


class SharedStore(Store, Protocol):
    def versions(self, names: Sequence[str]) -> tuple[Any, ...]:
        """One opaque token per name, read at one moment; a token is never seen again once it changed.

        A document kind's token changes with every write to that kind (put, update, delete) and with
        `clear`. JOBS_VERSION's changes when a job is deleted and with `clear`, not when one is added:
        a job is never changed after it was added, so a copy of it stays true until then.
        """

    def add_many(self, jobs: Sequence[Job]) -> None:
        """`add` of each, in one write (one transaction, one round trip)."""

    def append_numbered(self, kind: str, docs: Sequence[dict[str, Any]], *, keep: int) -> list[int]:
        """Add documents under the next numbers of the counter `kind` (as `next_number` counts), in one
        write; each is stored with its number as `seq` and as its id. Keeps the newest `keep` of the kind."""


# -- codecs for back-ends that keep JSON ----------------------------------------------------


def job_to_json(job: Job) -> dict[str, Any]:
    # Spelled out rather than dataclasses.asdict, which deep-copies and costs several times more.
    return {
        "id": job.id,
        "owner": job.owner,
        "model": job.model,
        "prompt": job.prompt,
        "size": job.size,
        "seconds": job.seconds,
        "created_at": job.created_at,
        "queue_seconds": job.queue_seconds,
        "render_seconds": job.render_seconds,
        "outcome": outcome_to_json(job.outcome),
        "remixed_from_video_id": job.remixed_from_video_id,
        "extras": job.extras,
    }


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    return {"failed": outcome.failed, "code": outcome.code, "message": outcome.message}


def job_from_json(data: dict[str, Any]) -> Job:
    return Job(**{**data, "outcome": Outcome(**data["outcome"])})


def finish_time(job: Job) -> float:
    return job.created_at + job.queue_seconds + job.render_seconds


def character_to_json(character: Character) -> dict[str, Any]:
    return asdict(character)


def character_from_json(data: dict[str, Any]) -> Character:
    return Character(**data)
