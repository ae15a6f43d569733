"""Webhook deliveries, one lane per endpoint: its own HTTP client, a few requests in flight, a bounded queue.

An endpoint that accepts connections and never answers, or one that refuses them, must cost only
its own deliveries. A lane runs at most CONCURRENCY deliveries of its endpoint at once, over a client
of its own whose pool has exactly that many connections (so no delivery ever waits for a connection
another endpoint holds), and keeps at most QUEUE_LIMIT more waiting; beyond that a delivery is
refused at once, and the caller records it as failed. Every attempt is bounded by the endpoint's
timeout twice over: httpx's connect/read/write/pool timeouts, and a deadline around the whole
attempt (a receiver that trickles its answer byte by byte never trips a read timeout), so a worker
always comes back for the next delivery.

`close()` cancels every worker and closes every client, so a reset leaves nothing of an endpoint
behind; the next delivery opens a fresh lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mockserver.core.throttle import LogThrottle

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mockserver.webhooks")
_THROTTLE = LogThrottle()

CONCURRENCY = 4  # deliveries in flight per endpoint
# Deliveries waiting per endpoint, retries and delayed ones included. Large: one clock advance may
# finish thousands of jobs at once, and a healthy receiver must get every one of their events; what
# it bounds is an endpoint that takes nothing, whose waiting deliveries would otherwise pile up forever.
QUEUE_LIMIT = 10_000
# What a lane runs: one delivery with every attempt, given the lane's client.
Job = Callable[["httpx.AsyncClient"], Awaitable[None]]


class Lane:
    def __init__(self, name: str, timeout: float) -> None:
        import httpx

        self.name = name
        self.queue: asyncio.Queue[Job] = asyncio.Queue(QUEUE_LIMIT)
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        self.client = httpx.AsyncClient(follow_redirects=False, limits=limits, timeout=httpx.Timeout(timeout))
        self.workers = [
            asyncio.get_running_loop().create_task(self._work(), name=f"webhooks {name}") for _ in range(CONCURRENCY)
        ]

    def submit(self, job: Job) -> bool:
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        return True

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await job(self.client)
            except asyncio.CancelledError:
                raise
            except Exception:  # a store that fails, or a bug, in one delivery must not end the lane
                if _THROTTLE.allow(self.name) is not None:
                    log.exception(
                        "webhook delivery to %s failed (such lines: one per endpoint per few seconds)", self.name
                    )

    def close(self) -> list[asyncio.Task[None]]:
        for worker in self.workers:
            worker.cancel()
        closing = asyncio.get_running_loop().create_task(self.client.aclose())
        return [*self.workers, closing]


class Lanes:
    """The lanes of one event loop, by endpoint id."""

    def __init__(self) -> None:
        self._lanes: dict[str, Lane] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._counts: dict[str, dict[str, int]] = {}

    def submit(self, endpoint: str, timeout: float, job: Job) -> bool:
        """Queue `job` on the endpoint's lane; False when its queue is full (nothing was queued)."""
        lane = self._lanes.get(endpoint)
        if lane is None:
            lane = self._lanes[endpoint] = Lane(endpoint, timeout)
        return lane.submit(job)

    def should_log(self, endpoint: str, what: str) -> bool:
        """Whether the n-th `what` (a drop, a failure) of an endpoint is worth a log line: the 1st, 10th,
        100th, ... An endpoint that is down would otherwise write a line per delivery, without end."""
        counts = self._counts.setdefault(endpoint, {})
        n = counts[what] = counts.get(what, 0) + 1
        return str(n).rstrip("0") == "1"

    def close(self, endpoints: list[str] | None = None) -> list[asyncio.Task[None]]:
        """Cancel the workers of these endpoints' lanes (every lane for None); returns the tasks that end."""
        names = list(self._lanes) if endpoints is None else [e for e in endpoints if e in self._lanes]
        tasks: list[asyncio.Task[None]] = []
        for name in names:
            tasks += self._lanes.pop(name).close()
            self._counts.pop(name, None)
        for task in tasks:  # kept until done: a task nobody references may be collected mid-way
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return tasks

    async def aclose(self) -> None:
        tasks = self.close()
        await asyncio.gather(*tasks, return_exceptions=True)


async def bounded(seconds: float, attempt: Awaitable[httpx.Response]) -> httpx.Response:
    """The attempt, or TimeoutError once `seconds` have passed, whatever the receiver is doing."""
    async with asyncio.timeout(seconds):
        return await attempt
