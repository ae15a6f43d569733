"""The scenarios: each starts its servers, drives them alternately (mock, baseline, mock, ...)
so that drift on a noisy machine hits both sides alike, and compares medians from this one run.

A scenario returns a plain dict (see `result`), which the report prints and saves as JSON.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from benchmarks import load, servers
from benchmarks.forms import MEBIBYTE, multipart, padded_jpeg
from benchmarks.servers import REPO, MockSpec, Process, Unavailable

API_KEY = "sk-bench"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PROMPT = "A calico cat playing a piano on stage"
METRICS = ("requests_per_s", "mb_per_s", "p50_ms", "p99_ms")


@dataclass(frozen=True)
class Settings:
    load: load.Load = load.Load()
    repeats: int = 3
    warmup_s: float = 1.0
    mock: MockSpec = MockSpec()
    prefer_wrk: bool = True
    startup_repeats: int = 11
    scale_jobs: int = 100_000
    scale_small: int = 100
    spec_file: Path = REPO / "openapi" / "reference.yaml"
    without: frozenset[str] = frozenset()  # third-party baselines left out on request ("prism", "nginx")
    render_sizes: tuple[str, ...] = ("720x1280", "1280x720", "1024x1792", "1792x1024")
    render_seconds: str = "4"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))

    def to_json(self) -> dict[str, Any]:
        return {
            "connections": self.load.connections, "seconds_per_run": self.load.seconds, "wrk_threads": self.load.threads,
            "repeats": self.repeats, "warmup_s": self.warmup_s, "workers": self.mock.workers,
            "store": self.mock.store or "memory", "startup_repeats": self.startup_repeats, "scale_jobs": self.scale_jobs,
            "load_generator": "wrk" if self.prefer_wrk and load.wrk_available() else "python",
            "without": sorted(self.without),
            "render_sizes": list(self.render_sizes),
            "render_seconds": self.render_seconds,
        }


def check(name: str, value: float | None, target: str, limit: float | None, *, at_least: bool) -> dict[str, Any]:
    """One target: `value` compared with `limit` (None: reported, no target)."""
    met = None if value is None or limit is None else (value >= limit if at_least else value <= limit)
    return {"name": name, "value": None if value is None else round(value, 3), "target": target, "met": met}


def result(name: str, description: str, sides: dict[str, Any], checks: list[dict[str, Any]], notes: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description, "sides": sides, "checks": checks, "notes": notes or []}


# -- small HTTP helpers for set-up (stdlib only) --------------------------------------------------


def http_call(port: int, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def create_job(mock: Process, fields: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    content_type, body = multipart(fields)
    status, answer = http_call(mock.port, "POST", "/v1/videos", headers={**AUTH, "Content-Type": content_type, **(headers or {})}, body=body)
    if status != 200:
        raise RuntimeError(f"creating a job on the mock answered {status}: {answer[:500]!r}")
    return json.loads(answer)


# -- comparing sides ------------------------------------------------------------------------------


def compare(settings: Settings, requests: dict[str, load.Request]) -> dict[str, Any]:
    """Warm each side up, then run them in turn `repeats` times; medians per side."""
    for side, request in requests.items():
        _preflight(side, request)
        if settings.warmup_s > 0:
            load.run(request, replace(settings.load, seconds=settings.warmup_s), prefer_wrk=settings.prefer_wrk)
    runs: dict[str, list[load.Run]] = {side: [] for side in requests}
    for _ in range(settings.repeats):
        for side, request in requests.items():
            runs[side].append(load.run(request, settings.load, prefer_wrk=settings.prefer_wrk))
    return {
        side: {
            "median": {metric: round(statistics.median(getattr(run, metric) for run in side_runs), 3) for metric in METRICS},
            "errors": sum(run.errors for run in side_runs),
            "runs": [run.to_json() for run in side_runs],
        }
        for side, side_runs in runs.items()
    }


def _preflight(side: str, request: load.Request) -> None:
    """One request by hand first: numbers for a side that answers errors would mean nothing."""
    parts = urlsplit(request.url)
    body = request.body_file.read_bytes() if request.body_file else None
    status, answer = http_call(parts.port or 80, request.method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=request.headers, body=body)
    if not 200 <= status < 300:
        raise RuntimeError(f"{side} answered {request.method} {parts.path} with {status}: {answer[:300]!r}")


def ratio(sides: dict[str, Any], a: str, b: str, metric: str) -> float | None:
    if a not in sides or b not in sides or "median" not in sides[b]:
        return None
    denominator = sides[b]["median"][metric]
    return sides[a]["median"][metric] / denominator if denominator else None


def _error_notes(sides: dict[str, Any]) -> list[str]:
    return [f"{side}: {data['errors']} failed or non-2xx requests" for side, data in sides.items() if data.get("errors")]


# -- scenarios ------------------------------------------------------------------------------------


def poll(settings: Settings) -> dict[str, Any]:
    description = "GET /v1/videos/{id} on an existing, still pending job (auth, lookup, lifecycle, headers, JSON)"
    with servers.mock(settings.mock) as mock:
        # A long scripted duration keeps the job pending for the whole run: the path a poll loop takes.
        job = create_job(mock, {"model": "sora-2", "prompt": PROMPT}, {"X-Mock-Duration": "86400"})
        status, answer = http_call(mock.port, "GET", f"/v1/videos/{job['id']}", headers=AUTH)
        video_json = settings.workdir / "video.json"
        video_json.write_bytes(answer)
        with servers.bare(video_json=video_json, workers=settings.mock.workers) as bare:
            requests = {
                "mock": load.Request(f"{mock.root}/v1/videos/{job['id']}", headers=AUTH),
                "bare": load.Request(f"{bare.root}/v1/videos/{job['id']}", headers=AUTH),
            }
            prism_note = None
            try:
                if "prism" in settings.without:
                    raise Unavailable("left out (--without prism)")
                prism = servers.prism(settings.spec_file).start(deadline_s=120)
            except Unavailable as exc:
                prism, prism_note = None, f"Prism skipped: {exc}"
            try:
                if prism is not None:
                    # Prism serves the document's paths without its server URL's /v1 prefix.
                    requests["prism"] = load.Request(f"{prism.root}/videos/{job['id']}", headers=AUTH)
                sides = compare(settings, requests)
            finally:
                if prism is not None:
                    prism.stop()
    if prism_note:
        sides["prism"] = {"skipped": prism_note}
    checks = [
        check("throughput vs bare", ratio(sides, "mock", "bare", "requests_per_s"), ">= 0.60", 0.60, at_least=True),
        check("p99 latency vs bare", ratio(sides, "mock", "bare", "p99_ms"), "<= 2.00", 2.0, at_least=False),
        check("throughput vs Prism", ratio(sides, "mock", "prism", "requests_per_s"), ">= 5.00", 5.0, at_least=True),
    ]
    notes = _error_notes(sides) + ([prism_note] if prism_note else [])
    return result("poll", description, sides, checks, notes)


def _create_scenario(settings: Settings, name: str, description: str, fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> dict[str, Any]:
    content_type, body = multipart(fields, files)
    body_file = settings.workdir / f"{name}.body"
    body_file.write_bytes(body)
    headers = {**AUTH, "Content-Type": content_type}
    with servers.mock(_fixtures(settings.mock)) as mock, servers.bare(workers=settings.mock.workers) as bare:
        status, answer = http_call(mock.port, "POST", "/v1/videos", headers=headers, body=body)
        if status != 200:
            raise RuntimeError(f"{name}: the mock refused the benchmark body with {status}: {answer[:500]!r}")
        sides = compare(settings, {
            "mock": load.Request(f"{mock.root}/v1/videos", "POST", headers, body_file),
            "bare": load.Request(f"{bare.root}/v1/videos", "POST", headers, body_file),
        })
    checks = [check("throughput vs bare", ratio(sides, "mock", "bare", "requests_per_s"), ">= 0.40", 0.40, at_least=True)]
    return result(name, description, sides, checks, _error_notes(sides) + [f"request body {len(body)} bytes"])


def create_prompt(settings: Settings) -> dict[str, Any]:
    return _create_scenario(settings, "create", "POST /v1/videos, multipart with a prompt only, vs bare parsing the same form", {"prompt": PROMPT}, {})


def create_reference(settings: Settings) -> dict[str, Any]:
    image = padded_jpeg(REPO / "fixtures" / "spritesheet_720x1280.jpg", MEBIBYTE)
    return _create_scenario(
        settings, "create-1mb", "POST /v1/videos, multipart with a prompt and a 1 MB input_reference JPEG",
        {"prompt": PROMPT, "size": "720x1280"}, {"input_reference": ("reference.jpg", "image/jpeg", image)},
    )


DOWNLOAD_SIZE, DOWNLOAD_SECONDS = "1280x720", "12"


def _fixtures(spec: MockSpec) -> MockSpec:
    """The mock serving the committed fixtures: the create and download scenarios measure the request
    path as they did before media were rendered per job; what rendering costs is the render scenario's."""
    return replace(spec, extra_args=(*spec.extra_args, "--no-render"))


