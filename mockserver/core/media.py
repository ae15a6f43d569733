"""The committed media files a completed job serves from GET /v1/videos/{id}/content.

`MediaLibrary` indexes a fixtures directory once (made by scripts/make_fixtures.py) and maps a
job's (variant, size, seconds) to one file. Requests are never answered by scanning the disk.
With the `media` extra, mockserver.render draws each job's own files instead (`JobMedia`, below,
is what the service asks of it); these are served without it, or where a render cannot be had.

Files are found by name:

    video_{W}x{H}_{N}s.mp4     variant "video"        video/mp4
    thumbnail_{W}x{H}.webp     variant "thumbnail"    image/webp
    spritesheet_{W}x{H}.jpg    variant "spritesheet"  image/jpeg

Fallbacks, so that gateway models with other sizes or durations still get a file:

* size: an exact match if there is one; otherwise the available size whose aspect ratio is
  closest (compared as log(w/h), so 2:1 and 1:2 are equally far from 1:1), ties broken by the
  closest pixel count. "WxH", "W:H" aspect ratios and "480p"/"720p"/"1080p"/"1440p"/"2160p"/"4k"
  (taken as 16:9 landscape) are understood. Square sizes and anything unparsable get
  DEFAULT_SIZE (the API's default, 720x1280): a square is no closer to portrait than landscape.
* seconds: exact if available, else the nearest available duration, the shorter one on a tie
  (5 -> 4, 10 -> 8, 20 -> 12); unparsable or non-positive values mean DEFAULT_SECONDS (4).
  Thumbnails and spritesheets do not depend on the duration.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mockserver.resources import fixtures_dir

if TYPE_CHECKING:
    from mockserver.core.jobs import Job

DEFAULT_ROOT = fixtures_dir()
DEFAULT_SIZE = "720x1280"  # the API's default size
DEFAULT_SECONDS = 4  # the API's default duration
GENERATOR = "scripts/make_fixtures.py"

MEDIA_TYPES: dict[str, str] = {
    "video": "video/mp4",
    "thumbnail": "image/webp",
    "spritesheet": "image/jpeg",
}
EXTENSIONS: dict[str, str] = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}

_CHOSEN_KEPT = 1024  # lookup answers kept; past it they are forgotten at once and found again
_FILE_NAME = re.compile(r"^(video|thumbnail|spritesheet)_(\d+)x(\d+)(?:_(\d+)s)?\.(mp4|webp|jpg)$")
_WXH = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\d+)\s*$", re.IGNORECASE)
_RATIO = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")
# Resolution names, read as 16:9 landscape as they are in video tooling.
_NAMED = {
    "480p": (854, 480),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "2160p": (3840, 2160),
    "4k": (3840, 2160),
}


class MediaError(Exception):
    """Base class for media lookup problems."""


class FixturesMissingError(MediaError):
    """The fixtures directory is missing or holds no usable media."""


class UnknownVariantError(MediaError, ValueError):
    """A variant other than those in `MediaLibrary.variants()` was asked for."""


@dataclass(frozen=True)
class MediaFile:
    path: Path
    media_type: str  # Content-Type to send
    size_bytes: int  # Content-Length to send
    extension: str  # ".mp4", ".webp" or ".jpg", for a Content-Disposition filename
    variant: str
    size: str  # the size actually served, e.g. "1280x720" (may differ from the job's)
    seconds: int | None  # the duration actually served; None for images


def parse_size(size: object) -> tuple[int, int] | None:
    """(width, height) for "WxH", "W:H" or a resolution name; None when unparsable."""
    text = str(size).strip().lower()
    if text in _NAMED:
        return _NAMED[text]
    match = _WXH.match(text) or _RATIO.match(text)
    if not match:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


def parse_seconds(seconds: object) -> float | None:
    """Positive duration in seconds from "8", 8 or "8.0"; None when unparsable."""
    try:
        value = float(str(seconds).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _size_key(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


def nearest_size(requested: object, available: list[str], default: str = DEFAULT_SIZE) -> str:
    """The available size to serve for a requested one (see the module docstring)."""
    fallback = default if default in available else available[0]
    parsed = parse_size(requested)
    if parsed is None:
        return fallback
    width, height = parsed
    if f"{width}x{height}" in available:
        return f"{width}x{height}"
    if width == height:
        return fallback
    want_ratio, want_area = math.log(width / height), math.log(width * height)

    def distance(size: str) -> tuple[float, float]:
        w, h = _size_key(size)
        return abs(math.log(w / h) - want_ratio), abs(math.log(w * h) - want_area)

    # min() keeps the first of equals, and `available` is sorted, so the result is stable.
    return min(available, key=distance)


def nearest_seconds(requested: object, available: list[int], default: int = DEFAULT_SECONDS) -> int:
    """The available duration to serve for a requested one; shorter wins a tie."""
    value = parse_seconds(requested)
    if value is None:
        value = default
    return min(sorted(available), key=lambda s: abs(s - value))


class MediaLibrary:
    """Index of the fixture files under `root`, built once at construction."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else DEFAULT_ROOT
        self._videos: dict[str, dict[int, MediaFile]] = {}  # size -> seconds -> file
        self._images: dict[str, dict[str, MediaFile]] = {v: {} for v in MEDIA_TYPES if v != "video"}
        self._chosen: dict[tuple[str, str, str | int], MediaFile] = {}  # lookup's answers
        self._index()

    def _index(self) -> None:
        if not self.root.is_dir():
            raise FixturesMissingError(
                f"Media fixtures directory {self.root} does not exist; generate it with: python {GENERATOR}"
            )
        for path in sorted(self.root.iterdir()):
            match = _FILE_NAME.match(path.name)
            if not match or not path.is_file():
                continue  # README.md and anything else that is not media
            variant, width, height, seconds, ext = match.groups()
            if "." + ext != EXTENSIONS[variant] or (seconds is None) != (variant != "video"):
                continue  # e.g. video_1280x720.mp4 without a duration, or thumbnail_..._4s.webp
            size = f"{int(width)}x{int(height)}"
            media = MediaFile(
                path=path.resolve(),
                media_type=MEDIA_TYPES[variant],
                size_bytes=path.stat().st_size,
                extension=EXTENSIONS[variant],
                variant=variant,
                size=size,
                seconds=int(seconds) if seconds is not None else None,
            )
            if variant == "video":
                self._videos.setdefault(size, {})[int(seconds)] = media
            else:
                self._images[variant][size] = media
        missing = [v for v in MEDIA_TYPES if not (self._videos if v == "video" else self._images[v])]
        if missing:
            raise FixturesMissingError(
                f"Media fixtures directory {self.root} has no {', '.join(missing)} files; generate them with: python "
                f"{GENERATOR}"
            )
        # Sorted once so fallbacks pick deterministically.
        self._video_sizes = sorted(self._videos, key=_size_key)
        self._image_sizes = {v: sorted(files, key=_size_key) for v, files in self._images.items()}

    @staticmethod
    def variants() -> tuple[str, ...]:
        return tuple(MEDIA_TYPES)

    @staticmethod
    def media_type(variant: str) -> str:
        try:
            return MEDIA_TYPES[variant]
        except KeyError:
            raise UnknownVariantError(
                f"Unknown variant {variant!r}; expected one of {', '.join(MEDIA_TYPES)}."
            ) from None

    def lookup(self, variant: str, size: str, seconds: str | int) -> MediaFile:
        """The file to serve for a job; exact when available, else the documented fallback."""
        # Asked on every download; the index never changes, so each answer is kept (bounded: sizes
        # and durations are what clients sent).
        asked = (variant, size, seconds)
        found = self._chosen.get(asked)
        if found is None:
            found = self._choose(variant, size, seconds)
            if len(self._chosen) >= _CHOSEN_KEPT:
                self._chosen.clear()
            self._chosen[asked] = found
        return found

    def _choose(self, variant: str, size: str, seconds: str | int) -> MediaFile:
        self.media_type(variant)  # validates the variant
        if variant == "video":
            chosen = nearest_size(size, self._video_sizes)
            by_seconds = self._videos[chosen]
            return by_seconds[nearest_seconds(seconds, list(by_seconds))]
        chosen = nearest_size(size, self._image_sizes[variant])
        return self._images[variant][chosen]

    def files(self) -> tuple[MediaFile, ...]:
        """Every indexed file, e.g. for a startup log line or a test."""
        videos = [f for size in self._video_sizes for _, f in sorted(self._videos[size].items())]
        images = [self._images[v][s] for v in self._images for s in self._image_sizes[v]]
        return tuple(videos + images)


class JobMedia(Protocol):
    """Where the videos service and the content handler get a job's media (mockserver.render.source.MediaSource)."""

    def variants(self) -> tuple[str, ...]: ...

    def prepare(self, job: Job) -> None:
        """A job was created: make its media ready ahead of the download, without waiting."""

    async def fetch(self, job: Job, variant: str) -> MediaFile:
        """The file to serve for a completed job's variant."""
