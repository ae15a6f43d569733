"""A shared store's per-process copies and batched journal writes (mockserver/store/cached.py) never
show one process something older than what another process has already answered.

Two `mockserver serve` processes on one SQLite file or one Redis: each test first makes process B
read (and so copy) the state, changes it through process A, and asks B again at once. Then the
journal: requests answered concurrently by both processes, written in batches, are all there, once,
numbered in order, and each is in the other process's journal by the time its client has the answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from mockserver.store.cached import Batch, CachedStore
from mockserver.store.redis import RedisStore
from mockserver.store.sqlite import SQLiteStore
from tests.processes import serve

KEY = "sk-copies-7431"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    redis_url = request.getfixturevalue("redis_url")
    return f"{redis_url}?prefix=copies{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def two(store_url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with ExitStack() as stack:
        roots = [stack.enter_context(serve("--store", store_url, "--log-level", "warning")).root for _ in range(2)]
        clients = [stack.enter_context(httpx.Client(base_url=root, timeout=10)) for root in roots]
        yield clients[0], clients[1]


def _create(client: httpx.Client, **headers: str) -> dict:
    response = client.post("/v1/videos", json={"prompt": "a lighthouse"}, headers={**AUTH, **headers})
    assert response.status_code == 200, response.text
    return response.json()


def _status(client: httpx.Client, video_id: str) -> str:
    response = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def test_a_clock_change_through_one_process_is_the_time_of_the_others_next_answer(two) -> None:
    a, b = two
    job = _create(b, **{"X-Mock-Duration": "600"})
    assert _status(b, job["id"]) in ("queued", "in_progress")  # B has read the clock (real time)
    a.post("/__mock/clock/advance", json={"seconds": 3600}).raise_for_status()
    assert _status(b, job["id"]) == "completed"
    a.post("/__mock/clock/real").raise_for_status()  # back to real time: the job is pending again
    assert _status(b, job["id"]) in ("queued", "in_progress")
    a.post("/__mock/clock/freeze").raise_for_status()
    frozen = b.get("/__mock/clock").json()
    assert frozen["frozen"] is True
    assert b.get("/__mock/clock").json()["now"] == frozen["now"]


def test_a_fault_added_or_removed_through_one_process_acts_on_the_others_next_request(two) -> None:
    a, b = two
    job = _create(b)
    assert b.get(f"/v1/videos/{job['id']}", headers=AUTH).status_code == 200  # B has read "no rules"
    added = a.post("/__mock/faults", json={"method": "GET", "path": "/v1/videos/*", "status": 503})
    added.raise_for_status()
    refused = b.get(f"/v1/videos/{job['id']}", headers=AUTH)
    assert refused.status_code == 503 and refused.json()["error"]["type"] == "server_error"
    assert [rule["status"] for rule in b.get("/__mock/faults").json()["faults"]] == [503]
    a.delete("/__mock/faults").raise_for_status()
    assert b.get(f"/v1/videos/{job['id']}", headers=AUTH).status_code == 200


def test_an_outcome_scripted_through_one_process_is_taken_by_the_others_next_create(two) -> None:
    a, b = two
    assert _create(b)["status"] == "queued"  # B has read both (empty) queues of this key
    a.post("/__mock/outcomes", json={"outcomes": ["failed:moderation_blocked"], "api_key": KEY}).raise_for_status()
    scripted = _create(b)
    a.post("/__mock/clock/advance", json={"seconds": 3600}).raise_for_status()
    failed = b.get(f"/v1/videos/{scripted['id']}", headers=AUTH).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation_blocked"
    # Taken once: the next create through either process is an ordinary job again.
    left = a.get("/__mock/outcomes").json()
    assert left["shared"] == [] and all(queue == [] for queue in left["by_owner"].values())
    follow = _create(a)
    a.post("/__mock/clock/advance", json={"seconds": 3600}).raise_for_status()
    assert b.get(f"/v1/videos/{follow['id']}", headers=AUTH).json()["status"] == "completed"


def test_a_job_deleted_or_reset_through_one_process_is_gone_from_the_other(two) -> None:
    a, b = two
    first, second = _create(a), _create(a)
    a.post("/__mock/clock/advance", json={"seconds": 3600}).raise_for_status()  # a pending job cannot be deleted
    for job in (first, second):
        assert _status(b, job["id"]) == "completed"  # B keeps a copy of each
    assert a.delete(f"/v1/videos/{first['id']}", headers=AUTH).json()["deleted"] is True
    assert b.get(f"/v1/videos/{first['id']}", headers=AUTH).status_code == 404
    a.post("/__mock/reset").raise_for_status()
    gone = b.get(f"/v1/videos/{second['id']}", headers=AUTH)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "video_not_found"


def test_journal_entries_written_in_batches_by_both_processes_are_all_there_once_in_order(two) -> None:
    a, b = two
    job = _create(a, **{"X-Mock-Duration": "600"})
    roots = [str(a.base_url), str(b.base_url)]

    def poll(n: int) -> str:
        with httpx.Client(base_url=roots[n % 2], timeout=10) as client:
            response = client.get(f"/v1/videos/{job['id']}", headers=AUTH)
            assert response.status_code == 200
            return response.headers["x-request-id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        request_ids = list(pool.map(poll, range(200)))
    for client in (a, b):
        entries = client.get("/__mock/journal", params={"path": f"/v1/videos/{job['id']}"}).json()["data"]
        assert sorted(e["request_id"] for e in entries) == sorted(request_ids)
        seqs = [e["seq"] for e in client.get("/__mock/journal").json()["data"]]
        assert seqs == sorted(set(seqs)), "every entry numbered once, listed in order"
    # Each answer's entry is already in the other process's journal when its client has it.
    for client, other in ((a, b), (b, a)):
        answered = client.get(f"/v1/videos/{job['id']}", headers=AUTH)
        newest = other.get("/__mock/journal", params={"limit": 1}).json()["data"]
        assert newest[0]["request_id"] == answered.headers["x-request-id"]


def test_creates_stored_in_batches_are_each_readable_through_the_other_process_once_answered(two) -> None:
    a, b = two
    roots = [str(a.base_url), str(b.base_url)]

    def create_then_read_elsewhere(n: int) -> str:
        with httpx.Client(base_url=roots[n % 2], timeout=10) as here, httpx.Client(base_url=roots[1 - n % 2], timeout=10) as there:
            created = _create(here)
            seen = there.get(f"/v1/videos/{created['id']}", headers=AUTH)
            assert seen.status_code == 200, seen.text  # stored before its create was answered
            return str(created["id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(create_then_read_elsewhere, range(120)))
    assert len(set(ids)) == 120
    listed = b.get("/v1/videos", params={"limit": 100, "order": "asc"}, headers=AUTH).json()
    rest = b.get("/v1/videos", params={"limit": 100, "order": "asc", "after": listed["data"][-1]["id"]}, headers=AUTH)
    assert sorted(v["id"] for v in listed["data"] + rest.json()["data"]) == sorted(ids)


# -- the copies and batches themselves, with two stores on one back-end in this process ------------------


@pytest.fixture(params=["sqlite", "redis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CachedStore, SQLiteStore | RedisStore]]:
    """A store with copies and a plain one on the same back-end: two processes, in this one."""
    if request.param == "sqlite":
        cached, other = CachedStore(SQLiteStore(tmp_path / "pair.db"), kinds=("settings",)), SQLiteStore(tmp_path / "pair.db")
    else:
        url = f"{request.getfixturevalue('redis_url')}?prefix=pair{uuid.uuid4().hex[:10]}:"
        cached, other = CachedStore(RedisStore.from_url(url), kinds=("settings",)), RedisStore.from_url(url)
    try:
        yield cached, other
    finally:
        cached.close()
        other.close()


def test_copies_last_until_another_store_writes_and_a_clear_drops_every_one(pair) -> None:
    cached, other = pair
    other.put_doc("settings", "clock", {"speed": 1})
    cached.refresh()
    assert cached.get_doc("settings", "clock") == {"speed": 1}
    other.put_doc("settings", "clock", {"speed": 2})
    assert cached.get_doc("settings", "clock") == {"speed": 1}, "a copy is used until the next refresh"
    cached.refresh()
    assert cached.get_doc("settings", "clock") == {"speed": 2}
    other.update("settings", "clock", lambda doc: ({"speed": 3}, None))
    cached.refresh()
    assert cached.docs("settings") == [{"speed": 3}]
    other.delete_docs("settings")
    cached.refresh()
    assert cached.get_doc("settings", "clock") is None
    # A clear drops everything, even names nothing had written since: the old tokens never return.
    other.put_doc("settings", "clock", {"speed": 4})
    cached.refresh()
    assert cached.get_doc("settings", "clock") == {"speed": 4}
    other.clear()
    other.put_doc("settings", "clock", {"speed": 4})  # the same document again, written after the clear
    cached.refresh()
    other.clear()
    cached.refresh()
    assert cached.get_doc("settings", "clock") is None


def test_a_job_copy_is_dropped_by_a_delete_or_a_clear_elsewhere(pair) -> None:
    from mockserver.core.jobs import Job

    cached, other = pair
    job = Job("video_1", "o", "sora-2", "p", "720x1280", "4", created_at=1, queue_seconds=1, render_seconds=1)
    other.add(job)
    cached.refresh()
    assert cached.get("video_1") == job
    other.delete("video_1")
    cached.refresh()
    assert cached.get("video_1") is None
    other.add(job)
    assert cached.get("video_1") == job
    other.clear()
    cached.refresh()
    assert cached.get("video_1") is None


def test_appends_from_two_stores_are_numbered_once_each_and_kept_to_the_bound(pair) -> None:
    cached, other = pair

    async def both() -> list[int]:
        ours = [cached.append_soon("journal", {"n": i}, keep=25) for i in range(20)]
        theirs = other.append_numbered("journal", [{"n": 100 + i} for i in range(10)], keep=25)
        return [*await asyncio.gather(*ours), *theirs]

    numbers = asyncio.run(both())
    assert sorted(numbers) == list(range(1, 31))
    kept = other.docs("journal")
    assert [doc["seq"] for doc in kept] == list(range(6, 31))  # the newest 25, oldest first


def test_a_batch_flushes_once_per_loop_turn_and_gives_its_error_to_every_waiter() -> None:
    calls: list[list[int]] = []

    def flush(items: list[int]) -> list[int]:
        calls.append(items)
        if -1 in items:
            raise RuntimeError("the store is down")
        return [item * 10 for item in items]

    batch: Batch[int, int] = Batch(flush)

    async def scenario() -> None:
        assert await asyncio.gather(batch(1), batch(2), batch(3)) == [10, 20, 30]
        assert await batch(4) == 40
        failed = await asyncio.gather(batch(5), batch(-1), return_exceptions=True)
        assert all(isinstance(error, RuntimeError) for error in failed)
        waiting = asyncio.ensure_future(batch(6))
        kept = asyncio.ensure_future(batch(7))
        await asyncio.sleep(0)  # both submitted, not yet flushed
        waiting.cancel()
        assert await kept == 70

    asyncio.run(scenario())
    assert calls == [[1, 2, 3], [4], [5, -1], [6, 7]]
