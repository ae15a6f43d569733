"""Every store back-end keeps the same promises: memory, SQLite (a real file) and Redis (a real server).

The server only talks to the `Store` interface, so these tests are what makes `--store` a free choice.
For the shared back-ends, two store objects on one URL stand in for two worker processes.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from mockserver.core.jobs import Job, Outcome
from mockserver.store import Store, StoreError, open_store

OWNER, OTHER = "owner-a", "owner-b"


def _job(job_id: str, owner: str = OWNER, created_at: float = 1000.0, **changes: object) -> Job:
    fields: dict[str, object] = dict(
        id=job_id, owner=owner, model="sora-2", prompt="a cat", size="720x1280", seconds="4",
        created_at=created_at, queue_seconds=2.0, render_seconds=4.0,
    )
    fields.update(changes)
    return Job(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens a store on one URL, as many times as a test asks (each a separate "process" view)."""
    if request.param == "memory":
        url = "memory:"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = f"{request.getfixturevalue('redis_url')}?prefix=t{uuid.uuid4().hex[:12]}:"
    opened: list[Store] = []

    def open_one() -> Store:
        if url == "memory:" and opened:
            return opened[0]  # a memory store is one process's own: every "view" is the same object
        opened.append(open_store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], Store]) -> Store:
    return opener()


def test_a_job_comes_back_exactly_as_it_was_stored(store: Store) -> None:
    failed = _job("video_1", outcome=Outcome.failure("content_policy_violation"), extras={"character": {"id": "char_1"}},
                  remixed_from_video_id="video_0", prompt=None)
    store.add(failed)
    assert store.get("video_1") == failed
    assert store.get("video_missing") is None
    assert len(store) == 1


def test_delete_removes_a_job_once(store: Store) -> None:
    store.add(_job("video_1"))
    assert store.delete("video_1") is True
    assert store.delete("video_1") is False
    assert store.get("video_1") is None
    assert len(store) == 0


def test_pages_follow_creation_order_per_owner_with_cursors(store: Store) -> None:
    for n in range(7):
        store.add(_job(f"video_{n}"))
        store.add(_job(f"other_{n}", owner=OTHER))
    first = store.page(OWNER, after=None, limit=3, descending=False)
    assert [j.id for j in first.jobs] == ["video_0", "video_1", "video_2"] and first.has_more
    second = store.page(OWNER, after="video_2", limit=3, descending=False)
    assert [j.id for j in second.jobs] == ["video_3", "video_4", "video_5"] and second.has_more
    last = store.page(OWNER, after="video_5", limit=3, descending=False)
    assert [j.id for j in last.jobs] == ["video_6"] and not last.has_more
    newest = store.page(OWNER, after=None, limit=2, descending=True)
    assert [j.id for j in newest.jobs] == ["video_6", "video_5"] and newest.has_more
    assert [j.id for j in store.page(OWNER, after="video_1", limit=5, descending=True).jobs] == ["video_0"]
    assert store.page("nobody", after=None, limit=5, descending=False).jobs == []


def test_a_deleted_job_still_works_as_a_cursor_and_an_unknown_cursor_gives_an_empty_page(store: Store) -> None:
    for n in range(4):
        store.add(_job(f"video_{n}"))
    store.delete("video_1")
    assert [j.id for j in store.page(OWNER, after=None, limit=10, descending=False).jobs] == ["video_0", "video_2", "video_3"]
    assert [j.id for j in store.page(OWNER, after="video_1", limit=10, descending=False).jobs] == ["video_2", "video_3"]
    assert store.page(OWNER, after="video_unknown", limit=10, descending=False).jobs == []
    # Another owner's id is no cursor for this owner.
    store.add(_job("other_0", owner=OTHER))
    assert store.page(OWNER, after="other_0", limit=10, descending=False).jobs == []


def test_each_finished_job_is_claimed_once_in_finish_order(opener: Callable[[], Store]) -> None:
    one, two = opener(), opener()
    one.add(_job("video_late", created_at=1000.0, render_seconds=50.0))  # finishes at 1052
    one.add(_job("video_early", created_at=1000.0))  # 1006
    one.add(_job("video_gone", created_at=1000.0))
    one.delete("video_gone")
    assert one.next_due() == pytest.approx(1006.0)
    assert two.claim_due(1005.0) == []
    assert two.claim_due(1006.0) == ["video_early"]
    assert one.claim_due(1006.0) == []  # claimed already, by the other view
    assert one.claim_due(2000.0) == ["video_late"]
    assert two.claim_due(2000.0) == []
    assert one.next_due() is None


def test_documents_keep_insertion_order_and_a_replacement_keeps_its_place(store: Store) -> None:
    store.put_doc("things", "a", {"n": 1})
    store.put_doc("things", "b", {"n": 2, "nested": {"list": [1, "x", None, True, 2.5]}})
    store.put_doc("things", "a", {"n": 3})
    assert store.docs("things") == [{"n": 3}, {"n": 2, "nested": {"list": [1, "x", None, True, 2.5]}}]
    assert store.get_doc("things", "a") == {"n": 3}
    assert store.get_doc("things", "zzz") is None
    assert store.docs("nothing") == []
    store.put_doc("other", "a", ["separate"])
    assert store.get_doc("other", "a") == ["separate"] and len(store.docs("things")) == 2


