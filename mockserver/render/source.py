"""MediaSource: where a completed job's media comes from, rendered for it or the committed fixtures.

On create, `prepare` queues the job's three renders and returns at once (for a job that takes
time: one complete at creation renders on its first download). A bounded pool of
threads (MediaSettings.workers) works the queue; PyAV's encoders and scaler and Pillow's drawing
release the GIL, so the event loop keeps answering while they run. At most `queue` renders wait
ahead of their downloads; a job past that (a burst of creates) renders on its first download.

`fetch` serves a download: a cache hit at once; otherwise the job's render goes to the front of
the queue and the download waits for it, up to `wait_seconds`. A job that completes before its
media is ready (`--speed 0`, a clock advance) therefore gets it on first download. Past the wait,
or where the job cannot be rendered (MediaSpec.of says why) or a render fails, the committed
fixture is served, as without the `media` extra; the first failure is logged with its reason.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import importlib.metadata
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mockserver.core.jobs import Job
from mockserver.core.media import EXTENSIONS, MediaFile, MediaLibrary
from mockserver.render.cache import MediaCache
from mockserver.render.settings import MediaSettings
from mockserver.render.spec import MediaSpec, Unrenderable

log = logging.getLogger("mockserver.media")

AHEAD_ORDER = ("thumbnail", "spritesheet", "video")  # a gallery shows thumbnails first
REQUIRED = ("av", "PIL")  # what the `media` extra installs
_REMEMBERED_FAILURES = 1024  # keys whose render failed: served the fixture without a retry
_REMEMBERED_FILES = 1024  # (job, variant) -> the file served, for repeated downloads
TOUCH_SECONDS = 30.0
_LOGGED_KINDS = 256  # distinct troubles logged once each; a client sending odd sizes cannot grow it


def missing_requirement() -> str | None:
    """The first module of the `media` extra that is not installed, or None."""
    for name in REQUIRED:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken one
            return name
    return None


@functools.cache  # read on the first render, not at start-up: it costs a scan of the installed packages
def toolkit() -> str:
    """The builds the bytes depend on, for the cache keys (read from metadata: no import)."""
    versions = []
    for distribution in ("av", "pillow"):
        try:
            versions.append(f"{distribution} {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:  # importable under another distribution's name
            versions.append(f"{distribution} unknown")
    return ", ".join(versions)


def render_file(spec: MediaSpec, variant: str, path: Path) -> None:
    """The renderer: draw `spec` and encode `variant` into `path` (imports the extra's modules)."""
    from mockserver.render import encode
    from mockserver.render.picture import Picture

    encode.write(variant, Picture(spec), path)


@dataclass(eq=False)
class _Task:
    key: str
    spec: MediaSpec
    variant: str
    urgent: bool  # a download waits for it
    ticket: Future[Path] = field(default_factory=Future)


def _inputs(job: Job) -> tuple[str | None, ...]:
    """The fields of a job its media depend on (MediaSpec.of reads these and no others)."""
    return (job.id, job.model, job.size, job.seconds, job.prompt, job.remixed_from_video_id)


class MediaSource:
    def __init__(
        self,
        library: MediaLibrary,
        settings: MediaSettings,
        *,
        render: Callable[[MediaSpec, str, Path], None] = render_file,
    ) -> None:
        """`render` is the renderer; tests may pass one that makes tiny files fast."""
        self.library = library
        self.settings = settings
        self._render = render
        self.off_reason: str | None = None
        if not settings.render:
            self.off_reason = "rendering is turned off (--no-render or media.render: false)"
        elif (missing := missing_requirement()) is not None:
            self.off_reason = (
                f"the 'media' extra is not installed ({missing} is missing): pip install 'mockserver[media]'"
            )
        self.cache = MediaCache(settings.cache_dir, settings.cache_bytes)
        self._lock = threading.Lock()
        self._queue: collections.deque[_Task] = collections.deque()  # not yet given to a thread
        self._ahead = 0  # tasks in the queue that no download waits for yet
        self._tickets: dict[str, _Task] = {}  # key -> task, queued or running
        self._running = 0
        self._executor: ThreadPoolExecutor | None = None
        self._failed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._served: collections.OrderedDict[tuple[str | None, ...], tuple[MediaFile, float]] = (
            collections.OrderedDict()
        )
        self._logged: set[str] = set()  # kinds of trouble already logged once
        self._closed = False

    @property
    def rendering(self) -> bool:
        return self.off_reason is None

    def describe(self) -> str:
        if not self.rendering:
            return f"committed fixtures ({self.off_reason})"
        s = self.settings
        return (
            f"rendered per job (cache {s.cache_dir}, {s.cache_mb:g} MB; {s.workers} render threads; "
            f"downloads wait up to {s.wait_seconds:g} s)"
        )

    def variants(self) -> tuple[str, ...]:
        return self.library.variants()

    # -- creating ----------------------------------------------------------------------------

    def prepare(self, job: Job) -> None:
        """Queue a new job's renders; never waits.

        Failed jobs have no content to render. Jobs complete the moment they are created
        (`--speed 0`, `X-Mock-Duration: 0`) are rendered on their first download instead: a suite
        at speed 0 creates many jobs it never downloads, and rendering each would take the CPU
        the server and the suite need.
        """
        if not self.rendering or job.outcome.failed or job.queue_seconds + job.render_seconds <= 0:
            return
        try:
            spec = MediaSpec.of(job)
        except Unrenderable:
            return  # `fetch` says why when it is downloaded
        for variant in AHEAD_ORDER:
            self._submit(spec, variant, urgent=False)

    # -- downloading -------------------------------------------------------------------------

    async def fetch(self, job: Job, variant: str) -> MediaFile:
        """The file to serve for a completed job's `variant` (see the module docstring)."""
        if self.rendering:
            served = self._recent(job, variant)
            if served is not None:
                return served
        fixture = self.library.lookup(variant, job.size, job.seconds)  # also checks the variant
        if not self.rendering:
            return fixture
        try:
            spec = MediaSpec.of(job)
        except Unrenderable as exc:
            self._log_once(f"unrenderable:{exc}", "media for %s: %s; serving the committed fixture", job.id, exc)
            return fixture
        key = spec.key(variant, toolkit())
        path = self.cache.hit(key, EXTENSIONS[variant])
        if path is None:
            if key in self._failed:
                return fixture
            ticket = self._submit(spec, variant, urgent=True)
            if ticket is None:
                return fixture
            try:
                path = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(ticket)), self.settings.wait_seconds)
            except TimeoutError:
                log.warning(
                    "media for %s (%s) not ready after %g s; serving the committed fixture (raise --media-wait)",
                    job.id,
                    variant,
                    self.settings.wait_seconds,
                )
                return fixture
            except Exception:
                return fixture  # logged once by the render thread
        try:
            size_bytes = path.stat().st_size
        except FileNotFoundError:  # evicted between render and serve: only with a cache of a file or two
            return fixture
        media = MediaFile(
            path,
            fixture.media_type,
            size_bytes,
            fixture.extension,
            variant,
            f"{spec.width}x{spec.height}",
            round(spec.duration) if variant == "video" else None,
        )
        with self._lock:
            self._served[(*_inputs(job), variant)] = (media, time.monotonic())
            if len(self._served) > _REMEMBERED_FILES:
                self._served.popitem(last=False)
        return media

    def _recent(self, job: Job, variant: str) -> MediaFile | None:
        """The file served for this job and variant lately, if it is still in the cache.

        A client downloads the same video over and over (a player seeking asks for ranges): this
        skips parsing the spec and hashing its key each time. The file is marked as used again at
        most every TOUCH_SECONDS, which is all the precision an LRU over minutes needs.
        """
        key = (*_inputs(job), variant)
        with self._lock:
            found = self._served.get(key)
        if found is None:
            return None
        media, touched = found
        now = time.monotonic()
        try:
            if now - touched > TOUCH_SECONDS:
                os.utime(media.path)
                with self._lock:
                    self._served[key] = (media, now)
            elif not os.path.exists(media.path):
                raise FileNotFoundError(media.path)
        except FileNotFoundError:  # evicted (by this or another process sharing the directory)
            with self._lock:
                self._served.pop(key, None)
            return None
        return media

    # -- the pool ----------------------------------------------------------------------------

    def _submit(self, spec: MediaSpec, variant: str, *, urgent: bool) -> Future[Path] | None:
        """The ticket for a render of (spec, variant), queued if it is not already; None if refused."""
        key = spec.key(variant, toolkit())
        with self._lock:
            if self._closed:
                return None
            task = self._tickets.get(key)
            if task is not None:
                if urgent and not task.urgent and task in self._queue:
                    task.urgent = True  # a download waits for it now: to the front
                    self._ahead -= 1
                    self._queue.remove(task)
                    self._queue.appendleft(task)
                return task.ticket
            if not urgent and self._ahead >= self.settings.queue:
                return None  # renders on its first download instead
            task = _Task(key, spec, variant, urgent)
            self._tickets[key] = task
            if urgent:
                self._queue.appendleft(task)
            else:
                self._queue.append(task)
                self._ahead += 1
            self._pump()
        return task.ticket

    def _pump(self) -> None:
        """Give queued tasks to idle threads (called with the lock held)."""
        while self._queue and self._running < self.settings.workers:
            task = self._queue.popleft()
            if not task.urgent:
                self._ahead -= 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="mockserver-render")
            try:
                self._executor.submit(self._run, task)
            except RuntimeError:  # the interpreter is exiting: no new threads, nothing more to render
                self._closed = True
                self._tickets.pop(task.key, None)
                task.ticket.cancel()
                continue
            self._running += 1

    def _run(self, task: _Task) -> None:
        try:
            if not task.ticket.set_running_or_notify_cancel():
                return
            extension = EXTENSIONS[task.variant]
            path = self.cache.hit(task.key, extension) or self.cache.put(
                task.key, extension, lambda temp: self._render(task.spec, task.variant, temp)
            )
            task.ticket.set_result(path)
        except Exception as exc:
            with self._lock:
                self._failed[task.key] = None
                if len(self._failed) > _REMEMBERED_FAILURES:
                    self._failed.popitem(last=False)
            self._log_once(
                "render",
                "rendering %s of %s failed (%s: %s); serving the committed fixtures for what fails to render",
                task.variant,
                task.spec.job_id,
                type(exc).__name__,
                exc,
                exc_info=True,
            )
            if not task.ticket.done():
                task.ticket.set_exception(exc)
        finally:
            with self._lock:
                self._tickets.pop(task.key, None)
                self._running -= 1
                self._pump()

    def _log_once(self, kind: str, message: str, *args: object, exc_info: bool = False) -> None:
        with self._lock:
            first = kind not in self._logged and len(self._logged) < _LOGGED_KINDS
            if first:
                self._logged.add(kind)
        if first:
            log.warning(message, *args, exc_info=exc_info)

    def close(self) -> None:
        """Stop taking work, drop what is queued; renders already running finish in their threads."""
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), collections.deque()
            self._ahead = 0
            for task in queued:
                self._tickets.pop(task.key, None)
                task.ticket.cancel()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
