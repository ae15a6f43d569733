"""Where a running fake keeps its state, chosen by URL (`serve --store`).

- `memory:` (the default): in this process only. Fast, nothing written anywhere, clean at every start;
  at most 100,000 jobs (the oldest is forgotten first), `memory:?max_jobs=N` for another bound.
- `sqlite:///path/to/file.db`: survives restarts; shared by the workers of one host (WAL mode).
- `redis://host:port/db`: shared by several hosts; `?prefix=NAME` (default `mockserver:`) lets two
  fakes share one Redis without seeing each other.

May import: `mockserver.core`'s records (jobs, jsonbody). Never Starlette, `http` or `control`.
"""

from __future__ import annotations

from mockserver.store.base import Character, Page, Store, StoreError
from mockserver.store.memory import MemoryStore

__all__ = ["SCHEMES", "Character", "MemoryStore", "Page", "Store", "StoreError", "open_store"]

SCHEMES = ("memory:", "sqlite:///PATH", "redis://HOST:PORT/DB")


def open_store(url: str) -> Store:
    """A store from its URL; a URL that cannot work raises StoreError saying what to write instead."""
    url = url.strip()
    if url in ("memory", "memory:", "memory://"):
        return MemoryStore()
    if url.startswith("memory:?"):
        return _memory_with_options(url)
    if url.startswith("sqlite:"):
        from mockserver.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from mockserver.store.redis import RedisStore

        return RedisStore.from_url(url)
    raise StoreError(f"unknown store {url!r}: use one of {', '.join(SCHEMES)}")


def _memory_with_options(url: str) -> Store:
    from urllib.parse import parse_qsl

    options = dict(parse_qsl(url.partition("?")[2], keep_blank_values=True))
    max_jobs = options.pop("max_jobs", None)
    if options or max_jobs is None or not (max_jobs.isascii() and max_jobs.isdigit() and int(max_jobs) >= 1):
        raise StoreError(f"store URL {url!r}: memory: takes one option, max_jobs=N (a whole number >= 1)")
    return MemoryStore(max_jobs=int(max_jobs))
