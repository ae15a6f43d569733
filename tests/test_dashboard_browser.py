"""The dashboard in real headless Chromium, against a real `mockserver serve` with an admin token.

Jobs come from the official openai SDK; every click is the page's own button. The tests save
screenshots of the jobs page and a job page (see tests/browser.py for where).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.browser import browser_page, require_browser, screenshot, wait_for
from tests.processes import RunningServer, serve

TOKEN = "admin-token-dashboard-5e8c1f"
KEY_A = "sk-dashboard-team-a-0001"
KEY_B = "sk-dashboard-team-b-0002"


@pytest.fixture
def server() -> Iterator[RunningServer]:
    require_browser()  # before a server is started for nothing
    with serve("--admin-token", TOKEN) as running:
        yield running


def sdk(server: RunningServer, key: str = KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def control(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.root, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def open_dashboard(page, server: RunningServer, view: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.root}/__mock/ui#token={TOKEN}")
    page.locator("#clock-now").filter(has_text="UTC").wait_for()
    if view:
        page.evaluate(f"location.hash = {view!r}")


def status_of(page, video_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f"#jobs-body tr[data-job-id='{video_id}'] td.status")


def test_sdk_jobs_appear_and_the_pages_advance_button_moves_them_queued_in_progress_completed(
    server: RunningServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(tmp_path / "profile") as page:
        open_dashboard(page, server)
        assert TOKEN not in page.url  # taken from the fragment and kept in the tab, not in the address
        page.click("#clock-freeze")
        expect(page.locator("#clock-state")).to_have_text("frozen")
        first = sdk(server, KEY_A).videos.create(prompt="a lighthouse at dusk", model="sora-2", seconds="4")
        second = sdk(server, KEY_B).videos.create(prompt="a cat on a skateboard", model="sora-2", size="1280x720")
        for video in (first, second):
            expect(status_of(page, video.id)).to_have_text("queued")
        row = page.locator(f"#jobs-body tr[data-job-id='{first.id}']")
        expect(row).to_contain_text("sk-...0001")
        expect(row).to_contain_text("sora-2")
        expect(row).to_contain_text("720x1280")

        page.fill("#clock-advance-seconds", "3")  # past the 2 s queue, inside the 4 s render
        page.click("#clock-advance")
        for video in (first, second):
            expect(status_of(page, video.id)).to_have_text("in_progress")
        page.fill("#clock-advance-seconds", "10")
        page.click("#clock-advance")
        for video in (first, second):
            expect(status_of(page, video.id)).to_have_text("completed")
        assert page.locator(f"#jobs-body tr[data-job-id='{first.id}'] progress").get_attribute("value") == "100"
        # What the page shows is what the SDK sees.
        assert sdk(server, KEY_A).videos.retrieve(first.id).status == "completed"

        # A scripted failure, a slow pro job, and one created last: every status at once.
        doomed = sdk(server, KEY_A).videos.create(
            prompt="a crowd at a concert",
            model="sora-2",
            extra_headers={"X-Mock-Outcome": "failed:content_policy_violation", "X-Mock-Duration": "1"},
        )
        slow = sdk(server, KEY_A).videos.create(prompt="a timelapse of a city", model="sora-2-pro", seconds="8")
        page.fill("#clock-advance-seconds", "5")
        page.click("#clock-advance")
        expect(status_of(page, doomed.id)).to_have_text("failed")
        expect(page.locator(f"#jobs-body tr[data-job-id='{doomed.id}']")).to_contain_text(
            "failed:content_policy_violation"
        )
        expect(status_of(page, slow.id)).to_have_text("in_progress")
        last = sdk(server, KEY_B).videos.create(prompt="a red kite in the wind", model="sora-2")
        expect(status_of(page, last.id)).to_have_text("queued")
        screenshot(page, "dashboard-jobs.png")

        page.select_option("#filter-owner", label="sk-...0002")  # filter by key
        expect(page.locator("#jobs-body tr")).to_have_count(2)
        expect(status_of(page, second.id)).to_have_text("completed")
        page.select_option("#filter-status", value="failed")
        expect(page.locator("#jobs-body tr")).to_have_count(0)
        page.select_option("#filter-owner", value="")
        expect(page.locator("#jobs-body tr")).to_have_count(1)
        expect(status_of(page, doomed.id)).to_have_text("failed")
        content = page.content()
        assert KEY_A not in content and KEY_B not in content and TOKEN not in content


def test_the_job_page_plays_the_mp4_through_the_content_route_with_range_and_shows_its_stills(
    server: RunningServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    video = sdk(server).videos.create(prompt="a paper boat on a river", model="sora-2", size="1280x720", seconds="8")
    control(server).post("/__mock/clock/advance", json={"seconds": 30}).raise_for_status()
    assert sdk(server).videos.retrieve(video.id).status == "completed"  # a poll, which the job page lists
    media: list[tuple[str, int, str | None]] = []
    with browser_page(tmp_path / "profile") as page:
        page.on(
            "response",
            lambda r: media.append((r.url, r.status, r.request.headers.get("range"))) if "/content" in r.url else None,
        )
        open_dashboard(page, server, f"#/jobs/{video.id}")
        ready = wait_for(
            page, "document.getElementById('job-video').readyState", lambda state: state >= 3, "video readyState"
        )
        assert ready >= 3  # HAVE_FUTURE_DATA: it can play
        duration = page.evaluate("document.getElementById('job-video').duration")
        assert duration == pytest.approx(8, abs=0.2)
        assert page.evaluate("document.getElementById('job-video').videoWidth") == 1280
        buffered = (
            "(v => v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0)(document.getElementById('job-video'))"
        )
        wait_for(page, buffered, lambda end: end >= duration - 0.2, "the whole video buffered")
        seek = "(v => new Promise(done => { v.onseeked = () => done(v.currentTime); v.currentTime = 2.5; }))"
        assert page.evaluate(f"{seek}(document.getElementById('job-video'))") == pytest.approx(2.5, abs=0.2)  # seekable
        play = "(v => new Promise(done => { v.onended = () => done(v.currentTime); v.playbackRate = 16; v.play(); }))"
        assert page.evaluate(f"{play}(document.getElementById('job-video'))") == pytest.approx(8, abs=0.2)  # to the end
        for still in ("job-thumbnail", "job-spritesheet"):
            wait_for(page, f"document.getElementById('{still}').naturalWidth", lambda width: width > 0, still)
        page.locator("#job-timeline li.reached").nth(2).wait_for()
        assert page.locator("#job-timeline li.reached").count() == 3  # created, started, finished; expiry ahead
        expect(page.locator("#job-requests")).to_contain_text(f"/v1/videos/{video.id}")
        screenshot(page, "dashboard-job.png", full_page=True)
        src = page.evaluate("document.getElementById('job-video').src")
    assert re.search(r"/__mock/jobs/video_[0-9a-f]+/content\?variant=video&expires=\d+&signature=[0-9a-f]{64}$", src), (
        src
    )
    assert TOKEN not in src
    ranged = [(status, asked) for url, status, asked in media if "variant=video" in url and asked]
    assert ranged and all(status == 206 for status, _ in ranged), media  # the player asked for ranges and got them


def test_a_fault_added_from_the_page_makes_the_next_sdk_call_fail_with_it(
    server: RunningServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(tmp_path / "profile") as page:
        open_dashboard(page, server, "#/controls")
        page.select_option("#fault-method", "POST")
        page.fill("#fault-path", "/v1/videos")
        page.select_option("#fault-status", "503")
        page.fill("#fault-times", "1")
        page.click("#fault-add")
        expect(page.locator("#faults-body tr")).to_have_count(1)
        expect(page.locator("#faults-body tr")).to_contain_text("503")
        with pytest.raises(openai.InternalServerError) as failed:
            sdk(server).videos.create(prompt="a storm over the sea", model="sora-2")
        assert failed.value.status_code == 503
        assert sdk(server).videos.create(prompt="a storm over the sea", model="sora-2").status == "queued"  # times: 1

        page.evaluate("location.hash = '#/journal'")
        failed_row = page.locator("#journal-body tr[data-seq='1']")
        expect(failed_row).to_contain_text("503")
        expect(failed_row).to_contain_text("fault_1")
        page.locator("#journal-body tr[data-seq='2']").click()  # the entry's headers and body, keys masked
        expect(page.locator("#journal-body tr.expanded pre")).to_contain_text('"prompt": "a storm over the sea"')
        expect(page.locator("#journal-body tr.expanded pre")).to_contain_text("Bearer sk-...0001")


def test_a_reset_from_the_page_empties_the_table(server: RunningServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    created = [sdk(server).videos.create(prompt=f"scene {n}", model="sora-2").id for n in range(3)]
    with browser_page(tmp_path / "profile") as page:
        open_dashboard(page, server)
        expect(page.locator("#jobs-body tr")).to_have_count(3)
        page.once("dialog", lambda dialog: dialog.accept())  # the page asks before it resets
        page.click("#reset")
        expect(page.locator("#jobs-empty")).to_be_visible()
        expect(page.locator("#jobs-body tr")).to_have_count(0)
    assert control(server).get("/__mock/jobs").json()["total"] == 0
    with pytest.raises(openai.NotFoundError):
        sdk(server).videos.retrieve(created[0])


def test_without_the_token_the_page_asks_for_it_and_a_wrong_one_is_refused(
    server: RunningServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sdk(server).videos.create(prompt="a quiet street", model="sora-2")
    with browser_page(tmp_path / "profile") as page:
        page.goto(f"{server.root}/__mock/ui")
        expect(page.locator("#view-login")).to_be_visible()
        page.fill("#login-token", "not-the-token")
        page.click("#login-form button")
        expect(page.locator("#login-error")).to_contain_text("Incorrect admin token")
        page.fill("#login-token", TOKEN)
        page.click("#login-form button")
        expect(page.locator("#jobs-body tr")).to_have_count(1)


def test_the_webhooks_page_shows_endpoints_and_each_deliverys_attempts(server: RunningServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.test_webhooks import Receiver

    receiver = Receiver(statuses=[500])  # the first attempt fails, the retry is delivered
    try:
        endpoint = control(server).post(
            "/__mock/webhooks", json={"url": receiver.url, "api_key": KEY_A, "backoff_seconds": 0.05}
        )
        endpoint.raise_for_status()
        video = sdk(server).videos.create(prompt="a lantern festival", model="sora-2")
        control(server).post("/__mock/clock/advance", json={"seconds": 30}).raise_for_status()
        receiver.wait_for(2)
        with browser_page(tmp_path / "profile") as page:
            open_dashboard(page, server, "#/webhooks")
            expect(page.locator("#endpoints-body tr")).to_contain_text(receiver.url)
            expect(page.locator("#endpoints-body tr")).to_contain_text("sk-...0001")
            assert endpoint.json()["secret"] not in page.content()  # shown cut short only
            delivery = page.locator("#deliveries-body tr").first
            expect(delivery).to_contain_text(video.id)
            expect(delivery).to_contain_text("delivered")
            expect(delivery.locator("ol.attempts li")).to_have_count(2)
            expect(delivery.locator("ol.attempts li").nth(0)).to_contain_text("500")
            expect(delivery.locator("ol.attempts li").nth(1)).to_contain_text("200")
    finally:
        receiver.close()
