"""Scale of state, measured inside one server process: memory per job and list-page time, at a
small and a large number of jobs.

Jobs are created through the server's own ASGI app (the real POST /v1/videos handler: auth,
multipart parsing, validation, the store), called in-process with no socket in between, so every
object a real create leaves behind is counted; only the network is skipped, which would add
nothing to memory and make 100,000 creates take minutes. Memory is the process's resident set
(what the operating system sees), not an estimate from object sizes.

Run: python -m benchmarks.scale --jobs 100000 [--small 100] [--store URL]   (prints JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from typing import Any

from benchmarks.forms import multipart

API_KEY = "sk-bench-scale"
PAGE_LIMIT = 20


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class InProcessClient:
    """Call an ASGI app directly: one request in, status and body out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        raw_headers = [(b"host", b"bench"), (b"authorization", f"Bearer {API_KEY}".encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def _create(client: InProcessClient, base: str, count: int, start: int) -> None:
    for i in range(start, start + count):
        # A distinct prompt per job, as real traffic has: identical strings would be shared and flatter the result.
        content_type, body = multipart(
            {"model": "sora-2", "prompt": f"A calico cat playing a piano on stage, take {i}"}
        )
        status, answer = await client.call("POST", f"{base}/videos", headers={"content-type": content_type}, body=body)
        if status != 200:
            raise RuntimeError(f"create {i} answered {status}: {answer[:300]!r}")


async def _page_ms(client: InProcessClient, base: str, query: str, repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        status, answer = await client.call("GET", f"{base}/videos", query=query)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"list answered {status}: {answer[:300]!r}")
    return statistics.median(times) * 1000


def _middle_id(app: Any, jobs: int) -> str:
    """The id of the job in the middle of the list, found once (untimed) through the store's page API."""
    from mockserver.core.keys import owner_of

    page = app.state.server.store.page(
        owner_of(API_KEY, app.state.server.key_salt), after=None, limit=jobs // 2 + 1, descending=False
    )
    return page.jobs[-1].id


async def _measure_pages(client: InProcessClient, base: str, jobs: int, repeats: int) -> dict[str, float]:
    middle = _middle_id(client.app, jobs)
    return {
        "first_page_ms": await _page_ms(client, base, f"limit={PAGE_LIMIT}", repeats),
        "middle_page_ms": await _page_ms(client, base, f"limit={PAGE_LIMIT}&after={middle}", repeats),
    }


async def measure(jobs: int, small: int, repeats: int, store: str | None) -> dict[str, Any]:
    from mockserver.http.app import create_app
    from mockserver.config import ServerConfig

    if store is None:
        config = ServerConfig()
    elif "store" in ServerConfig.__dataclass_fields__:
        config = ServerConfig(store=store)  # type: ignore[call-arg]  # once the server has store back-ends
    else:
        raise SystemExit("this server has no store setting yet; run without --store")
    app = create_app(config)
    client = InProcessClient(app)
    base = app.state.server.contract.base_path
    await _create(client, base, small, 0)
    small_pages = await _measure_pages(client, base, small, repeats)
    gc.collect()
    rss_small = rss_bytes()
    started = time.perf_counter()
    await _create(client, base, jobs - small, small)
    create_s = time.perf_counter() - started
    gc.collect()
    rss_large = rss_bytes()
    large_pages = await _measure_pages(client, base, jobs, repeats)
    return {
        "jobs_small": small,
        "jobs_large": jobs,
        "rss_small_bytes": rss_small,
        "rss_large_bytes": rss_large,
        "bytes_per_job": (rss_large - rss_small) / (jobs - small),
        "in_process_creates_per_s": (jobs - small) / create_s,
        "page_limit": PAGE_LIMIT,
        "small": small_pages,
        "large": large_pages,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--small", type=int, default=100)
    p.add_argument("--repeats", type=int, default=200, help="timed list calls per page (the median is reported)")
    p.add_argument("--store", default=None, help="store URL, for servers that take one (default: memory)")
    args = p.parse_args(argv)
    if not 2 <= args.small < args.jobs:
        p.error("need 2 <= --small < --jobs")
    print(json.dumps(asyncio.run(measure(args.jobs, args.small, args.repeats, args.store))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
