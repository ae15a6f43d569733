"""What a job's media shows, derived from the job record alone, and whether it can be rendered.

Two jobs with equal records get equal media, wherever they are rendered: the spec holds every
input of the drawing and the encoders, and `MediaSpec.key` names the files by a hash of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

from mockserver.core.jobs import Job
from mockserver.core.media import parse_seconds, parse_size

# Part of every cache key: a change to the drawing or the encoder settings bumps it, so a cache
# directory kept across upgrades never serves the old picture for a new key.
RENDER_VERSION = 1
FPS = 10  # as the committed fixtures: a test pattern needs no more, and encoding cost is per frame
# Bounds on one render, so a single request cannot hold the pool for minutes. Larger jobs are
# served the committed fixtures (as without the extra); the README's media section lists these.
MIN_SIDE = 16
MAX_SIDE = 3840
MAX_PIXELS = 3840 * 2160
MAX_SECONDS = 60.0
PROMPT_CHARS = 120  # the start of the prompt drawn on the frames


class Unrenderable(Exception):
    """The job asks for media the renderer does not make (odd size, too large, unparsable)."""


@dataclass(frozen=True)
class MediaSpec:
    job_id: str
    model: str
    size: str  # as the job asked for it, e.g. "1280x720" or "720p"
    seconds: str  # as the job asked for it
    prompt: str  # the start of the prompt, whitespace folded
    source_id: str | None  # the remixed, edited or extended video
    width: int
    height: int
    frames: int
    fps: int = FPS

    @classmethod
    def of(cls, job: Job) -> MediaSpec:
        dims = None if ":" in job.size else parse_size(job.size)  # a bare ratio names no size
        if dims is None:
            raise Unrenderable(f"size {job.size!r} is not WIDTHxHEIGHT")
        width, height = dims
        if width % 2 or height % 2:
            raise Unrenderable(f"size {job.size!r} is odd; H.264 in yuv420p needs even sides")
        if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
            raise Unrenderable(f"size {job.size!r} is outside {MIN_SIDE}..{MAX_SIDE} px a side")
        seconds = parse_seconds(job.seconds)
        if seconds is None or seconds > MAX_SECONDS:
            raise Unrenderable(f"seconds {job.seconds!r} is not a duration up to {MAX_SECONDS:g} s")
        frames = max(1, math.floor(seconds * FPS + 0.5))
        prompt = " ".join((job.prompt or "").split())[:PROMPT_CHARS]
        return cls(job.id, job.model, job.size, job.seconds, prompt, job.remixed_from_video_id, width, height, frames)

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def key(self, variant: str, toolkit: str) -> str:
        """The cache file's name stem: a hash of everything the file's bytes depend on.

        `toolkit` names the Pillow and PyAV builds: another build may rasterise or encode the same
        picture into other bytes, and must not be served this build's files as its own.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # asdict deep-copies
        doc = {"v": RENDER_VERSION, "toolkit": toolkit, "variant": variant, **fields}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:40]
