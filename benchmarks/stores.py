"""Poll and create throughput by store back-end and worker count: memory, SQLite and Redis, 1 vs 2 workers.

`poll-stores`: the same request as the `poll` scenario (GET /v1/videos/{id} on a pending job);
`create-stores`: the same as `create` (POST /v1/videos, a prompt only). Each against the mock
started with each `--store`/`--workers` combination, run alternately like every other scenario.
Ratios are to memory with one worker, the default a developer gets. Redis runs as a private
`redis-server` on a free loopback port (no persistence), and is skipped with a note when the
binary is missing (Debian: apt-get install redis-server).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from benchmarks import load, servers
from benchmarks.forms import multipart
from benchmarks.scenarios import (
    AUTH,
    PROMPT,
    Settings,
    _error_notes,
    _fixtures,
    check,
    compare,
    create_job,
    ratio,
    result,
)
from benchmarks.servers import MockSpec
from mockserver.store.local_redis import RedisUnavailable, local_redis

BASELINE = "memory, 1 worker"
# Issue #20's targets, as ratios to memory with one worker: label -> (throughput at least, p99 at most).
POLL_TARGETS: dict[str, tuple[float, float | None]] = {
    "sqlite, 1 worker": (0.5, None),
    "redis, 1 worker": (0.3, None),
    "redis, 2 workers": (0.5, 3.0),
}
CREATE_TARGETS: dict[str, tuple[float, float | None]] = {
    label: (0.5, None) for label in ("sqlite, 1 worker", "sqlite, 2 workers", "redis, 1 worker", "redis, 2 workers")
}


def poll_stores(settings: Settings) -> dict[str, Any]:
    description = "GET /v1/videos/{id} on a pending job, by --store and --workers (ratios to memory, 1 worker)"

    def request(mock: servers.Process) -> load.Request:
        job = create_job(mock, {"model": "sora-2", "prompt": PROMPT}, {"X-Mock-Duration": "86400"})
        return load.Request(f"{mock.root}/v1/videos/{job['id']}", headers=AUTH)

    sides, notes = _by_store(settings, settings.mock, request)
    return result("poll-stores", description, sides, _checks(sides, POLL_TARGETS), _error_notes(sides) + notes)


def create_stores(settings: Settings) -> dict[str, Any]:
    description = "POST /v1/videos (a prompt only), by --store and --workers (ratios to memory, 1 worker)"
    content_type, body = multipart({"prompt": PROMPT})
    body_file = settings.workdir / "create-stores.body"
    body_file.write_bytes(body)

    def request(mock: servers.Process) -> load.Request:
        return load.Request(f"{mock.root}/v1/videos", "POST", {**AUTH, "Content-Type": content_type}, body_file)

    sides, notes = _by_store(settings, _fixtures(settings.mock), request)
    return result("create-stores", description, sides, _checks(sides, CREATE_TARGETS), _error_notes(sides) + notes)


def _by_store(
    settings: Settings, base: MockSpec, make_request: Callable[[servers.Process], load.Request]
) -> tuple[dict[str, Any], list[str]]:
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
            store = None if name == "memory" else stores[name]
            mock = stack.enter_context(servers.mock(MockSpec(workers=workers, store=store, extra_args=base.extra_args)))
            requests[label] = make_request(mock)
        return compare(settings, requests), notes


def _checks(sides: dict[str, Any], targets: dict[str, tuple[float, float | None]]) -> list[dict[str, Any]]:
    checks = []
    for label in sides:
        if label == BASELINE:
            continue
        at_least, p99_at_most = targets.get(label, (None, None))
        value = ratio(sides, label, BASELINE, "requests_per_s")
        target = f">= {at_least:.2f}" if at_least is not None else "reported"
        checks.append(check(f"throughput {label} vs {BASELINE}", value, target, at_least, at_least=True))
        if p99_at_most is not None:
            p99 = ratio(sides, label, BASELINE, "p99_ms")
            checks.append(check(f"p99 {label} vs {BASELINE}", p99, f"<= {p99_at_most:.2f}", p99_at_most, at_least=False))
    for name in ("sqlite", "redis"):
        two, one = f"{name}, 2 workers", f"{name}, 1 worker"
        if two in sides:
            limit = 1.0 if name == "sqlite" else None  # "2 workers not slower than 1"
            checks.append(
                check(f"throughput {two} vs {one}", ratio(sides, two, one, "requests_per_s"),
                      ">= 1.00" if limit else "reported", limit, at_least=True)
            )
    return checks