def test_keep_bounds_a_kind_to_its_newest_documents(store: Store) -> None:
    for n in range(10):
        store.put_doc("log", str(n), {"seq": n}, keep=4)
    assert [d["seq"] for d in store.docs("log")] == [6, 7, 8, 9]


def test_delete_docs_by_id_or_all_of_a_kind(store: Store) -> None:
    for n in range(5):
        store.put_doc("k", str(n), n)
    store.put_doc("kept", "x", 1)
    assert store.delete_docs("k", ["1", "3", "nope"]) == 2
    assert store.docs("k") == [0, 2, 4]
    assert store.delete_docs("k") == 3
    assert store.docs("k") == [] and store.docs("kept") == [1]


def test_update_creates_changes_and_deletes_and_returns_its_result(store: Store) -> None:
    assert store.update("counters", "c", lambda cur: ((cur or 0) + 1, "made")) == "made"
    assert store.update("counters", "c", lambda cur: (cur + 1, cur)) == 1
    assert store.get_doc("counters", "c") == 2
    assert store.update("counters", "c", lambda cur: (None, "gone")) == "gone"
    assert store.get_doc("counters", "c") is None


def test_concurrent_updates_from_two_views_lose_nothing(opener: Callable[[], Store]) -> None:
    views = [opener(), opener()]
    rounds = 60

    def bump(view: Store) -> None:
        for _ in range(rounds):
            view.update("counters", "hits", lambda cur: ((cur or 0) + 1, None))

    threads = [threading.Thread(target=bump, args=(views[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert views[0].get_doc("counters", "hits") == 4 * rounds


def test_numbers_count_per_name_across_views(opener: Callable[[], Store]) -> None:
    one, two = opener(), opener()
    assert [one.next_number("video"), two.next_number("video"), one.next_number("video")] == [1, 2, 3]
    assert two.next_number("fault") == 1


def test_two_views_of_one_store_see_each_others_jobs(opener: Callable[[], Store]) -> None:
    one, two = opener(), opener()
    one.add(_job("video_1"))
    two.put_doc("settings", "clock", {"speed": 2})
    assert two.get("video_1") == one.get("video_1")
    assert [j.id for j in two.page(OWNER, after=None, limit=5, descending=False).jobs] == ["video_1"]
    assert one.get_doc("settings", "clock") == {"speed": 2}
    assert two.delete("video_1") and one.get("video_1") is None


def test_recent_lists_every_owners_live_jobs_newest_first(opener: Callable[[], Store]) -> None:
    writer, reader = opener(), opener()
    for n, owner in enumerate([OWNER, OTHER, OWNER, OTHER, OWNER]):
        writer.add(_job(f"video_{n}", owner=owner, created_at=1000.0 + n))
    writer.delete("video_3")
    assert [job.id for job in reader.recent(10)] == ["video_4", "video_2", "video_1", "video_0"]
    assert [job.id for job in reader.recent(2)] == ["video_4", "video_2"]
    assert reader.recent(0) == []
    assert reader.recent(1)[0] == _job("video_4", created_at=1004.0)


def test_clear_forgets_everything(store: Store) -> None:
    store.add(_job("video_1"))
    store.put_doc("k", "a", 1)
    store.next_number("video")
    store.clear()
    assert len(store) == 0 and store.get("video_1") is None and store.docs("k") == []
    assert store.page(OWNER, after=None, limit=5, descending=False).jobs == []
    assert store.claim_due(10**9) == [] and store.next_due() is None
    assert store.next_number("video") == 1


def test_sqlite_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = open_store(url)
    first.add(_job("video_1"))
    first.put_doc("settings", "clock", {"frozen": True})
    first.close()
    second = open_store(url)
    try:
        assert second.get("video_1") == _job("video_1")
        assert second.get_doc("settings", "clock") == {"frozen": True}
        assert second.next_due() == pytest.approx(1006.0)
    finally:
        second.close()


def test_two_prefixes_on_one_redis_are_two_separate_fakes(redis_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    one, two = open_store(f"{redis_url}?prefix={tag}a:"), open_store(f"{redis_url}?prefix={tag}b:")
    try:
        one.add(_job("video_1"))
        assert two.get("video_1") is None and len(two) == 0
        two.clear()
        assert one.get("video_1") is not None  # clearing one prefix leaves the other alone
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgres://localhost/x", "unknown store"),
        ("sqlite://relative.db", "sqlite:///"),
        ("sqlite:///", "sqlite:///"),
        ("sqlite:////nonexistent-dir-for-mockserver/state.db", "nonexistent-dir-for-mockserver"),
        ("redis://127.0.0.1:1/0", "127.0.0.1:1"),
        ("redis://127.0.0.1:6379/notanumber", "database"),
    ],
)
def test_a_store_url_that_cannot_work_says_why(url: str, says: str) -> None:
    with pytest.raises(StoreError, match=says.replace(".", r"\.").replace("/", "/")):
        open_store(url)
