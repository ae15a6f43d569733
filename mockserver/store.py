"""Where jobs live, behind a small interface. `MemoryStore` is the default.

Listing is by cursor: each owner has an append-only list of ids in creation order and an index
from id to position, so fetching a page costs O(limit), not O(jobs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol

from mockserver.jobs import Job


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


class Store(Protocol):
    def add(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def delete(self, job_id: str) -> bool: ...
    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page: ...
    def add_character(self, character: Character) -> None: ...
    def get_character(self, character_id: str) -> Character | None: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...


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


class MemoryStore:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._owners: dict[str, _OwnerIndex] = {}
        self._characters: dict[str, Character] = {}
        # Handlers run on one event loop, but the pytest plugin and benchmarks may touch the store
        # from other threads; the lock keeps index and dict in step.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            self._owners.setdefault(job.owner, _OwnerIndex()).append(job.id)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            self._owners[job.owner].remove(job_id)
            return True

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        index = self._owners.get(owner)
        if index is None:
            return Page([], False)
        jobs: list[Job] = []
        for job_id in index.walk(after, descending):
            if len(jobs) == limit:
                return Page(jobs, True)
            jobs.append(self._jobs[job_id])
        return Page(jobs, False)

    def add_character(self, character: Character) -> None:
        self._characters[character.id] = character

    def get_character(self, character_id: str) -> Character | None:
        return self._characters.get(character_id)

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._owners.clear()
            self._characters.clear()
