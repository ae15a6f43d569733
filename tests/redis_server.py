"""A real `redis-server` on a free loopback port, for the tests of the Redis store.

`.ci/run` installs redis-server when it is missing; where it cannot be installed the tests that
need it are skipped with a message saying so, never silently passed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from tests.processes import free_port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(deadline_s: float = 15.0) -> Iterator[str]:
    """Yields `redis://127.0.0.1:PORT/0` for a private redis-server, stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mockserver-redis-") as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + deadline_s
            while not _ping(port):
                if process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {process.returncode} before answering PING")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on port {port} did not answer PING within {deadline_s}s")
                time.sleep(0.02)  # a poll interval, bounded by the deadline above
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
