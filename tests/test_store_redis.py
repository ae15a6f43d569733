"""What only the Redis store promises, on a real redis-server: passwords stay hidden, every key lives under
the fake's prefix, concurrent writers lose nothing, and a Redis that stops answering is an error, not a hang.

The promises every back-end keeps are in test_store_backends.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import redis

from mockserver.core.jobs import Job
from mockserver.store import Store, StoreError, open_store
from tests.redis_server import redis_server

OWNER = "owner-a"


def _job(job_id: str, created_at: float = 1000.0) -> Job:
    return Job(id=job_id, owner=OWNER, model="sora-2", prompt="a cat", size="720x1280", seconds="4",
               created_at=created_at, queue_seconds=2.0, render_seconds=4.0)


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """Runs `call` in a thread and returns what it returned or raised; fails if it is still running after `seconds`."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:  # handed to the test, which asserts on it
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), f"the store call was still waiting after {seconds}s"
    return outcome[0]


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_a_password_never_shows_in_the_store_url_or_its_errors(redis_url: str, raw: redis.Redis) -> None:
    user, password = f"fake{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    address = urlsplit(redis_url).netloc
    try:
        store = open_store(f"redis://{user}:{password}@{address}/0?prefix={_prefix()}")
        try:
            assert store.next_number("video") == 1  # the password was used
            assert password not in store.url and store.url.startswith(f"redis://{user}:***@{address}/0")
        finally:
            store.close()
        with pytest.raises(StoreError, match="password") as wrong:
            open_store(f"redis://{user}:wrong-{password}@{address}/0")
        with pytest.raises(StoreError, match="127.0.0.1:1") as unreachable:
            open_store(f"redis://{user}:{password}@127.0.0.1:1/0")
        for error in (wrong.value, unreachable.value):
            assert password not in str(error)
    finally:
        raw.execute_command("ACL", "DELUSER", user)