def _download_file() -> Path:
    from mockserver.core.media import MediaLibrary

    return MediaLibrary().lookup("video", DOWNLOAD_SIZE, DOWNLOAD_SECONDS).path


def download(settings: Settings) -> list[dict[str, Any]]:
    path = _download_file()
    size = path.stat().st_size
    byte_range = f"bytes={size // 2}-{size - 1}"  # the second half, as a seeking player asks
    results = []
    with servers.mock(_fixtures(settings.mock)) as mock:
        job = create_job(mock, {"model": "sora-2", "prompt": PROMPT, "size": DOWNLOAD_SIZE, "seconds": DOWNLOAD_SECONDS}, {"X-Mock-Duration": "0"})
        status, body = http_call(mock.port, "GET", f"/v1/videos/{job['id']}/content", headers=AUTH)
        if status != 200 or len(body) != size:
            raise RuntimeError(f"download from the mock answered {status} with {len(body)} bytes, expected {size} ({path.name})")
        with servers.bare(download=path, workers=settings.mock.workers) as bare:
            try:
                if "nginx" in settings.without:
                    raise Unavailable("left out (--without nginx)")
                nginx: Process | None = servers.nginx(path.parent).start()
                nginx_note = None
            except (Unavailable, RuntimeError, TimeoutError) as exc:
                nginx, nginx_note = None, f"nginx skipped: {exc}"
            try:
                for name, extra in (("download", {}), ("download-range", {"Range": byte_range})):
                    headers = {**AUTH, **extra}
                    requests = {
                        "mock": load.Request(f"{mock.root}/v1/videos/{job['id']}/content", headers=headers),
                        "bare": load.Request(f"{bare.root}/v1/videos/{job['id']}/content", headers=headers),
                    }
                    if nginx is not None:
                        requests["nginx"] = load.Request(f"{nginx.root}/{path.name}", headers=headers)
                    sides = compare(settings, requests)
                    if nginx_note:
                        sides["nginx"] = {"skipped": nginx_note}
                    what = f"GET /v1/videos/{{id}}/content, the 12 s MP4 ({size} bytes)" + (f" with Range: {byte_range}" if extra else "")
                    checks = [
                        check("MB/s vs bare FileResponse", ratio(sides, "mock", "bare", "mb_per_s"), "reported", None, at_least=True),
                        check("MB/s vs nginx (the ceiling)", ratio(sides, "mock", "nginx", "mb_per_s"), ">= 0.15", 0.15, at_least=True),
                    ]
                    results.append(result(name, what, sides, checks, _error_notes(sides) + ([nginx_note] if nginx_note else [])))
            finally:
                if nginx is not None:
                    nginx.stop()
    return results


