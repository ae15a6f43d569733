"""How `serve` is told about rendered media: flags, and the config file's `media:` mapping.

    media:
      render: true          # false serves the committed fixtures even with the extra installed
      cache_dir: /var/cache/mockserver-media
      cache_mb: 512
      workers: 2
      wait_seconds: 30
      queue: 64

Flags override the file. The settings travel in ServerConfig.media.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_CACHE_MB = 512.0
DEFAULT_WORKERS = 2  # render threads; each runs one single-threaded encoder
# The longest a download waits for its media; past it the fixture is served (README: media).
# A 12 s 1792x1024 clip renders in about 5 s on one core of a 2-core machine.
DEFAULT_WAIT_SECONDS = 30.0
DEFAULT_QUEUE = 64  # renders queued ahead of downloads; jobs past it render on first download


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mockserver" / "media"


@dataclass(frozen=True)
class MediaSettings:
    render: bool = True
    cache_dir: Path = field(default_factory=default_cache_dir)
    cache_mb: float = DEFAULT_CACHE_MB
    workers: int = DEFAULT_WORKERS
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    queue: int = DEFAULT_QUEUE

    @property
    def cache_bytes(self) -> int:
        return int(self.cache_mb * 1024 * 1024)

    def checked(self) -> MediaSettings:
        if not self.cache_mb > 0:
            raise ValueError(f"media cache size must be > 0 MB, got {self.cache_mb!r}")
        if self.workers < 1:
            raise ValueError(f"media render workers must be at least 1, got {self.workers!r}")
        if self.wait_seconds < 0:
            raise ValueError(f"media wait must be >= 0 seconds, got {self.wait_seconds!r}")
        if self.queue < 0:
            raise ValueError(f"media render queue must be >= 0, got {self.queue!r}")
        return self


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--media-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where rendered media are kept (default: {default_cache_dir()})",
    )
    p.add_argument(
        "--media-cache-mb",
        type=float,
        default=None,
        metavar="MB",
        help=f"largest size of that cache; least recently used files go first (default: {DEFAULT_CACHE_MB:g})",
    )
    p.add_argument(
        "--media-workers", type=int, default=None, metavar="N", help=f"render threads (default: {DEFAULT_WORKERS})"
    )
    p.add_argument(
        "--media-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"longest a download waits for its media before the fixture is served (default: {DEFAULT_WAIT_SECONDS:g})",
    )
    p.add_argument(
        "--no-render", action="store_true", help="serve the committed fixtures instead of media drawn for each job"
    )


def from_config(file: dict[str, Any], args: argparse.Namespace) -> MediaSettings:
    section = file.get("media") or {}
    if not isinstance(section, dict):
        raise ValueError("media: must be a mapping (render, cache_dir, cache_mb, workers, wait_seconds, queue)")
    unknown = set(section) - {"render", "cache_dir", "cache_mb", "workers", "wait_seconds", "queue"}
    if unknown:
        raise ValueError(f"media: unknown setting(s) {', '.join(sorted(unknown))}")
    if not isinstance(section.get("render", True), bool):
        raise ValueError("media: render must be true or false")
    settings = MediaSettings()
    try:
        settings = replace(
            settings,
            render=section.get("render", settings.render),
            cache_dir=Path(section["cache_dir"]) if "cache_dir" in section else settings.cache_dir,
            cache_mb=float(section.get("cache_mb", settings.cache_mb)),
            workers=int(section.get("workers", settings.workers)),
            wait_seconds=float(section.get("wait_seconds", settings.wait_seconds)),
            queue=int(section.get("queue", settings.queue)),
        )
    except (TypeError, ValueError):
        raise ValueError("media: cache_mb and wait_seconds must be numbers, workers and queue whole numbers") from None
    flags = {
        "cache_dir": getattr(args, "media_cache", None),
        "cache_mb": getattr(args, "media_cache_mb", None),
        "workers": getattr(args, "media_workers", None),
        "wait_seconds": getattr(args, "media_wait", None),
    }
    settings = replace(settings, **{name: value for name, value in flags.items() if value is not None})
    if getattr(args, "no_render", False):
        settings = replace(settings, render=False)
    return settings.checked()
