"""Record a session through `mockserver proxy --record DIR`, replay it with `mockserver serve --replay DIR`.

The upstream is the fake serving media of its own (another size's files under this size's names),
so a replay that served its fixtures instead of the recording would be caught by its bytes.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from mockserver.client import MockControl
from mockserver.core.keys import mask
from mockserver.resources import fixtures_dir
from tests.processes import proxy, serve

KEY = "sk-replay-test-4b8e2d6f1a"
VARIANTS = ("video", "thumbnail", "spritesheet")
CAT = "A calico cat playing a piano"


class StatusRecorder(httpx.HTTPTransport):
    """The SDK's transport, noting each job's statuses in the order the SDK saw them."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, list[str]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if response.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(response.read())
            if isinstance(body, dict) and body.get("object") == "video":
                seen = self.statuses.setdefault(body["id"], [])
                if not seen or seen[-1] != body["status"]:
                    seen.append(body["status"])
        return response


def session(base_url: str) -> dict[str, Any]:
    """The application code: create_and_poll, each variant, a remix, a failed job, list, an error."""
    recorder = StatusRecorder()
    client = OpenAI(base_url=base_url, api_key=KEY, max_retries=0, http_client=httpx.Client(transport=recorder))
    video = client.videos.create_and_poll(model="sora-2", prompt=CAT, seconds="4")
    media = {variant: client.videos.download_content(video.id, variant=variant).read() for variant in VARIANTS}
    remix = client.videos.poll(client.videos.remix(video.id, prompt="The same cat, in the rain").id)
    failed = client.videos.create_and_poll(
        model="sora-2", prompt="A storm at sea", extra_headers={"X-Mock-Outcome": "failed:content_policy_violation"}
    )
    listed = [v.id for v in client.videos.list()]
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.retrieve("video_00000000000000000000000000000000")
    return {
        "media": media,
        "final": [video.status, remix.status, failed.status, failed.error.code if failed.error else None],
        "statuses": [recorder.statuses[i] for i in (video.id, remix.id, failed.id)],
        "listed": [listed.index(i) for i in (video.id, remix.id, failed.id)],
        "error": missing.value.code,
    }