def startup(settings: Settings) -> dict[str, Any]:
    """Process start to the first healthy answer, both sides started the same way (a Python process)."""
    # Both sides start from compiled bytecode, as after `pip install` (which byte-compiles) or any earlier
    # run. Where PYTHONDONTWRITEBYTECODE is set (CI images often set it) nothing else writes it, and each
    # start would compile the mock's 40-odd modules from source; that measures the environment, not the server.
    import compileall

    for package in ("mockserver", "benchmarks"):
        compileall.compile_dir(REPO / package, quiet=1)
    times: dict[str, list[float]] = {"mock": [], "bare": []}
    makers: dict[str, Callable[[], Process]] = {"mock": lambda: servers.mock(settings.mock), "bare": lambda: servers.bare(workers=settings.mock.workers)}
    for _ in range(settings.startup_repeats):
        for side, make in makers.items():
            with make() as process:
                assert process.startup_s is not None
                times[side].append(process.startup_s)
    sides = {side: {"median": {"startup_s": round(statistics.median(values), 3)}, "runs": [round(v, 3) for v in values]} for side, values in times.items()}
    value = sides["mock"]["median"]["startup_s"] / sides["bare"]["median"]["startup_s"]
    return result(
        "startup", "process start to the first healthy response (mock: /__mock/health, bare: /health)", sides,
        [check("start-up time vs bare", value, "<= 1.50", 1.5, at_least=False)],
        ["both sides started from byte-compiled modules (compileall first), as an installed package is"],
    )


