"""Start each server under test as its own process on a free loopback port, wait until it answers,
and stop it: the mock (`python -m mockserver serve`), the bare Starlette app, Prism and nginx.

Waiting is always on a real answer with a deadline, never a fixed sleep. Output goes to a log file
(not a pipe nobody reads, which would stall a chatty server once the pipe fills).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"  # gitignored: Prism's node_modules, nginx's scratch files
PRISM = BENCH_DIR / "node_modules" / ".bin" / "prism"


class Unavailable(Exception):
    """A baseline cannot run here (tool missing); the scenario is skipped with this message."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(port: int, path: str, *, timeout: float = 1.0) -> int | None:
    """The HTTP status for GET path, or None when nothing answers yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@dataclass(frozen=True)
class MockSpec:
    """How to run the mock. `workers` and `store` are parameters so that store back-ends and
    worker counts can be compared by the same scenarios (`--workers`/`--store` must then exist
    on `mockserver serve`; with the defaults no such flag is passed)."""

    workers: int = 1
    store: str | None = None
    extra_args: tuple[str, ...] = ()

    def args(self) -> list[str]:
        args = list(self.extra_args)
        if self.workers != 1:
            args += ["--workers", str(self.workers)]
        if self.store:
            args += ["--store", self.store]
        return args

    def label(self) -> str:
        return f"{self.store or 'memory'}, {self.workers} worker{'s' if self.workers != 1 else ''}"


@dataclass
class Process:
    name: str
    command: Sequence[str]
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    accept_status: frozenset[int] = frozenset({200})
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    startup_s: float | None = None
    scratch: Path | None = None  # a directory the process needed, removed when it stops

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline_s: float = 60.0) -> Process:
        safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name)  # a store URL in the name has slashes
        log = tempfile.NamedTemporaryFile(prefix=f"bench-{safe_name}-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        started = time.perf_counter()
        self.popen = subprocess.Popen(
            list(self.command), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), **self.env}, start_new_session=True,
        )
        log.close()
        deadline = started + deadline_s
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before answering:\n{self.log()}")
            status = answers(self.port, self.health_path, timeout=0.5)
            if status in self.accept_status:
                self.startup_s = time.perf_counter() - started
                return self
            time.sleep(0.005)  # a poll interval bounded by the deadline; start-up is timed at this grain
        self.stop()
        raise TimeoutError(f"{self.name} did not answer {self.health_path} within {deadline_s}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            # The whole session: uvicorn workers, Prism's node children, nginx's workers.
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=15)
        if self.log_path:
            self.log_path.unlink(missing_ok=True)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Process:
        return self.start() if self.popen is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mock(spec: MockSpec = MockSpec()) -> Process:
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--log-level", "warning", *spec.args()]
    return Process(f"mock ({spec.label()})", command, port, "/__mock/health")


def bare(*, video_json: Path | None = None, download: Path | None = None, workers: int = 1) -> Process:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.bare", "--port", str(port), "--workers", str(workers)]
    if video_json:
        command += ["--video-json", str(video_json)]
    if download:
        command += ["--file", str(download)]
    return Process("bare starlette", command, port, "/health")


def prism(spec_file: Path) -> Process:
    if shutil.which("node") is None:
        raise Unavailable("node is not installed (apt-get install nodejs npm, then ./scripts/bench installs Prism)")
    if not PRISM.exists():
        raise Unavailable(f"Prism is not installed at {PRISM} (./scripts/bench runs: npm install --prefix .bench @stoplight/prism-cli@5.16)")
    if not spec_file.exists():
        raise Unavailable(f"{spec_file} does not exist yet")
    port = free_port()
    # -v warn: no per-request log line, the same as the mock and the bare app get (the kindest setting for Prism).
    command = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn", str(spec_file)]
    # Any HTTP answer means it is listening; Prism has no health route.
    return Process("prism", command, port, "/", accept_status=frozenset(range(200, 600)))


def nginx(root: Path) -> Process:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        raise Unavailable("nginx is not installed (apt-get install -y nginx)")
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=_bench_dir()))
    (prefix / "logs").mkdir()
    conf = prefix / "nginx.conf"
    # One worker, like the single uvicorn process it is compared with; sendfile as deployed nginx does.
    conf.write_text(
        f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /health {{ return 200 "ok"; }}
    }}
}}
"""
    )
    user_line = "user root;\n" if os.geteuid() == 0 else ""
    if user_line:
        conf.write_text(user_line + conf.read_text())
    return Process("nginx", [binary, "-p", str(prefix), "-c", str(conf)], port, "/health", scratch=prefix)


def _bench_dir() -> Path:
    BENCH_DIR.mkdir(exist_ok=True)
    return BENCH_DIR
