"""`memory:`: everything in this process, gone when it stops. The default for tests and `serve`.

Listing is by cursor: each owner has an append-only list of ids in creation order and an index
from id to position, so fetching a page costs O(limit), not O(jobs). Unannounced jobs sit in a
heap by finish time, so claiming the due ones costs O(log n) each.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable, Iterator
from typing import Any

from mockserver.core.jobs import Job
from mockserver.store.base import Page, T, Updater, finish_time


class _OwnerIndex:
    __slots__ = ("ids", "position")

    def __init__(self) -> None:
        self.ids: list[str | None] = []  # None marks a deleted job, so positions stay valid
        self.position: dict[str, int] = {}

    def append(self, job_id: str) -> None:
        self.position[job_id] = len(self.ids)
        self.ids.append(job_id)

    def remove(self, job_id: str) -> None:
        # The position stays, so a client paging with a deleted id as its cursor still moves on.
        index = self.position.get(job_id)
        if index is not None:
            self.ids[index] = None

    def walk(self, after: str | None, descending: bool) -> Iterator[str]:
        step = -1 if descending else 1
        if after is None:
            index = len(self.ids) - 1 if descending else 0
        elif after in self.position:
            index = self.position[after] + step
        else:
            return  # an unknown cursor yields an empty page rather than restarting from the top
        while 0 <= index < len(self.ids):
            job_id = self.ids[index]
            if job_id is not None:
                yield job_id
            index += step


# A process holds at most this many jobs; past it the oldest is forgotten (answers 404 from then on).
# Each job's text is bounded too (mockserver/http/limits.py), so memory is, and a fake left running
# under a test suite for days does not grow without end. `memory:?max_jobs=N` sets another bound.
DEFAULT_MAX_JOBS = 100_000


class MemoryStore:
    url = "memory:"
    shared = False

    def __init__(self, max_jobs: int = DEFAULT_MAX_JOBS) -> None:
        # Handlers run on one event loop, but the pytest plugin and benchmarks may touch the store
        # from other threads; one re-entrant lock keeps indexes and dicts in step.
        self._lock = threading.RLock()
        self.max_jobs = max_jobs
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._jobs: dict[str, Job] = {}
            self._order: deque[str] = deque()  # job ids in creation order, for forgetting the oldest
            self._owners: dict[str, _OwnerIndex] = {}
            self._due: list[tuple[float, int, str]] = []
            self._tiebreak = itertools.count()
            # Ordered by insertion; OrderedDict because trimming (`keep`) removes the oldest:
            # popitem(last=False) is O(1), where a plain dict's first key is found past every deleted slot.
            self._docs: defaultdict[str, OrderedDict[str, Any]] = defaultdict(OrderedDict)
            self._numbers: dict[str, Iterator[int]] = {}

    def close(self) -> None:
        pass

    # -- jobs ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            owner = self._owners.get(job.owner)
            if owner is None:
                owner = self._owners[job.owner] = _OwnerIndex()
            owner.append(job.id)
            heapq.heappush(self._due, (finish_time(job), next(self._tiebreak), job.id))
            self._order.append(job.id)
            while len(self._jobs) > self.max_jobs:
                oldest = self._order.popleft()
                self.delete(oldest)  # gone as a deleted job is: 404, and still a cursor
            if len(self._order) > 2 * self.max_jobs:  # ids deleted meanwhile: keep the deque bounded too
                self._order = deque(job_id for job_id in self._order if job_id in self._jobs)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            self._owners[job.owner].remove(job_id)
            return True  # its heap entry stays until due; claim_due skips ids that are gone

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        with self._lock:
            index = self._owners.get(owner)
            if index is None:
                return Page([], False)
            jobs: list[Job] = []
            for job_id in index.walk(after, descending):
                if len(jobs) == limit:
                    return Page(jobs, True)
                jobs.append(self._jobs[job_id])
            return Page(jobs, False)

    def recent(self, limit: int) -> list[Job]:
        with self._lock:  # the dict is in creation order: the newest are at its end
            return list(itertools.islice(reversed(self._jobs.values()), max(limit, 0)))

    # -- announcements -------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int = 100) -> list[str]:
        claimed: list[str] = []
        with self._lock:
            while self._due and self._due[0][0] <= now and len(claimed) < limit:
                job_id = heapq.heappop(self._due)[2]
                if job_id in self._jobs:
                    claimed.append(job_id)
        return claimed

    def next_due(self) -> float | None:
        with self._lock:
            return self._due[0][0] if self._due else None

    # -- documents -----------------------------------------------------------------------------

    def get_doc(self, kind: str, doc_id: str) -> Any:
        return self._docs[kind].get(doc_id)

    def put_doc(self, kind: str, doc_id: str, doc: Any, *, keep: int | None = None) -> None:
        with self._lock:
            docs = self._docs[kind]
            docs[doc_id] = doc
            if keep is not None and len(docs) > keep:  # a full window: one in, the oldest out
                while len(docs) > keep:
                    docs.popitem(last=False)

    def update(self, kind: str, doc_id: str, change: Updater[T]) -> T:
        with self._lock:
            docs = self._docs[kind]
            new, result = change(docs.get(doc_id))
            if new is None:
                docs.pop(doc_id, None)
            else:
                docs[doc_id] = new
            return result

    def docs(self, kind: str) -> list[Any]:
        docs = self._docs.get(kind)
        if not docs:  # asked on every request for the fault rules, which are usually none
            return []
        with self._lock:
            return list(docs.values())

    def delete_docs(self, kind: str, ids: Iterable[str] | None = None) -> int:
        with self._lock:
            docs = self._docs[kind]
            if ids is None:
                count = len(docs)
                docs.clear()
                return count
            return sum(docs.pop(doc_id, None) is not None for doc_id in ids)

    # -- counters ------------------------------------------------------------------------------

    def next_number(self, name: str) -> int:
        # next() on a count is atomic under the GIL, so taking a number needs no lock; only a
        # name's first number makes its counter, under the lock.
        counter = self._numbers.get(name)
        if counter is None:
            with self._lock:
                counter = self._numbers.setdefault(name, itertools.count(1))
        return next(counter)
