"""Drive a server with a fixed number of keep-alive connections for a fixed time; report one `Run`.

wrk (C, from the system packages) is the load generator. A Lua `done` hook prints its summary as
JSON, so nothing is scraped from its human-readable output. When wrk is missing, a small asyncio
generator with the same model (N keep-alive connections, as fast as each answer comes back) stands
in, so the harness still works end to end; it is slower than wrk and the results say which was used.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """One request, repeated: method, path, headers and an optional body (read from a file)."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body_file: Path | None = None


@dataclass(frozen=True)
class Load:
    connections: int = 32
    seconds: float = 4.0
    threads: int = 1  # one wrk thread: on a 2-core machine the server keeps the other core


@dataclass(frozen=True)
class Run:
    generator: str
    requests: int
    seconds: float
    requests_per_s: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # connect/read/write/timeout errors plus non-2xx/3xx answers

    def to_json(self) -> dict[str, float | int | str]:
        return asdict(self)


# The `done` hook: wrk's summary and latency distribution (microseconds) as one JSON line.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"errors":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _lua(request: Request) -> str:
    lines = [f"wrk.method = {json.dumps(request.method)}"]
    for name, value in request.headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if request.body_file is not None:
        lines.append(f"local f = assert(io.open({json.dumps(str(request.body_file))}, 'rb'))")
        lines.append("wrk.body = f:read('*a')")
        lines.append("f:close()")
    return "\n".join(lines) + "\n" + _DONE


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run(request: Request, load: Load, *, prefer_wrk: bool = True) -> Run:
    if prefer_wrk and wrk_available():
        return _run_wrk(request, load)
    return asyncio.run(_run_python(request, load))


def _run_wrk(request: Request, load: Load) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(request))
    try:
        command = [
            "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{max(1, round(load.seconds))}s",
            "--timeout", "10s", "-s", script.name, request.url,
        ]
        # wrk stops by itself after -d; the timeout only guards against a wedged process.
        result = subprocess.run(command, capture_output=True, text=True, timeout=load.seconds + 60)
    finally:
        Path(script.name).unlink(missing_ok=True)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = data["duration_us"] / 1e6
            return Run(
                generator="wrk",
                requests=data["requests"],
                seconds=round(seconds, 3),
                requests_per_s=data["requests"] / seconds,
                mb_per_s=data["bytes"] / seconds / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=data["errors"],
            )
    raise RuntimeError(f"wrk printed no summary (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


# -- the fallback generator -----------------------------------------------------------------------


def _raw_request(request: Request) -> bytes:
    parts = urlsplit(request.url)
    body = request.body_file.read_bytes() if request.body_file else b""
    head = [f"{request.method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    if body or request.method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status, len(head) + length


async def _run_python(request: Request, load: Load) -> Run:
    parts = urlsplit(request.url)
    raw = _raw_request(request)
    latencies: list[float] = []
    totals = {"bytes": 0, "errors": 0}
    started = time.perf_counter()
    deadline = started + load.seconds

    async def connection() -> None:
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            totals["errors"] += 1
            return
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(raw)
                await writer.drain()
                status, size = await asyncio.wait_for(_read_response(reader), timeout=10)
                latencies.append(time.perf_counter() - sent)
                totals["bytes"] += size
                if status >= 400:
                    totals["errors"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            totals["errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(load.connections)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    return Run(
        generator="python",
        requests=len(latencies),
        seconds=round(seconds, 3),
        requests_per_s=len(latencies) / seconds,
        mb_per_s=totals["bytes"] / seconds / 1e6,
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        errors=totals["errors"],
    )
