"""Poll throughput by store back-end and worker count: memory, SQLite and Redis, 1 vs 2 workers.

The same request as the `poll` scenario (GET /v1/videos/{id} on a pending job), against the mock
started with each `--store`/`--workers` combination, run alternately like every other scenario.
Ratios are to memory with one worker, the default a developer gets. Redis runs as a private
`redis-server` on a free loopback port (no persistence), and is skipped with a note when the
binary is missing (Debian: apt-get install redis-server).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from benchmarks import load, servers
from benchmarks.scenarios import AUTH, PROMPT, Settings, _error_notes, check, compare, create_job, ratio, result
from benchmarks.servers import MockSpec
from mockserver.store.local_redis import RedisUnavailable, local_redis

BASELINE = "memory, 1 worker"


def poll_stores(settings: Settings) -> dict[str, Any]:
    description = "GET /v1/videos/{id} on a pending job, by --store and --workers (ratios to memory, 1 worker)"
    notes: list[str] = []
    with ExitStack() as stack:
        stores: dict[str, str] = {"memory": "memory:", "sqlite": f"sqlite:///{settings.workdir / 'bench-state.db'}"}
        try:
            stores["redis"] = stack.enter_context(local_redis())
        except RedisUnavailable as exc:  # raised only while starting
            notes.append(f"Redis skipped: {exc}")
        combos = [("memory", 1), ("sqlite", 1), ("sqlite", 2)] + ([("redis", 1), ("redis", 2)] if "redis" in stores else [])
        requests: dict[str, load.Request] = {}
        for name, workers in combos:
            label = f"{name}, {workers} worker{'s' if workers > 1 else ''}"
            spec = MockSpec(workers=workers, store=None if name == "memory" else stores[name])
            mock = stack.enter_context(servers.mock(spec))
            job = create_job(mock, {"model": "sora-2", "prompt": PROMPT}, {"X-Mock-Duration": "86400"})
            requests[label] = load.Request(f"{mock.root}/v1/videos/{job['id']}", headers=AUTH)
        sides = compare(settings, requests)
    checks = []
    for label in sides:
        if label != BASELINE:
            value = ratio(sides, label, BASELINE, "requests_per_s")
            checks.append(check(f"throughput {label} vs {BASELINE}", value, "reported", None, at_least=True))
    for name in ("sqlite", "redis"):
        two, one = f"{name}, 2 workers", f"{name}, 1 worker"
        if two in sides:
            checks.append(check(f"throughput {two} vs {one}", ratio(sides, two, one, "requests_per_s"), "reported", None, at_least=True))
    return result("poll-stores", description, sides, checks, _error_notes(sides) + notes)
