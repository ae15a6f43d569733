"""Small media files held in memory once per process, checked against the file on every request.

A download of a small file (every committed fixture, a rendered still) is answered from one shared
copy of its bytes: no open, read and close, and no thread hop, per request; a Range is a view of
that copy, not a new one. Every request stats the path first; the copy serves only while the file
is still the one it was read from (size, mtime_ns, ctime_ns, inode, device). A file replaced on
disk (a re-render by any worker, fixtures written again) no longer matches and is read again, so
each worker serves what is on disk now, with nothing to tell the other workers.

Bounded: a file larger than `per_file_bytes` is not held (downloads.py streams it), and the copies
together stay within `total_bytes`, the least recently served dropped first.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
from email.utils import formatdate
from typing import NamedTuple

TOTAL_BYTES = 64 * 1024 * 1024  # the fixtures are ~2 MB in all; a busy render cache's stills and short MP4s fit
PER_FILE_BYTES = 8 * 1024 * 1024  # above this a file is streamed: one large video must not empty the cache
_READ_TRIES = 3  # a file rewritten in place while it is read is read again, this many times at most


class Identity(NamedTuple):
    """What says a file on disk is still the one a copy was read from."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int


def identity(stat: os.stat_result) -> Identity:
    return Identity(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def validators(stat: os.stat_result) -> tuple[bytes, bytes]:
    """(Last-Modified, ETag) of a file, as Starlette's FileResponse derives them (clients keep ETags)."""
    etag_base = f"{stat.st_mtime}-{stat.st_size}"
    etag = f'"{hashlib.md5(etag_base.encode(), usedforsecurity=False).hexdigest()}"'
    return formatdate(stat.st_mtime, usegmt=True).encode("latin-1"), etag.encode("latin-1")


class Snapshot:
    """One file's bytes with the stat they were read under and the headers that stat gives."""

    __slots__ = ("data", "etag", "identity", "last_modified", "length")

    def __init__(self, stat: os.stat_result, data: bytes) -> None:
        self.identity = identity(stat)
        self.data = data
        self.length = b"%d" % len(data)
        self.last_modified, self.etag = validators(stat)


class FileBytes:
    def __init__(self, total_bytes: int = TOTAL_BYTES, per_file_bytes: int = PER_FILE_BYTES) -> None:
        self.total_bytes = total_bytes
        self.per_file_bytes = min(per_file_bytes, total_bytes)
        self._held: collections.OrderedDict[str, Snapshot] = collections.OrderedDict()
        self._held_bytes = 0

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    def holds(self, stat: os.stat_result) -> bool:
        """Whether a file of this size is served from memory (else it is streamed)."""
        return stat.st_size <= self.per_file_bytes

    def current(self, path: str, stat: os.stat_result) -> Snapshot | None:
        """The copy of `path` if it is still the file `stat` describes; else None (and it is dropped)."""
        held = self._held.get(path)
        if held is None:
            return None
        if held.identity != identity(stat):
            self._drop(path)
            return None
        self._held.move_to_end(path)
        return held

    async def load(self, path: str) -> Snapshot | None:
        """Read `path` (in a thread, once per change of the file) and hold it; None if it has grown past
        `per_file_bytes` meanwhile, to be streamed."""
        snapshot = await asyncio.to_thread(self._read, path)
        if snapshot is not None:
            self._drop(path)  # a concurrent load of the same file may have put one in
            self._held[path] = snapshot
            self._held_bytes += len(snapshot.data)
            while self._held_bytes > self.total_bytes:
                self._drop(next(iter(self._held)))
        return snapshot

    def _drop(self, path: str) -> None:
        held = self._held.pop(path, None)
        if held is not None:
            self._held_bytes -= len(held.data)

    def _read(self, path: str) -> Snapshot | None:
        for _ in range(_READ_TRIES):
            with open(path, "rb", buffering=0) as file:
                before = os.fstat(file.fileno())
                if before.st_size > self.per_file_bytes:
                    return None
                data = file.readall()
                after = os.fstat(file.fileno())
            if len(data) == before.st_size and identity(after) == identity(before):
                return Snapshot(before, data)
        raise RuntimeError(f"File at path {path} kept changing while it was read.")