def test_every_key_lives_under_the_prefix_and_clear_removes_only_those(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/9"  # a database of this test's own on the worker's server
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    # The prefix has glob characters: an unescaped SCAN MATCH "fake?:*" would take "fakeX:..." too.
    prefix = "fake?[1]:"
    neighbours = {b"fakeX1]:jobs", b"fake?1:jobs", b"other:numbers"}
    for key in neighbours:
        raw.set(key, "someone else's")
    store = open_store(f"{url}?prefix={prefix}")
    try:
        store.add(_job("video_1"))
        store.add(_job("video_2"))
        store.delete("video_2")
        store.page(OWNER, after="video_2", limit=5, descending=True)
        store.put_doc("journal", "e1", {"status": 200}, keep=1)
        store.put_doc("journal", "e2", {"status": 201}, keep=1)
        store.update("limits", OWNER, lambda current: ({"count": 1}, None))
        store.next_number("video")
        assert store.claim_due(1006.0) == ["video_1"]
        store.put_doc("characters", "char_1", {"name": "Mossy"})

        written = set(raw.scan_iter(count=1000)) - neighbours
        assert written and all(key.startswith(prefix.encode()) for key in written), written
        store.clear()
        # What stays is the change tokens' hash, holding only the clear's own token (store/cached.py
        # relies on a token never coming back after a clear).
        versions = f"{prefix}versions".encode()
        assert set(raw.scan_iter(count=1000)) == neighbours | {versions}
        assert list(raw.hgetall(versions)) == [b"*"]
    finally:
        store.close()
        raw.flushdb()
        raw.close()


def test_200_concurrent_creates_from_two_stores_are_200_distinct_listed_jobs_announced_once(redis_url: str) -> None:
    url = f"{redis_url}?prefix={_prefix()}"
    stores: list[Store] = [open_store(url), open_store(url)]  # two workers' views
    errors: list[BaseException] = []

    def create(store: Store, count: int) -> None:
        try:
            for _ in range(count):
                number = store.next_number("video")
                store.add(_job(f"video_{number}", created_at=1000.0 + number))
        except BaseException as error:  # reported by the test below
            errors.append(error)

    try:
        threads = [threading.Thread(target=create, args=(stores[i % 2], 25)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads) and not errors, errors

        listed: list[str] = []
        after = None
        for _ in range(20):  # 200 jobs in pages of 30: 7 pages
            page = stores[1].page(OWNER, after=after, limit=30, descending=False)
            listed += [job.id for job in page.jobs]
            if not page.has_more:
                break
            after = page.jobs[-1].id
        assert sorted(listed) == sorted(f"video_{n}" for n in range(1, 201))
        assert len(stores[0]) == 200

        claimed: list[list[str]] = [[], []]

        def claim(index: int) -> None:
            for _ in range(200):
                batch = stores[index].claim_due(10**9, limit=7)
                if not batch:
                    return
                claimed[index] += batch

        claimers = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for thread in claimers:
            thread.start()
        for thread in claimers:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in claimers)
        assert sorted(claimed[0] + claimed[1]) == sorted(listed)  # every job announced once, by one of them
    finally:
        for store in stores:
            store.close()


def test_a_redis_that_stops_answering_or_goes_away_is_a_store_error_not_a_hang() -> None:
    user, password = "fake", f"pw-{uuid.uuid4().hex}"
    with redis_server() as url:
        address = urlsplit(url).netloc
        raw = redis.Redis.from_url(url)
        raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
        pid = int(raw.info("server")["process_id"])
        store = open_store(f"redis://{user}:{password}@{address}/0?socket_timeout=0.5")
        store.add(_job("video_1"))
        os.kill(pid, signal.SIGSTOP)  # alive but silent, like a Redis stuck on a slow disk
        try:
            stalled = _within(30, lambda: store.get("video_1"))
        finally:
            os.kill(pid, signal.SIGCONT)
        assert isinstance(stalled, StoreError) and "did not answer" in str(stalled) and address in str(stalled)
        # Answering again: the fake finds it by itself, within a few of its background PINGs.
        deadline = time.monotonic() + 10
        while isinstance(_within(5, lambda: store.get("video_1")), StoreError) and time.monotonic() < deadline:
            time.sleep(0.05)  # a poll interval, bounded by the deadline above
        assert store.get("video_1") == _job("video_1")
        raw.close()
    gone = _within(30, lambda: store.get("video_1"))
    assert isinstance(gone, StoreError) and address in str(gone) and "redis-server" in str(gone)
    assert password not in str(stalled) + str(gone)
    store.close()


def test_a_redis_that_forgot_the_scripts_is_served_as_before(redis_url: str, raw: redis.Redis) -> None:
    store = open_store(f"{redis_url}?prefix={_prefix()}")
    try:
        store.add(_job("video_1"))
        raw.script_flush()  # what a Redis restart or failover does to the script cache
        store.add(_job("video_2"))
        assert [job.id for job in store.page(OWNER, after=None, limit=5, descending=False).jobs] == ["video_1", "video_2"]
    finally:
        store.close()


def test_an_update_that_keeps_losing_to_other_writers_gives_up_with_a_clear_error(redis_url: str) -> None:
    url = f"{redis_url}?prefix={_prefix()}"
    store, other = open_store(url), open_store(url)
    store.max_update_attempts = 4  # type: ignore[attr-defined]
    writes = iter(range(100))

    def change(current: Any) -> tuple[Any, None]:
        other.put_doc("limits", "shared", {"by": "other", "n": next(writes)})  # someone else always gets there first
        return {"by": "store"}, None

    try:
        with pytest.raises(StoreError, match="gave up updating limits/shared"):
            store.update("limits", "shared", change)
        assert store.get_doc("limits", "shared") == {"by": "other", "n": 3}  # nothing half-written over theirs
    finally:
        store.close()
        other.close()


@pytest.mark.parametrize(
    "query, says",
    [
        ("/99", "database"),
        ("/0?prefix=", "prefix= must not be empty"),
        ("/0?socket_timeout=soon", "socket_timeout"),
        ("/0?colour=blue", "colour"),
    ],
)
def test_a_redis_url_that_cannot_work_says_what_to_fix(redis_url: str, query: str, says: str) -> None:
    with pytest.raises(StoreError, match=says):
        open_store(redis_url.rsplit("/", 1)[0] + query)