def scale(settings: Settings) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.scale", "--jobs", str(settings.scale_jobs), "--small", str(settings.scale_small)]
    if settings.mock.store:
        command += ["--store", settings.mock.store]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, env=_env())
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.scale failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = data["jobs_small"], data["jobs_large"]
    sides = {
        f"{small} jobs": {"median": {"rss_mb": round(data["rss_small_bytes"] / 1e6, 1), **data["small"]}},
        f"{large} jobs": {"median": {"rss_mb": round(data["rss_large_bytes"] / 1e6, 1), **data["large"]}},
    }
    checks = [
        check("memory per job (bytes)", data["bytes_per_job"], "<= 1024", 1024, at_least=False),
        # "Must not grow": the same page costs the same at any size; 1.5 leaves room for noise.
        check(f"first page at {large} vs {small} jobs", data["large"]["first_page_ms"] / data["small"]["first_page_ms"], "<= 1.50", 1.5, at_least=False),
        check(f"middle page at {large} vs {small} jobs", data["large"]["middle_page_ms"] / data["small"]["middle_page_ms"], "<= 1.50", 1.5, at_least=False),
    ]
    notes = [f"jobs created in-process through the POST /v1/videos handler at {data['in_process_creates_per_s']:.0f}/s; page = limit {data['page_limit']}"]
    return result("scale", f"state: RSS per job and list-page time at {small} vs {large} jobs", sides, checks, notes)


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


SCENARIOS: dict[str, Callable[[Settings], dict[str, Any] | list[dict[str, Any]]]] = {
    "poll": poll,
    "create": create_prompt,
    "create-1mb": create_reference,
    "download": download,
    "startup": startup,
    "scale": scale,
}


def _poll_stores(settings: Settings) -> dict[str, Any]:
    from benchmarks.stores import poll_stores  # it imports this module, so it is looked up when run

    return poll_stores(settings)


SCENARIOS["poll-stores"] = _poll_stores


def _create_stores(settings: Settings) -> dict[str, Any]:
    from benchmarks.stores import create_stores

    return create_stores(settings)


SCENARIOS["create-stores"] = _create_stores


def _render(settings: Settings) -> dict[str, Any]:
    from benchmarks.media import render  # it imports this module, and needs the media extra

    return render(settings)


SCENARIOS["render"] = _render
