"""What only the SQLite store promises: real processes sharing one file, surviving SIGKILL, and a schema it manages.

Every child is a real `python -c` process on the same file, as `serve --workers N` would run them.
Children that must race wait at a start line (a line on stdin) so they really do start together.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import pytest

from mockserver.core.jobs import Job
from mockserver.store import StoreError, open_store
from mockserver.store.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.processes import REPO

DEADLINE_S = 60.0

# Children build the same jobs the parent expects, so "came back exactly" is checkable.
JOB = """
import json, sys
from mockserver.core.jobs import Job
def job(job_id, owner="owner-a"):
    return Job(id=job_id, owner=owner, model="sora-2", prompt="a cat", size="720x1280", seconds="4",
               created_at=1000.0, queue_seconds=2.0, render_seconds=4.0)
"""


def job(job_id: str, owner: str = "owner-a") -> Job:
    namespace: dict[str, object] = {}
    exec(JOB, namespace)
    return namespace["job"](job_id, owner)  # type: ignore[operator,no-any-return]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", JOB + code, *args], cwd=REPO, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _race(code: str, url: str, count: int) -> list[dict]:
    """Starts `count` children, lets them all past the start line at once, and returns each one's JSON answer."""
    gate = "print('ready', flush=True)\nsys.stdin.readline()\n"
    with ExitStack() as stack:  # leaving it closes every pipe and reaps every child
        children = [stack.enter_context(_python(gate + code, url, str(n))) for n in range(count)]
        stack.callback(_kill_the_living, children)
        watchdog = threading.Timer(DEADLINE_S, _kill_the_living, [children])
        watchdog.start()
        stack.callback(watchdog.cancel)
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n", child.stderr and child.stderr.read()
        for child in children:  # every child is released before any is waited for
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.close()
        answers = []
        for child in children:  # the watchdog bounds these reads: children print little
            assert child.stdout is not None and child.stderr is not None
            output, errors = child.stdout.read(), child.stderr.read()
            assert child.wait(timeout=DEADLINE_S) == 0, errors
            answers.append(json.loads(output))
        return answers


def _kill_the_living(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def opened(url: str) -> Iterator[list[SQLiteStore]]:
    stores: list[SQLiteStore] = []
    yield stores
    for store in stores:
        store.close()


def _open(url: str, opened: list[SQLiteStore]) -> SQLiteStore:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    opened.append(store)
    return store


def test_two_processes_adding_at_once_make_200_distinct_jobs_in_one_listing(url: str, opened: list[SQLiteStore]) -> None:
    answers = _race(
        """
from mockserver.store import open_store
store = open_store(sys.argv[1])
ids = []
for _ in range(100):
    ids.append(f"video_{store.next_number('video')}")
    store.add(job(ids[-1]))
print(json.dumps(ids))
""",
        url, 2,
    )
    created = [job_id for ids in answers for job_id in ids]
    assert len(set(created)) == 200
    assert sorted(int(job_id.split("_")[1]) for job_id in created) == list(range(1, 201))  # no number handed out twice

    store = _open(url, opened)
    assert len(store) == 200
    listed: list[str] = []
    after = None
    for _ in range(10):  # 200 jobs in pages of 50: four pages and a bit of slack
        page = store.page("owner-a", after=after, limit=50, descending=False)
        listed += [j.id for j in page.jobs]
        if not page.has_more:
            break
        after = listed[-1]
    assert sorted(listed) == sorted(created)
    assert all(store.get(job_id) == job(job_id) for job_id in created)


def test_two_processes_claiming_at_once_announce_each_finished_job_once(url: str, opened: list[SQLiteStore]) -> None:
    store = _open(url, opened)
    for n in range(200):
        store.add(job(f"video_{n}"))  # all finish at 1006
    answers = _race(
        """
from mockserver.store import open_store
store = open_store(sys.argv[1])
claimed = []
for _ in range(1000):  # bounded: 200 jobs in batches of at most 7
    batch = store.claim_due(5000.0, limit=7)
    if not batch:
        break
    claimed += batch
print(json.dumps(claimed))
""",
        url, 2,
    )
    claimed = answers[0] + answers[1]
    assert len(claimed) == len(set(claimed)) == 200
    assert store.next_due() is None


def test_every_job_acknowledged_before_a_sigkill_is_there_after_it(url: str, opened: list[SQLiteStore]) -> None:
    child = _python(
        """
from mockserver.store import open_store
store = open_store(sys.argv[1])
for n in range(1_000_000):  # bounded; the parent kills it long before the end
    store.add(job(f"video_{n}"))
    hits = store.update("counters", "hits", lambda cur: ((cur or 0) + 1, (cur or 0) + 1))
    print(f"video_{n} {hits}", flush=True)  # printed only once both are committed
""",
        url,
    )
    acknowledged: list[str] = []
    with child, ExitStack() as stack:  # leaving it closes the pipes and reaps the child
        stack.callback(_kill_the_living, [child])
        watchdog = threading.Timer(DEADLINE_S, child.kill)
        watchdog.start()
        stack.callback(watchdog.cancel)
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:
            acknowledged.append(line.split()[0])
            if len(acknowledged) == 300:
                break
        child.send_signal(signal.SIGKILL)  # mid-run: it is between two writes, or in one
        assert child.wait(timeout=DEADLINE_S) == -signal.SIGKILL, child.stderr.read()
    assert len(acknowledged) == 300

    store = _open(url, opened)
    assert all(store.get(job_id) == job(job_id) for job_id in acknowledged)
    assert store.get_doc("counters", "hits") >= 300
    listed = store.page("owner-a", after=None, limit=300, descending=False).jobs
    assert [j.id for j in listed] == acknowledged  # in creation order, nothing lost in between


def test_a_file_from_a_newer_mockserver_is_refused_with_what_to_do(url: str, tmp_path: Path, opened: list[SQLiteStore]) -> None:
    _open(url, opened).add(job("video_1"))
    opened.pop().close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=rf"newer mockserver.*v{SCHEMA_VERSION + 1}.*upgrade mockserver"):
        open_store(url)


