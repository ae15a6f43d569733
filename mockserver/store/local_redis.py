"""A private `redis-server` on a free loopback port: for the Redis store's tests and its benchmark.

No persistence and its own working directory, so nothing outlives it. A missing binary or a server
that never answers PING raises RedisUnavailable; the tests turn that into a skip with the message,
the benchmark into a skipped comparison.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

INSTALL_HINT = "Debian/Ubuntu: apt-get install redis-server; ./scripts/ensure-redis does it in CI"


class RedisUnavailable(RuntimeError):
    """redis-server is not installed, or did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def local_redis(deadline_s: float = 15.0) -> Iterator[str]:
    """Yields `redis://127.0.0.1:PORT/0` for a redis-server that answers PING; stops it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable(f"redis-server is not installed ({INSTALL_HINT})")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="mockserver-redis-") as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + deadline_s
            while not answers_ping(port):
                if process.poll() is not None:
                    raise RedisUnavailable(f"redis-server exited with {process.returncode} before answering PING")
                if time.monotonic() > deadline:
                    raise RedisUnavailable(f"redis-server on port {port} did not answer PING within {deadline_s}s")
                time.sleep(0.02)  # a poll interval, bounded by the deadline above
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
