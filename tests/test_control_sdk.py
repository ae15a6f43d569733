"""The control API as a CI suite uses it: the `mockserver` fixture, the unmodified `openai` SDK."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import openai
import pytest

from mockserver.pytest_plugin import MockServerHandle


def test_a_scripted_content_policy_failure_makes_create_and_poll_return_a_failed_video(mockserver: MockServerHandle) -> None:
    mockserver.outcomes.push("failed:content_policy_violation", duration=0)
    video = mockserver.client().videos.create_and_poll(model="sora-2", prompt="something the policy refuses")
    assert video.status == "failed"
    assert video.error is not None and video.error.code == "content_policy_violation"
    assert video.error.message
    assert mockserver.outcomes.list() == []  # the scripted outcome was used up
    # The next create chose nothing and the queue is empty: it completes (once time passes).
    assert mockserver.client().videos.create(prompt="fine").status == "queued"


def test_outcome_by_header_and_by_prompt_marker_without_any_control_call(mockserver: MockServerHandle) -> None:
    sdk = mockserver.client()
    by_header = sdk.videos.create_and_poll(
        prompt="header", extra_headers={"X-Mock-Outcome": "failed:internal_error", "X-Mock-Duration": "0"}
    )
    assert (by_header.status, by_header.error and by_header.error.code) == ("failed", "internal_error")
    by_marker = sdk.videos.create_and_poll(prompt="a cat [mock:failed:moderation_blocked] [mock:duration=0]")
    assert (by_marker.status, by_marker.error and by_marker.error.code) == ("failed", "moderation_blocked")
    # A header beats the queue: the queued outcome stays for the next create that chooses none.
    mockserver.outcomes.push("failed:timeout", duration=0)
    assert sdk.videos.create(prompt="x", extra_headers={"X-Mock-Outcome": "completed", "X-Mock-Duration": "0"}).status == "completed"
    assert sdk.videos.create(prompt="y").error.code == "timeout"  # type: ignore[union-attr]


def test_advancing_the_clock_completes_every_job_without_sleeping(mockserver: MockServerHandle) -> None:
    sdk = mockserver.client()
    # sora-2, 4 s: 2 s queued, then 4 s rendering (default timings); the fixture froze the clock.
    first = sdk.videos.create(model="sora-2", prompt="one", seconds="4")
    second = sdk.videos.create(model="sora-2", prompt="two", seconds="4")
    assert sdk.videos.retrieve(first.id).status == "queued"

    mockserver.clock.advance(4)  # 2 s into rendering: half done
    running = sdk.videos.retrieve(first.id)
    assert (running.status, running.progress) == ("in_progress", 50)

    mockserver.clock.advance(60)
    for video_id in (first.id, second.id):
        done = sdk.videos.retrieve(video_id)
        assert done.status == "completed" and done.progress == 100
    assert sdk.videos.download_content(first.id).content[4:8] == b"ftyp"  # a real MP4
    # create_and_poll returns at once once time has passed
    assert sdk.videos.poll(second.id).status == "completed"


def test_a_429_fault_makes_the_sdk_retry_per_retry_after_and_then_succeed(mockserver: MockServerHandle) -> None:
    mockserver.faults.add(method="POST", path="/v1/videos", status=429, times=2, retry_after=1)
    video = mockserver.client(max_retries=2).videos.create(prompt="eventually")
    assert video.status == "queued"

    attempts = mockserver.journal.find(path="/v1/videos", method="POST")
    assert [entry["status"] for entry in attempts] == [429, 429, 200]
    # The SDK numbered its retries: it retried, rather than the test happening to send three requests.
    assert [entry["headers"]["x-stainless-retry-count"] for entry in attempts] == ["0", "1", "2"]
    assert attempts[0]["fault"] and attempts[2]["fault"] is None


def test_an_injected_429_carries_retry_after_and_the_openai_envelope(mockserver: MockServerHandle) -> None:
    mockserver.faults.add(path="/v1/videos", status=429, retry_after=3)
    with pytest.raises(openai.RateLimitError) as err:
        mockserver.client(max_retries=0).videos.list()
    assert err.value.response.headers["retry-after"] == "3"
    assert set(err.value.body) == {"message", "type", "param", "code"}
    assert err.value.body["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("status, error_class", [(500, openai.InternalServerError), (502, openai.InternalServerError), (503, openai.InternalServerError)])
def test_injected_server_errors_by_route_reach_the_sdk_as_its_error_classes(
    mockserver: MockServerHandle, status: int, error_class: type[Exception]
) -> None:
    mockserver.faults.add(method="GET", path="/v1/videos/{video_id}", status=status)
    sdk = mockserver.client(max_retries=0)
    video = sdk.videos.create(prompt="made fine")  # POST /v1/videos is not matched
    with pytest.raises(error_class) as err:
        sdk.videos.retrieve(video.id)
    assert err.value.status_code == status  # type: ignore[attr-defined]
    assert err.value.body["type"] == "server_error"  # type: ignore[attr-defined]
    assert sdk.videos.list().data[0].id == video.id  # GET /v1/videos is not matched either


def test_a_per_key_rate_limit_answers_429_with_ratelimit_headers_and_spares_other_keys(mockserver: MockServerHandle) -> None:
    mockserver.faults.add(rate_limit={"requests": 2, "seconds": 600})
    sdk = mockserver.client(max_retries=0)
    first = sdk.videos.with_raw_response.list()
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert sdk.videos.with_raw_response.list().headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError) as err:
        sdk.videos.list()
    headers = err.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    # The rule was set for this test's key only.
    other = openai.OpenAI(base_url=mockserver.base_url, api_key="sk-someone-else-entirely", max_retries=0)
    other.videos.list()
    other.videos.list()
    other.videos.list()


def test_the_journal_shows_what_the_app_sent_with_the_key_masked_and_uploads_hashed(mockserver: MockServerHandle, tmp_path: Path) -> None:
    image = tmp_path / "first_frame.png"
    payload = b"\x89PNG\r\n\x1a\n" + b"UNIQUE-UPLOAD-BYTES-7f3a" * 40
    image.write_bytes(payload)
    mockserver.client().videos.create(model="sora-2-pro", size="1280x720", seconds="8", prompt="a lighthouse", input_reference=image)

    (sent,) = mockserver.journal.find(path="/v1/videos", method="POST")
    assert (sent["body"]["model"], sent["body"]["size"], sent["body"]["seconds"]) == ("sora-2-pro", "1280x720", "8")
    assert sent["status"] == 200
    upload = sent["uploads"]["input_reference"]
    assert upload["filename"] == "first_frame.png"
    assert upload["size"] == len(payload)
    assert upload["sha256"] == hashlib.sha256(payload).hexdigest()
    assert sent["owner"] == mockserver.owner
    assert sent["headers"]["authorization"] == f"Bearer {sent['key']}"

    everything = json.dumps(mockserver.journal.find())
    assert mockserver.api_key not in everything
    assert "UNIQUE-UPLOAD-BYTES" not in everything


def test_the_journal_filters_by_path_and_method_and_clears(mockserver: MockServerHandle) -> None:
    sdk = mockserver.client()
    video = sdk.videos.create(prompt="filtered")
    sdk.videos.retrieve(video.id)
    sdk.videos.list(limit=5)
    assert [e["method"] for e in mockserver.journal.find()] == ["POST", "GET", "GET"]
    assert [e["path"] for e in mockserver.journal.find(method="GET")] == [f"/v1/videos/{video.id}", "/v1/videos"]
    assert len(mockserver.journal.find(path="/v1/videos/*")) == 1
    assert mockserver.journal.find(path="/v1/videos", method="GET")[0]["query"] == {"limit": ["5"]}
    mockserver.journal.clear()
    assert mockserver.journal.find() == []


def test_a_reset_leaves_nothing_behind(mockserver: MockServerHandle) -> None:
    sdk = mockserver.client(max_retries=0)
    video = sdk.videos.create(prompt="to be forgotten")
    sdk.videos.create(prompt="another")
    mockserver.outcomes.push("failed:internal_error", "completed")
    mockserver.outcomes.push("completed", api_key=None)  # the shared queue too
    mockserver.faults.add(path="/v1/nothing-real", status=503)
    mockserver.clock.advance(3600)
    mockserver.clock.set_speed(5)

    mockserver.control.reset(api_key=None)

    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)
    assert sdk.videos.list().data == []
    assert mockserver.outcomes.list() == [] and mockserver.outcomes.list(api_key=None) == []
    assert mockserver.faults.list(api_key=None) == []
    clock = mockserver.clock.describe()
    assert clock["frozen"] is False and clock["speed"] == 1.0
    assert abs(clock["offset"]) < 1  # back to real time, not 3600 s ahead
    assert [e["path"] for e in mockserver.journal.find()] == ["/v1/videos/" + video.id, "/v1/videos"]  # only what came after


def test_two_keys_on_one_server_each_take_only_their_own_scripted_outcomes(mockserver: MockServerHandle) -> None:
    from mockserver.client import MockControl

    other_key = "sk-test-the-other-suite"
    other = MockControl(mockserver.root_url, api_key=other_key)
    mockserver.outcomes.push("failed:content_policy_violation", "failed:content_policy_violation", duration=0)
    other.outcomes.push("completed", "completed", duration=0)
    mine, theirs = mockserver.client(), openai.OpenAI(base_url=mockserver.base_url, api_key=other_key)
    results = [mine.videos.create(prompt="a").status, theirs.videos.create(prompt="b").status,
               theirs.videos.create(prompt="c").status, mine.videos.create(prompt="d").status]
    assert results == ["failed", "completed", "completed", "failed"]
    assert {e["owner"] for e in mockserver.journal.find()} == {mockserver.owner}