def test_the_schema_is_created_once_when_four_processes_open_a_new_file_together(url: str, opened: list[SQLiteStore]) -> None:
    answers = _race(
        """
from mockserver.store import open_store
store = open_store(sys.argv[1])
store.add(job(f"video_{sys.argv[2]}"))
print(json.dumps(store.found_version))
""",
        url, 4,
    )
    assert sorted(answers) == [0] + [SCHEMA_VERSION] * 3  # one created the schema, three found it made
    store = _open(url, opened)
    assert store.found_version == SCHEMA_VERSION
    listed = store.page("owner-a", after=None, limit=10, descending=False).jobs
    assert sorted(j.id for j in listed) == [f"video_{n}" for n in range(4)]


def test_a_relative_path_is_taken_from_the_working_directory_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[SQLiteStore]
) -> None:
    monkeypatch.chdir(tmp_path)
    store = _open("sqlite:///relative.db", opened)
    assert store.url == "sqlite:///relative.db"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    store.add(job("video_1"))  # a later chdir does not move the store
    assert (tmp_path / "relative.db").exists() and not (tmp_path / "elsewhere" / "relative.db").exists()
    assert store.get("video_1") == job("video_1")


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda path: path.write_text("not a database, just text\n" * 100), "cannot use .*state.db.*not a database"),
        (lambda path: path.mkdir(), "is a directory"),
    ],
)
def test_a_path_that_is_no_sqlite_file_says_so(url: str, tmp_path: Path, make: object, says: str) -> None:
    make(tmp_path / "state.db")  # type: ignore[operator]
    with pytest.raises(StoreError, match=says):
        open_store(url)


def test_an_in_memory_sqlite_url_points_to_the_memory_store() -> None:
    with pytest.raises(StoreError, match="use memory:"):
        open_store("sqlite:///:memory:")


def test_an_update_that_raises_changes_nothing_and_the_store_stays_usable(url: str, opened: list[SQLiteStore]) -> None:
    store, other = _open(url, opened), _open(url, opened)
    store.put_doc("settings", "clock", {"speed": 1})

    def refuse(current: object) -> tuple[object, None]:
        raise ValueError("the clock only moves forward")

    with pytest.raises(ValueError, match="only moves forward"):
        store.update("settings", "clock", refuse)
    assert store.get_doc("settings", "clock") == {"speed": 1}
    # The write lock was given back: another connection can write, and so can this one.
    other.put_doc("settings", "clock", {"speed": 2})
    assert store.update("settings", "clock", lambda cur: ({"speed": cur["speed"] * 3}, cur["speed"])) == 2
    assert other.get_doc("settings", "clock") == {"speed": 6}
