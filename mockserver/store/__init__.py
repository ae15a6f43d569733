"""Where a running fake keeps its state, chosen by URL (`serve --store`).

- `memory:` (the default): in this process only. Fast, nothing written anywhere, clean at every start.
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
    if url.startswith("sqlite:"):
        from mockserver.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from mockserver.store.redis import RedisStore

        return RedisStore.from_url(url)
    raise StoreError(f"unknown store {url!r}: use one of {', '.join(SCHEMES)}")
