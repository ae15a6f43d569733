"""`serve --store` and `--workers`, as a team running one shared fake would use them.

Real processes on free loopback ports: a SQLite file that outlives a SIGKILL, two uvicorn workers
over one SQLite file, and two separate servers over one real Redis. "Through the other process" is
made certain, not hoped for: with workers, each step runs on a fresh connection whose worker is
known from /__mock/health on that same connection.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.processes import RunningServer, serve

KEY = "sk-store-serve-5150"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _create(client: httpx.Client, root: str, **headers: str) -> dict:
    response = client.post(f"{root}/v1/videos", json={"prompt": "a lighthouse"}, headers={**AUTH, **headers})
    assert response.status_code == 200, response.text
    return response.json()


def _state(root: str) -> dict[str, dict]:
    """Every job of KEY, by id, as the list endpoint shows it (bounded paging)."""
    jobs: dict[str, dict] = {}
    after = None
    with httpx.Client(timeout=10) as client:
        for _ in range(100):
            params = {"limit": 100, "order": "asc", **({"after": after} if after else {})}
            page = client.get(f"{root}/v1/videos", params=params, headers=AUTH).json()
            jobs.update({video["id"]: video for video in page["data"]})
            if not page["has_more"]:
                return jobs
            after = page["data"][-1]["id"]
    raise AssertionError("more than 100 pages")


def test_a_sqlite_store_keeps_every_acknowledged_job_through_a_sigkill(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    with serve("--store", db, "--log-level", "warning") as first, httpx.Client(timeout=10) as client:
        root = first.root
        client.post(f"{root}/__mock/clock/freeze").raise_for_status()
        done = [_create(client, root, **{"X-Mock-Duration": "10"}) for _ in range(3)]
        failed = _create(client, root, **{"X-Mock-Outcome": "failed:content_policy_violation", "X-Mock-Duration": "10"})
        client.post(f"{root}/__mock/clock/advance", json={"seconds": 20}).raise_for_status()
        running = [_create(client, root, **{"X-Mock-Duration": "10"}) for _ in range(2)]
        client.post(f"{root}/__mock/clock/advance", json={"seconds": 5}).raise_for_status()  # halfway through
        deleted = done.pop()
        assert client.delete(f"{root}/v1/videos/{deleted['id']}", headers=AUTH).status_code == 200
        before = _state(root)
        first.stop(signal.SIGKILL)  # no shutdown hook runs: only what was committed survives
    assert first.process.returncode == -signal.SIGKILL
    assert {v["status"] for v in before.values()} == {"completed", "failed", "in_progress"}

    with serve("--store", db, "--log-level", "warning") as second, httpx.Client(timeout=10) as client:
        after = _state(second.root)
        assert after == before  # same ids, statuses, progress, timestamps: the frozen clock was kept too
        assert deleted["id"] not in after
        assert client.get(f"{second.root}/v1/videos/{failed['id']}", headers=AUTH).json()["error"]["code"] == "content_policy_violation"
        content = client.get(f"{second.root}/v1/videos/{done[0]['id']}/content", headers=AUTH)
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"
        assert client.get(f"{second.root}/v1/videos/{running[0]['id']}/content", headers=AUTH).status_code == 409


def test_more_than_one_worker_over_a_memory_store_is_refused_with_a_way_out() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--workers", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "--workers 2 needs a store the workers share" in result.stderr
    assert "--store sqlite:///" in result.stderr and "redis://" in result.stderr


# -- two processes over one store -----------------------------------------------------------


class Processes:
    """Two processes serving one store: two workers behind one port, or two servers on two ports."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots

    @contextmanager
    def on(self, which: int) -> Iterator[tuple[httpx.Client, str, int]]:
        """A client on a connection served by process `which` (0 or 1): yields (client, root, pid)."""
        with httpx.Client(timeout=10) as client:  # two servers: the port decides
            yield client, self.roots[which], client.get(f"{self.roots[which]}/__mock/health").json()["pid"]


