"""GET /__mock/jobs and the admin's media route, against a real server: every key's jobs, keys masked,
the documented shapes, and the MP4 with Range through a signed URL (the dashboard's `<video>`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.processes import RunningServer, serve
from tests.test_control_api import ControlDocument

TOKEN = "admin-token-jobs-9d2f"
KEY_A = "sk-jobs-listing-aaaa-1111"
KEY_B = "sk-jobs-listing-bbbb-2222"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve("--admin-token", TOKEN) as running:
        yield running


@pytest.fixture
def admin(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.root, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        client.post("/__mock/reset").raise_for_status()
        client.post("/__mock/clock/freeze").raise_for_status()
        yield client


def sdk(server: RunningServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def test_every_keys_jobs_are_listed_newest_first_with_masked_keys_and_their_state_now(
    server: RunningServer, admin: httpx.Client
) -> None:
    doc = ControlDocument()
    first = sdk(server, KEY_A).videos.create(prompt="a harbour at dawn", model="sora-2")
    second = sdk(server, KEY_B).videos.create(
        prompt="a desert road", model="sora-2-pro", extra_headers={"X-Mock-Outcome": "failed:moderation_blocked"}
    )
    listed = admin.get("/__mock/jobs")
    doc.check("GET", "/__mock/jobs", listed)
    body = listed.json()
    assert [job["id"] for job in body["data"]] == [second.id, first.id]
    assert body["total"] == 2 and body["has_more"] is False
    assert KEY_A not in listed.text and KEY_B not in listed.text
    newest, oldest = body["data"]
    assert oldest["key"] == "sk-...1111" and newest["key"] == "sk-...2222"
    assert (oldest["status"], oldest["progress"], oldest["outcome"]) == ("queued", 0, "completed")
    assert newest["outcome"] == "failed:moderation_blocked" and newest["model"] == "sora-2-pro"
    assert body["poll_after_ms"] == 2000  # frozen: nothing changes until someone moves the clock

    admin.post("/__mock/clock/advance", json={"seconds": 3}).raise_for_status()
    running = admin.get("/__mock/jobs", params={"status": "in_progress"}).json()
    assert [job["id"] for job in running["data"]] == [second.id, first.id]
    admin.post("/__mock/clock/unfreeze").raise_for_status()
    assert admin.get("/__mock/jobs").json()["poll_after_ms"] <= 1000  # a progress bar is moving
    admin.post("/__mock/clock/freeze").raise_for_status()
    admin.post("/__mock/clock/advance", json={"seconds": 60}).raise_for_status()
    owner_b = newest["owner"]
    failed = admin.get("/__mock/jobs", params={"owner": owner_b, "status": "failed"}).json()["data"]
    assert [job["id"] for job in failed] == [second.id]
    assert failed[0]["error"] == {
        "code": "moderation_blocked",
        "message": "Your request was blocked by our moderation system.",
    }
    assert admin.get("/__mock/jobs", params={"owner": owner_b, "status": "completed"}).json()["data"] == []
    assert [job["id"] for job in admin.get("/__mock/jobs", params={"limit": 1}).json()["data"]] == [second.id]

    refused = httpx.get(f"{server.root}/__mock/jobs")
    doc.check("GET", "/__mock/jobs", refused)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_admin_token"
    bad = admin.get("/__mock/jobs", params={"limit": "0"})
    doc.check("GET", "/__mock/jobs", bad)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"


def test_a_jobs_page_has_its_timeline_its_video_object_and_signed_media_urls_that_serve_ranges(
    server: RunningServer, admin: httpx.Client
) -> None:
    doc = ControlDocument()
    video = sdk(server, KEY_A).videos.create(prompt="a train in the snow", model="sora-2", size="1280x720", seconds="8")
    pending = admin.get(f"/__mock/jobs/{video.id}")
    doc.check("GET", "/__mock/jobs/{video_id}", pending)
    assert pending.json()["media"] == {"video": None, "thumbnail": None, "spritesheet": None}
    assert [step["reached"] for step in pending.json()["timeline"]] == [True, False, False, False]
    early = admin.get(f"/__mock/jobs/{video.id}/content")
    assert early.status_code == 409 and early.json()["error"]["code"] == "video_not_ready"

    admin.post("/__mock/clock/advance", json={"seconds": 30}).raise_for_status()
    done = admin.get(f"/__mock/jobs/{video.id}")
    doc.check("GET", "/__mock/jobs/{video_id}", done)
    detail = done.json()
    assert detail["video"] == sdk(server, KEY_A).videos.retrieve(video.id).model_dump(exclude_unset=True)
    assert [step["event"] for step in detail["timeline"]] == ["created", "started", "finished", "expires"]
    assert [step["status"] for step in detail["timeline"]] == ["queued", "in_progress", "completed", "expired"]
    url = detail["media"]["video"]
    assert "signature=" in url and TOKEN not in url

    official = sdk(server, KEY_A).videos.download_content(video.id).read()
    anonymous = httpx.Client(base_url=server.root, timeout=10)
    whole = anonymous.get(url)  # no token: the signature is the authorisation
    assert whole.status_code == 200 and whole.content == official and whole.headers["content-type"] == "video/mp4"
    part = anonymous.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == official[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(official)}"
    thumbnail = anonymous.get(detail["media"]["thumbnail"])
    assert thumbnail.status_code == 200 and thumbnail.content[8:12] == b"WEBP"

    for forged in (
        url.replace("variant=video", "variant=thumbnail"),  # signed for another file
        url[:-4] + ("0000" if not url.endswith("0000") else "1111"),  # a changed signature
        url.split("&signature=")[0],  # none at all
    ):
        refused = anonymous.get(forged)
        assert refused.status_code == 401, forged
    expired = url.replace(f"expires={url.split('expires=')[1].split('&')[0]}", f"expires={int(time.time()) - 1}")
    assert anonymous.get(expired).status_code == 401
    missing = admin.get("/__mock/jobs/video_0123456789abcdef0123456789abcdef")
    doc.check("GET", "/__mock/jobs/{video_id}", missing)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "video_not_found"


def test_journal_entries_carry_each_requests_latency(server: RunningServer, admin: httpx.Client) -> None:
    doc = ControlDocument()
    admin.delete("/__mock/journal").raise_for_status()
    admin.post(
        "/__mock/faults", json={"path": "/v1/videos", "method": "GET", "latency_ms": 150, "times": 1}
    ).raise_for_status()
    sdk(server, KEY_A).videos.list()
    sdk(server, KEY_A).videos.list()
    journal = admin.get("/__mock/journal")
    doc.check("GET", "/__mock/journal", journal)
    slow, fast = journal.json()["data"]
    # The injected delay is part of it (less a millisecond: the delay is slept on the event loop's clock,
    # the latency read on another).
    assert slow["fault"] == "fault_1" and slow["latency_ms"] >= 149
    assert fast["fault"] is None and 0 < fast["latency_ms"] < slow["latency_ms"]


def test_the_dashboards_files_need_no_token_hold_no_data_and_allow_nothing_from_elsewhere(
    server: RunningServer,
) -> None:
    page = httpx.get(f"{server.root}/__mock/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = httpx.get(f"{server.root}/__mock/ui/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "http://" not in asset.text and "https://" not in asset.text  # nothing fetched from anywhere
    unknown = httpx.get(f"{server.root}/__mock/ui/__init__.py")  # in the package, not one of the files
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_on_a_shared_store_a_second_server_lists_the_jobs_the_first_made_with_their_masked_keys(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'state.db'}"
    with (
        serve("--store", store, "--log-level", "warning") as first,
        serve("--store", store, "--log-level", "warning") as second,
    ):
        created = {sdk(first, key).videos.create(prompt="a bridge", model="sora-2").id for key in (KEY_A, KEY_B) * 2}
        listed = httpx.get(f"{second.root}/__mock/jobs", timeout=10).json()["data"]
    assert {job["id"] for job in listed} == created
    assert {job["key"] for job in listed} == {"sk-...1111", "sk-...2222"}  # read from the shared journal
