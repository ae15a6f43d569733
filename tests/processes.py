"""Start real server processes for tests: a free port, a health wait with a deadline, a clean stop."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Lines of a server's output kept for stop(); older ones are dropped (a long run logs every request).
KEPT_OUTPUT_LINES = 20_000


@dataclass
class RunningServer:
    """A server process whose output is read as it comes: a pipe nobody reads fills up after ~64 KB
    of access-log lines and then blocks the server in the middle of a test."""

    process: subprocess.Popen[str]
    port: int
    _lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=KEPT_OUTPUT_LINES))
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.process.stdout is not None:
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # ends when the process closes its output
            self._lines.append(line)

    @property
    def output(self) -> str:
        """What the server has printed so far (the last KEPT_OUTPUT_LINES lines)."""
        return "".join(self._lines)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=timeout)
        return self.process.returncode, self.output


def wait_healthy(
    url: str, process: subprocess.Popen[str], deadline_s: float = 30.0, server: RunningServer | None = None
) -> dict:
    """Poll `url` until it answers 200; `server`, when given, is the one reading the process's output."""
    deadline = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if server is not None:
                output = server.stop()[1]
            else:
                output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode} before it was healthy:\n{output}")
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.05)  # a poll interval, bounded by the deadline above
    raise TimeoutError(f"{url} not healthy within {deadline_s}s (last error: {last_error})")


@contextmanager
def running(
    command: Sequence[str], port: int, env: dict[str, str] | None = None, health_path: str = "/__mock/health"
) -> Iterator[RunningServer]:
    """Any server process on `port`, answering 200 on `health_path` before the block runs, and stopped after it."""
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    server = RunningServer(process, port)
    try:
        wait_healthy(f"{server.root}{health_path}", process, server=server)
        yield server
    finally:
        server.stop()


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[RunningServer]:
    """`mockserver serve` as a user runs it, on a free loopback port."""
    port = port or free_port()
    with running([sys.executable, "-m", "mockserver", "serve", "--port", str(port), *args], port, env) as server:
        yield server


@contextmanager
def proxy(upstream: str, *args: str, port: int | None = None) -> Iterator[RunningServer]:
    """`mockserver proxy --upstream URL` as a user runs it, on a free loopback port (its health is its own).

    Its reports go to a temporary directory unless `--report-dir` is given: never into the checkout.
    """
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="proxy-reports-") as reports:
        where = [] if "--report-dir" in args else ["--report-dir", reports]
        command = [sys.executable, "-m", "mockserver", "proxy", "--upstream", upstream, "--port", str(port), *where]
        command += args
        with running(command, port) as server:
            yield server