class Workers(Processes):
    """`--workers 2`: the kernel hands each new connection to one of them; keep-alive keeps it there."""

    def __init__(self, root: str, deadline_s: float = 30.0) -> None:
        super().__init__([root])
        self.seen: list[int] = []
        deadline = time.monotonic() + deadline_s
        while len(set(self.seen)) < 2:  # both workers up before the test starts
            assert time.monotonic() < deadline, f"only workers {set(self.seen)} answered within {deadline_s}s"
            with httpx.Client(timeout=10) as client:
                pid = client.get(f"{root}/__mock/health").json()["pid"]
            if pid not in self.seen:
                self.seen.append(pid)

    @contextmanager
    def on(self, which: int) -> Iterator[tuple[httpx.Client, str, int]]:
        wanted = self.seen[which]
        for _ in range(200):  # each try is a new connection; the other worker gets about half of them
            client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=1))
            pid = client.get(f"{self.roots[0]}/__mock/health").json()["pid"]
            if pid == wanted:
                try:
                    yield client, self.roots[0], pid
                finally:
                    client.close()
                return
            client.close()
        raise AssertionError(f"worker {wanted} got none of 200 new connections")


def _one_job_through_both(processes: Processes) -> None:
    with processes.on(0) as (a, root_a, pid_a):
        a.post(f"{root_a}/__mock/clock/freeze").raise_for_status()
        created = _create(a, root_a, **{"X-Mock-Duration": "8"})
    with processes.on(1) as (b, root_b, pid_b):
        assert pid_b != pid_a
        seen = b.get(f"{root_b}/v1/videos/{created['id']}", headers=AUTH)
        assert seen.status_code == 200 and seen.json()["status"] == "queued"
        listed = b.get(f"{root_b}/v1/videos", params={"limit": 100}, headers=AUTH).json()["data"]
        assert created["id"] in [v["id"] for v in listed]
        # A clock change made through this process is the time of both.
        b.post(f"{root_b}/__mock/clock/advance", json={"seconds": 30}).raise_for_status()
    with processes.on(0) as (a, root_a, _):
        assert a.get(f"{root_a}/v1/videos/{created['id']}", headers=AUTH).json()["status"] == "completed"
    with processes.on(1) as (b, root_b, _):
        content = b.get(f"{root_b}/v1/videos/{created['id']}/content", headers=AUTH)
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"
        assert b.delete(f"{root_b}/v1/videos/{created['id']}", headers=AUTH).json()["deleted"] is True
    with processes.on(0) as (a, root_a, _):
        assert a.get(f"{root_a}/v1/videos/{created['id']}", headers=AUTH).status_code == 404


def _control_state_is_shared(processes: Processes) -> None:
    """Scripted outcomes, faults with budgets and the journal: set through one, felt through the other."""
    with processes.on(0) as (a, root_a, _):
        a.post(f"{root_a}/__mock/outcomes", json={"outcomes": ["failed:moderation_blocked"], "api_key": KEY}).raise_for_status()
        a.post(f"{root_a}/__mock/faults", json={"method": "GET", "path": "/v1/videos", "status": 503, "times": 1, "api_key": KEY}).raise_for_status()
    with processes.on(1) as (b, root_b, _):
        scripted = _create(b, root_b)  # chooses nothing itself, so it takes the scripted outcome
        b.post(f"{root_b}/__mock/clock/advance", json={"seconds": 60}).raise_for_status()
        assert b.get(f"{root_b}/v1/videos", headers=AUTH).status_code == 503  # the one budgeted fault
    with processes.on(0) as (a, root_a, _):
        assert a.get(f"{root_a}/v1/videos", headers=AUTH).status_code == 200  # ...was used up by the other process
        assert a.get(f"{root_a}/v1/videos/{scripted['id']}", headers=AUTH).json()["error"]["code"] == "moderation_blocked"
        journal = a.get(f"{root_a}/__mock/journal", params={"path": "/v1/videos"}).json()["data"]
        assert [(e["method"], e["status"]) for e in journal][-3:] == [("POST", 200), ("GET", 503), ("GET", 200)]
        assert all("sk-store-serve-5150" not in str(e) for e in journal)  # masked, also in a shared store


