"""The rendered files: a directory bounded in bytes, least recently used files removed first.

A file is named by its key (MediaSpec.key) and extension, written under a temporary name and
renamed into place, so a reader never sees half a file and several processes (`serve --workers`)
can share one directory. Recency is the file's mtime: a hit touches it. The directory itself is
the index, read again after each write, so every process sharing it evicts by the same truth;
reading a directory of a few thousand entries costs milliseconds, against a render's tenths of a
second or more.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

_ENTRY = re.compile(r"^[0-9a-f]{40}\.(mp4|webp|jpg)$")
_TEMP_SUFFIX = ".part"
STALE_TEMP_SECONDS = 3600.0  # a temporary file this old was left by a render that died


class CacheTooSmall(Exception):
    """One file is larger than the whole cache may be."""


class Entry(NamedTuple):
    mtime_ns: int
    name: str
    size: int


class MediaCache:
    def __init__(self, root: Path, limit_bytes: int) -> None:
        self.root = root
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()  # one eviction at a time in this process

    def path(self, key: str, extension: str) -> Path:
        return self.root / f"{key}{extension}"

    def hit(self, key: str, extension: str) -> Path | None:
        """The cached file, marked as just used; None when it is not (or no longer) there."""
        path = self.path(key, extension)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def put(self, key: str, extension: str, write: Callable[[Path], None]) -> Path:
        """Make the file with `write(temporary path)`, move it into place, and evict to the limit."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(key, extension)
        temp = self.root / f".{key}.{os.getpid()}.{threading.get_ident()}{_TEMP_SUFFIX}"
        try:
            write(temp)
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        self.evict(keep=path.name)
        if not path.exists():
            raise CacheTooSmall(f"a {key}{extension} does not fit a media cache of {self.limit_bytes} bytes")
        return path

    def entries(self) -> list[Entry]:
        """The cached files, least recently used first; temporary files a dead render left go."""
        found, stale_before = [], time.time_ns() - int(STALE_TEMP_SECONDS * 1e9)
        with os.scandir(self.root) as listing:
            for item in listing:
                try:
                    if _ENTRY.match(item.name):
                        stat = item.stat()
                        found.append(Entry(stat.st_mtime_ns, item.name, stat.st_size))
                    elif item.name.endswith(_TEMP_SUFFIX) and item.stat().st_mtime_ns < stale_before:
                        os.unlink(item.path)
                except FileNotFoundError:  # removed by another process meanwhile
                    continue
        found.sort()
        return found

    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries()) if self.root.is_dir() else 0

    def evict(self, keep: str | None = None) -> None:
        """Remove least recently used files until the rest fit the limit.

        `keep` (the file just written) goes last: it goes only when it alone is over the limit.
        """
        with self._lock:
            entries = self.entries()
            total = sum(entry.size for entry in entries)
            order = [e for e in entries if e.name != keep] + [e for e in entries if e.name == keep]
            for entry in order:
                if total <= self.limit_bytes:
                    break
                # Another process may have evicted it first; it no longer counts either way.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.root / entry.name)
                total -= entry.size
