"""A shared store with this process's copies of what seldom changes, and writes batched per loop turn.

With SQLite or Redis every read used to be a query or a round trip: a poll read the clock's settings,
the fault rules, the job and wrote its journal entry, five in all. Here:

- **Copies, checked once per request.** Job records (immutable once added) and the documents of the
  kinds named at start (the clock's settings, fault rules, scripted outcomes) are kept after the first
  read. `refresh` reads the store's change tokens (`SharedStore.versions`, one query) and drops the
  copies of whatever changed since the last check. The request pipeline refreshes as each request
  starts, so a request sees every change that was answered before it arrived, on whichever process
  made it; a write through this process drops its own copies at once.
- **One read for every request that starts in the same loop turn.** `refreshed()` waits for a read
  that begins after the call: requests arriving together share it.
- **One write for every journal entry of a loop turn.** `append_soon` hands the entries of every
  request answered in this turn to `append_numbered` at once (one transaction, one round trip), and
  returns when they are stored, so a request is in the journal before its answer is sent.
- **One write for every create of a loop turn.** `add_soon` does the same for new jobs
  (`add_many`); a create is answered once its job is stored, and with a 503 if the write failed.

The copies are this process's own; nothing here is shared but the tokens, so there is nothing to
keep in step except by reading them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from mockserver.core.jobs import Job
from mockserver.store.base import JOBS_VERSION, Page, SharedStore, T, Updater

Item = TypeVar("Item")
Result = TypeVar("Result")

# Job copies a process keeps; the least recently added goes first. A poll loop touches a few jobs
# at a time, and a copy costs about a kilobyte.
MAX_JOB_COPIES = 10_000


class Batch(Generic[Item, Result]):
    """`await batch(item)` runs `flush` on every item submitted in the same loop turn, once, in order.

    `flush` is synchronous (a store call) and returns one result per item; its exception is every
    waiter's. Each event loop has its own queue, so a loop that closed with items waiting strands
    nothing on the next one.
    """

    def __init__(self, flush: Callable[[list[Item]], Sequence[Result]]) -> None:
        self._flush = flush
        self._waiting: dict[asyncio.AbstractEventLoop, list[tuple[Item, asyncio.Future[Result]]]] = {}

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._run, loop)  # after every task that is ready in this turn
        waiting.append((item, future))
        return await future

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.pop(loop, [])
        try:
            results = self._flush([item for item, _ in waiting])
        except Exception as error:
            for _, future in waiting:
                if not future.done():  # a client that went away cancelled its wait
                    future.set_exception(error)
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():
                future.set_result(result)


class CachedStore:
    """Wraps a SharedStore (see the module's docstring); `kinds` are the document kinds it copies."""

    shared = True

    def __init__(self, inner: SharedStore, kinds: Iterable[str] = ()) -> None:
        self.inner = inner
        self.url = inner.url
        self._kinds = frozenset(kinds)
        self._names = (JOBS_VERSION, *sorted(self._kinds))
        self._tokens: tuple[Any, ...] | None = None  # as last read; None: nothing checked yet
        self._jobs: dict[str, Job] = {}
        self._docs: dict[tuple[str, str], Any] = {}  # (kind, id) -> document, or None for "not there"
        self._lists: dict[str, list[Any]] = {}  # kind -> docs(kind)
        self._refreshes: Batch[None, None] = Batch(self._refresh_all)
        self._appends: Batch[tuple[str, dict[str, Any], int], int] = Batch(self._append_all)
        self._adds: Batch[Job, None] = Batch(self._add_all)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the back-end's own attributes (a SQLite file's path, ...)

    # -- copies ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the change tokens now; drop the copies of everything that changed since the last read."""
        tokens = self.inner.versions(self._names)
        old = self._tokens
        if tokens == old:
            return
        self._tokens = tokens
        if old is None:
            self._forget(self._names)
        else:
            self._forget([name for name, was, now in zip(self._names, old, tokens, strict=True) if was != now])

    def _refresh_all(self, waiting: list[None]) -> list[None]:
        self.refresh()
        return [None] * len(waiting)

    async def refreshed(self) -> None:
        """`refresh`, shared by every request that asks in the same loop turn."""
        await self._refreshes(None)

    def _forget(self, names: Iterable[str]) -> None:
        for name in names:
            if name == JOBS_VERSION:
                self._jobs.clear()
            else:
                self._lists.pop(name, None)
                for key in [key for key in self._docs if key[0] == name]:
                    del self._docs[key]

    def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None:
            job = self.inner.get(job_id)
            if job is not None:  # not "not there": another process may add it any moment
                self._copy(job)
        return job

    def _copy(self, job: Job) -> None:
        self._jobs[job.id] = job
        if len(self._jobs) > MAX_JOB_COPIES:
            self._jobs.pop(next(iter(self._jobs)))

    def get_doc(self, kind: str, doc_id: str) -> Any:
        if kind not in self._kinds:
            return self.inner.get_doc(kind, doc_id)
        key = (kind, doc_id)
        try:
            return self._docs[key]
        except KeyError:
            doc = self._docs[key] = self.inner.get_doc(kind, doc_id)
            return doc

    def docs(self, kind: str) -> list[Any]:
        if kind not in self._kinds:
            return self.inner.docs(kind)
        found = self._lists.get(kind)
        if found is None:
            found = self._lists[kind] = self.inner.docs(kind)
        return found

    # -- writes: through to the store, dropping this process's copies of what they change ------------

    def delete(self, job_id: str) -> bool:
        self._jobs.pop(job_id, None)
        return self.inner.delete(job_id)

    def put_doc(self, kind: str, doc_id: str, doc: Any, *, keep: int | None = None) -> None:
        try:
            self.inner.put_doc(kind, doc_id, doc, keep=keep)
        finally:
            self._forget_kind(kind)

    def update(self, kind: str, doc_id: str, change: Updater[T]) -> T:
        try:
            return self.inner.update(kind, doc_id, change)
        finally:
            self._forget_kind(kind)

    def delete_docs(self, kind: str, ids: Iterable[str] | None = None) -> int:
        try:
            return self.inner.delete_docs(kind, ids)
        finally:
            self._forget_kind(kind)

    def clear(self) -> None:
        try:
            self.inner.clear()
        finally:
            self._forget(self._names)

    def _forget_kind(self, kind: str) -> None:
        if kind in self._kinds:
            self._forget((kind,))

    # -- batched writes --------------------------------------------------------------------------

    async def add_soon(self, job: Job) -> None:
        """`add`, written together with the other creates of this loop turn; returns once it is stored."""
        await self._adds(job)

    def _add_all(self, jobs: list[Job]) -> list[None]:
        self.inner.add_many(jobs)
        for job in jobs:
            self._copy(job)
        return [None] * len(jobs)

    async def append_soon(self, kind: str, doc: dict[str, Any], *, keep: int) -> int:
        """`append_numbered` of one document, written together with the others of this loop turn."""
        return await self._appends((kind, doc, keep))

    def _append_all(self, items: list[tuple[str, dict[str, Any], int]]) -> list[int]:
        numbers: dict[int, int] = {}
        groups: dict[tuple[str, int], list[int]] = {}
        for index, (kind, _, keep) in enumerate(items):
            groups.setdefault((kind, keep), []).append(index)
        for (kind, keep), indexes in groups.items():
            written = self.inner.append_numbered(kind, [items[i][1] for i in indexes], keep=keep)
            numbers.update(zip(indexes, written, strict=True))
        return [numbers[i] for i in range(len(items))]

    # -- the rest, as the store has it -----------------------------------------------------------

    def add(self, job: Job) -> None:
        self.inner.add(job)

    def add_many(self, jobs: Sequence[Job]) -> None:
        self.inner.add_many(jobs)

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        return self.inner.page(owner, after=after, limit=limit, descending=descending)

    def recent(self, limit: int) -> list[Job]:
        return self.inner.recent(limit)

    def __len__(self) -> int:
        return len(self.inner)

    def claim_due(self, now: float, limit: int = 100) -> list[str]:
        return self.inner.claim_due(now, limit)

    def next_due(self) -> float | None:
        return self.inner.next_due()

    def next_number(self, name: str) -> int:
        return self.inner.next_number(name)

    def versions(self, names: Sequence[str]) -> tuple[Any, ...]:
        return self.inner.versions(names)

    def append_numbered(self, kind: str, docs: Sequence[dict[str, Any]], *, keep: int) -> list[int]:
        return self.inner.append_numbered(kind, docs, keep=keep)

    def close(self) -> None:
        self.inner.close()