def _many_concurrent_creates(processes: Processes, count: int = 200) -> None:
    roots = processes.roots * (2 // len(processes.roots))

    def create(n: int) -> str:
        with httpx.Client(timeout=30) as client:  # a connection each, so both processes get a share
            return str(_create(client, roots[n % len(roots)], **{"X-Mock-Duration": "1"})["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create, range(count)))
    assert len(set(ids)) == count
    listed = _state(processes.roots[-1])
    assert set(ids) <= set(listed) and len(listed) == count


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Workers]:
    with serve("--store", f"sqlite:///{tmp_path / 'shared.db'}", "--workers", "2", "--log-level", "warning") as server:
        yield Workers(server.root)


def test_two_workers_over_sqlite_serve_one_set_of_jobs(two_workers: Workers) -> None:
    _one_job_through_both(two_workers)
    _control_state_is_shared(two_workers)


def test_two_hundred_concurrent_creates_across_two_workers_give_two_hundred_jobs(two_workers: Workers) -> None:
    _many_concurrent_creates(two_workers)


@pytest.fixture
def two_servers_on_redis(redis_url: str) -> Iterator[Processes]:
    store = f"{redis_url}?prefix=serve{uuid.uuid4().hex[:10]}:"
    with ExitStack() as stack:
        servers: list[RunningServer] = [stack.enter_context(serve("--store", store, "--log-level", "warning")) for _ in range(2)]
        yield Processes([s.root for s in servers])


def test_two_servers_on_one_redis_serve_one_set_of_jobs(two_servers_on_redis: Processes) -> None:
    _one_job_through_both(two_servers_on_redis)
    _control_state_is_shared(two_servers_on_redis)


def test_two_hundred_concurrent_creates_across_two_servers_on_redis(two_servers_on_redis: Processes) -> None:
    _many_concurrent_creates(two_servers_on_redis)


def test_a_webhook_registered_through_one_server_is_sent_once_for_a_job_made_through_the_other(
    two_servers_on_redis: Processes,
) -> None:
    from tests.test_webhooks import Receiver

    receiver = Receiver()
    try:
        with two_servers_on_redis.on(0) as (a, root_a, _):
            a.post(f"{root_a}/__mock/clock/freeze").raise_for_status()
            a.post(f"{root_a}/__mock/webhooks", json={"url": receiver.url, "api_key": KEY}).raise_for_status()
        with two_servers_on_redis.on(1) as (b, root_b, _):
            created = _create(b, root_b, **{"X-Mock-Duration": "2"})
            b.post(f"{root_b}/__mock/clock/advance", json={"seconds": 10}).raise_for_status()
        ((headers, body),) = receiver.wait_for(1)
        assert json.loads(body)["data"]["id"] == created["id"]
        with two_servers_on_redis.on(0) as (a, root_a, _):
            deadline = time.monotonic() + 10
            while True:  # the delivery log, written by whichever server sent it, read through the other
                deliveries = a.get(f"{root_a}/__mock/webhooks/deliveries", params={"video_id": created["id"]}).json()["data"]
                if deliveries and deliveries[0]["status"] == "delivered":
                    break
                assert time.monotonic() < deadline, deliveries
                time.sleep(0.05)  # a poll interval, bounded by the deadline above
            assert [d["webhook_id"] for d in deliveries] == [headers["webhook-id"]]
        # Both servers' dispatchers look for due jobs at least twice a second; still exactly one call.
        with pytest.raises(TimeoutError):
            receiver.wait_for(2, deadline_s=1.5)
    finally:
        receiver.close()


def test_a_redis_that_goes_away_gives_503_envelopes_not_500s_or_hangs() -> None:
    from tests.redis_server import redis_server

    redis = redis_server()
    url = redis.__enter__()
    try:
        with serve("--store", url + "?prefix=gone:", "--log-level", "critical") as server, httpx.Client(timeout=30) as client:
            created = _create(client, server.root)
            redis.__exit__(None, None, None)  # Redis stops; the fake stays up
            redis_port = url.rsplit(":", 1)[1].split("/")[0]
            for method, path in [("GET", f"/v1/videos/{created['id']}"), ("POST", "/v1/videos"), ("GET", "/v1/videos")]:
                response = client.request(method, f"{server.root}{path}", headers=AUTH, json={"prompt": "x"} if method == "POST" else None)
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["code"] == "store_unavailable" and f"127.0.0.1:{redis_port}" in error["message"]
            # Health says so too, so a load balancer in front of several fakes stops sending them work.
            health = client.get(f"{server.root}/__mock/health")
            assert health.status_code == 503 and health.json()["error"]["code"] == "store_unavailable"
    finally:
        redis.__exit__(None, None, None)  # a no-op when it already stopped
