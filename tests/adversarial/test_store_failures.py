"""A store that fails is the 503 `store_unavailable` envelope, never a 500, and never loses an accepted create
(#23 items 4, 5)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.adversarial.helpers import KEYS, assert_answers_normally, assert_envelope, auth, create, http
from tests.processes import RunningServer, free_port, running, serve
from tests.redis_server import redis_server

DISK_BYTES = 1024 * 1024


@contextmanager
def small_disk() -> Iterator[tuple[Path, list[str]]]:
    """A directory on a 1 MB filesystem (a tmpfs, as root), or else on any disk with the server's file size
    capped at 1 MB (RLIMIT_FSIZE: its writes then fail the way a full disk's do). Yields the directory and
    the command prefix that starts the server under that cap."""
    workdir = Path(tempfile.mkdtemp(prefix="mockserver-full-"))
    mounted = False
    try:
        if os.geteuid() == 0 and shutil.which("mount"):
            mounted = (
                subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(workdir)], capture_output=True
                ).returncode
                == 0
            )
        if mounted:
            yield workdir, [sys.executable]
        else:
            cap = (
                f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({DISK_BYTES}, {DISK_BYTES}));"
            )
            yield (
                workdir,
                [
                    sys.executable,
                    "-c",
                    cap
                    + " sys.argv = ['mockserver', *sys.argv[1:]]; runpy.run_module('mockserver', run_name='__main__')",
                ],
            )
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(workdir)], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_full_disk_under_sqlite_answers_503_and_keeps_every_acknowledged_job() -> None:
    with small_disk() as (directory, python):
        port = free_port()
        command = [
            *python,
            *([] if len(python) > 1 else ["-m", "mockserver"]),
            "serve",
            "--port",
            str(port),
            "--speed",
            "0",
            "--log-level",
            "warning",
            "--store",
            f"sqlite:///{directory}/fake.db",
        ]
        # A generous client timeout: a liveness bound on a machine that may be busy, not a speed target.
        with running(command, port) as server, httpx.Client(base_url=server.root, timeout=30) as client:
            acknowledged: dict[str, str] = {}
            statuses: list[int] = []
            for index in range(400):
                key = KEYS[index % 2]
                answer = create(client, key, prompt="fill the disk " + "x" * 2000)
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    acknowledged[answer.json()["id"]] = key
                else:
                    assert_envelope(answer, 503, None, "store_unavailable")
            assert 503 in statuses, "the disk never filled up"
            assert set(statuses) <= {200, 503}, sorted(set(statuses))
            for video_id, key in acknowledged.items():
                got = client.get(f"/v1/videos/{video_id}", headers=auth(key))
                assert got.status_code == 200, (video_id, got.text)
            for path in ("/__mock/journal", "/__mock/faults", "/__mock/webhooks"):
                answer = client.get(path)
                assert answer.status_code in (200, 503), (path, answer.text)
                if answer.status_code == 503:
                    assert_envelope(answer, 503, None, "store_unavailable")
            assert client.get("/__mock/health").status_code == 200


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _redis_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1].split("/")[0]
    # redis-server names itself by its address once it runs: "redis-server 127.0.0.1:PORT".
    found = subprocess.run(
        ["pgrep", "-f", f"redis-server 127.0.0.1:{port}$"], capture_output=True, text=True
    ).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def test_a_hung_redis_answers_503_and_never_silences_the_server() -> None:
    with redis_server() as url, serve("--speed", "0", "--log-level", "warning", "--store", url) as server:
        assert_answers_normally(server)
        with stopped(_redis_pid(url)):
            assert_503_under_load(server)
            with httpx.Client(base_url=server.root, timeout=httpx.Timeout(8.0)) as client:
                assert_envelope(client.get("/__mock/journal"), 503, None, "store_unavailable")
        assert_after_recovery(server)


def assert_after_recovery(server: RunningServer) -> None:
    import time

    deadline = time.monotonic() + 15
    with http(server) as client:
        while time.monotonic() < deadline:  # the store is found again within a bounded time
            if create(client, KEYS[0]).status_code == 200:
                break
            time.sleep(0.1)  # a poll interval, bounded by the deadline above
    assert_answers_normally(server)


def test_a_redis_that_went_away_answers_503_quickly_under_load() -> None:
    with redis_server() as url, serve("--speed", "0", "--log-level", "warning", "--store", url) as server:
        os.kill(_redis_pid(url), signal.SIGKILL)
        assert_503_under_load(server)


def assert_503_under_load(server: RunningServer) -> None:
    """64 creates from 16 clients, each answered 503 within the client's timeout, and health answering throughout
    (503 too: a load balancer in front of several fakes stops sending this one work)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(index: int) -> int:
        with httpx.Client(base_url=server.root, timeout=httpx.Timeout(8.0)) as client:
            if index % 4 == 3:
                assert_envelope(client.get("/__mock/health"), 503, None, "store_unavailable")
                return 503
            answer = create(client, KEYS[index % 2])
            assert_envelope(answer, 503, None, "store_unavailable")
            return answer.status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(one, range(64))) == {503}


if not shutil.which("pgrep"):
    pytestmark = pytest.mark.skip(reason="pgrep (procps) is needed to find the private redis-server's pid")