def other_media(tmp_path: Path) -> Path:
    """A fixtures directory whose 720x1280 files are the 1280x720 ones: valid media, other bytes."""
    fixtures = tmp_path / "fixtures"
    shutil.copytree(fixtures_dir(), fixtures, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    for path in fixtures.glob("*1280x720*"):
        shutil.copyfile(path, fixtures / path.name.replace("1280x720", "720x1280"))
    return fixtures


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp_path = tmp_path_factory.mktemp("record")
    cassette = tmp_path / "cassette"
    with (
        serve("--speed", "0.2", "--fixtures", str(other_media(tmp_path)), "--log-level", "warning") as upstream,
        proxy(upstream.base_url, "--record", str(cassette), "--report-dir", str(tmp_path)) as front,
    ):
        seen = session(front.base_url)
        front.stop(signal.SIGTERM)
    return cassette, seen


def test_a_recorded_session_replays_to_the_same_code_with_the_same_media_and_statuses_twice(recorded) -> None:
    cassette, original = recorded
    assert original["final"] == ["completed", "completed", "failed", "content_policy_violation"]
    assert original["statuses"][0] == ["queued", "in_progress", "completed"]
    fixture = (fixtures_dir() / "video_720x1280_4s.mp4").read_bytes()
    assert original["media"]["video"] != fixture  # the upstream's own media, not what a fresh fake serves
    runs = []
    for _ in range(2):
        with serve("--replay", str(cassette), "--log-level", "warning") as replaying:
            runs.append(session(replaying.base_url))
    for run in runs:
        assert run["media"] == original["media"]  # byte for byte, every variant
        assert run["statuses"] == original["statuses"] and run["final"] == original["final"]
        assert run["listed"] == original["listed"] and run["error"] == original["error"]
    assert runs[0] == runs[1]


def test_the_cassette_is_plain_files_and_no_file_holds_the_key(recorded) -> None:
    cassette, _ = recorded
    files = [path for path in cassette.rglob("*") if path.is_file()]
    assert files and all(KEY.encode() not in path.read_bytes() for path in files)
    exchanges = sorted((cassette / "exchanges").glob("*.json"))
    first = json.loads(exchanges[0].read_text())
    assert first["request"]["headers"]["authorization"] == f"Bearer {mask(KEY)}"
    jobs = [json.loads(path.read_text()) for path in sorted((cassette / "jobs").glob("*.json"))]
    assert [job["operation"] for job in jobs] == ["POST /videos", "POST /videos/{video_id}/remix", "POST /videos"]
    assert jobs[1]["source_job"] == 1 and jobs[2]["final"]["error"]["code"] == "content_policy_violation"
    assert [p["phase"] for p in jobs[0]["timeline"]][-1] == "completed"
    stored = list((cassette / "media").iterdir())
    assert len(stored) == len({p.read_bytes() for p in stored}) == 3  # each download once, by its sha256
    for variant, facts in jobs[0]["content"].items():
        assert (cassette / facts["file"]).name.startswith(facts["sha256"]), variant


def test_an_unmatched_create_is_refused_naming_the_nearest_recording_or_faked_with_the_flag(recorded) -> None:
    cassette, _ = recorded
    auth = {"Authorization": f"Bearer {KEY}"}
    form = {"model": (None, "sora-2"), "prompt": (None, "A calico cat playing a violin"), "seconds": (None, "4")}
    with serve("--replay", str(cassette), "--log-level", "warning") as replaying:
        refused = httpx.post(f"{replaying.base_url}/videos", headers=auth, files=form)
    with serve("--replay", str(cassette), "--replay-unmatched", "fake", "--log-level", "warning") as faking:
        faked = httpx.post(f"{faking.base_url}/videos", headers=auth, files=form)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (
        error["code"] == "replay_unmatched" and error["param"] == "prompt" and error["type"] == "invalid_request_error"
    )
    assert "jobs/0001.json" in error["message"] and CAT in error["message"]
    assert faked.status_code == 200 and faked.json()["status"] == "queued"


def test_clock_control_outcomes_faults_and_the_journal_still_work_on_replayed_jobs(recorded) -> None:
    cassette, _ = recorded
    with serve("--replay", str(cassette), "--log-level", "warning") as replaying:
        control = MockControl(replaying.root)
        control.clock.freeze()
        client = OpenAI(base_url=replaying.base_url, api_key=KEY, max_retries=0)
        job = client.videos.create(model="sora-2", prompt=CAT, seconds="4")
        assert client.videos.retrieve(job.id).status == "queued"  # the clock is frozen: the recording waits
        control.clock.advance(30)
        assert client.videos.retrieve(job.id).status == "completed"
        # The recorded failure replays without the header that caused it upstream.
        storm = client.videos.create(model="sora-2", prompt="A storm at sea")
        control.clock.advance(30)
        failed = client.videos.retrieve(storm.id)
        assert failed.status == "failed" and failed.error and failed.error.code == "content_policy_violation"
        # A test's own outcome still wins over the recording.
        chosen = client.videos.create(
            model="sora-2", prompt=CAT, seconds="4", extra_headers={"X-Mock-Outcome": "failed:timeout"}
        )
        control.clock.advance(30)
        assert client.videos.retrieve(chosen.id).error.code == "timeout"  # type: ignore[union-attr]
        # A fault answers before the replay is asked: the next create is refused, the one after replays.
        control.faults.add(path="/v1/videos", method="POST", status=503, times=1)
        with pytest.raises(openai.InternalServerError):
            client.videos.create(model="sora-2", prompt=CAT, seconds="4")
        again = client.videos.create(model="sora-2", prompt=CAT, seconds="4")
        control.clock.advance(30)
        assert client.videos.retrieve(again.id).status == "completed"
        assert [e["status"] for e in control.journal.find(path="/v1/videos", method="POST")] == [
            200,
            200,
            200,
            503,
            200,
        ]
