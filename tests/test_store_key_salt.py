"""Salted key fingerprints do not orphan the jobs of a SQLite file or Redis database written before salts.

A store written by a server from before salts holds jobs fingerprinted as SHA-256 of the key alone and
no salt. Served again, it keeps the empty salt, so each key still finds its jobs; only a new store gets
a random salt. Each case runs `mockserver serve` on a real port against a real file or redis-server.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.core.jobs import Job
from mockserver.store import open_store
from tests.processes import serve

KEY, OTHER_KEY = "sk-from-before-salts-0001", "sk-from-before-salts-0002"


def _unsalted(key: str) -> str:
    """The fingerprint a server from before salts stored with a key's jobs."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield f"{request.getfixturevalue('redis_url')}?prefix=salt{uuid.uuid4().hex[:12]}:"


def _write_pre_salt_store(url: str) -> str:
    """A store as a server from before salts left it: one job of KEY, no salt. Returns the job's id."""
    store = open_store(url)
    try:
        store.add(
            Job(
                id="video_from_before_salts",
                owner=_unsalted(KEY),
                model="sora-2",
                prompt="an old job",
                size="720x1280",
                seconds="4",
                created_at=time.time(),
                queue_seconds=0.0,
                render_seconds=0.0,
            )
        )
    finally:
        store.close()
    return "video_from_before_salts"


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_a_store_with_jobs_and_no_salt_keeps_its_jobs_with_their_keys(store_url: str) -> None:
    video = _write_pre_salt_store(store_url)
    for _ in range(2):  # the first start keeps the empty salt, and so does every later one
        with serve("--store", store_url, "--log-level", "warning") as running:
            with httpx.Client(base_url=running.root, timeout=10) as client:
                assert client.get("/__mock/health").json()["key_salt"] == ""
                assert client.get(f"/v1/videos/{video}", headers=_auth(KEY)).status_code == 200
                assert client.get(f"/v1/videos/{video}", headers=_auth(OTHER_KEY)).status_code == 404
                listed = client.get("/v1/videos", headers=_auth(KEY)).json()["data"]
                assert video in [v["id"] for v in listed]
                # A job made now belongs to the same owner as the old one: one key, one list.
                new = client.post("/v1/videos", json={"prompt": "a new job"}, headers=_auth(KEY)).json()["id"]
                listed = client.get("/v1/videos", headers=_auth(KEY)).json()["data"]
                assert {video, new} <= {v["id"] for v in listed}
                owners = {e["owner"] for e in client.get("/__mock/journal", params={"limit": 3}).json()["data"]}
                assert owners == {_unsalted(KEY)}


def test_a_new_store_gets_a_random_salt(store_url: str) -> None:
    with serve("--store", store_url, "--log-level", "warning") as running:
        with httpx.Client(base_url=running.root, timeout=10) as client:
            salt = client.get("/__mock/health").json()["key_salt"]
            assert len(salt) == 32
            assert client.post("/v1/videos", json={"prompt": "x"}, headers=_auth(KEY)).status_code == 200
            owners = {e["owner"] for e in client.get("/__mock/journal", params={"limit": 1}).json()["data"]}
            assert owners and _unsalted(KEY) not in owners
