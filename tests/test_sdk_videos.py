"""The official `openai` SDK, unmodified, against a real `mockserver serve` process."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import av
import httpx
import openai
import pytest
from openai import OpenAI

from mockserver.client import MockControl
from tests.processes import RunningServer, serve

KEYS = {"main": "sk-main-key-0001", "pager": "sk-pager-key-0002", "other": "sk-other-key-0003", "basic": "sk-basic-key-0004"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config = tmp_path_factory.mktemp("cfg") / "mock.yaml"
    config.write_text(
        "api_keys:\n"
        + "".join(f"  {key}: {{}}\n" for name, key in KEYS.items() if name != "basic")
        + f"  {KEYS['basic']}: {{deny_models: [sora-2-pro]}}\n"
    )
    # --speed 0.02: an 8 s sora-2 clip takes ~0.2 s, so create_and_poll polls a few times for real.
    with serve("--config", str(config), "--speed", "0.02") as running:
        yield running


def client(server: RunningServer, who: str = "main", **kwargs) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key=KEYS.get(who, who), **kwargs)


def probe(data: bytes) -> tuple[str, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration / av.time_base)
        return stream.codec_context.name, stream.codec_context.width, stream.codec_context.height, duration


def test_create_and_poll_then_download_a_playable_mp4_of_the_requested_size_and_length(server: RunningServer) -> None:
    sdk = client(server)
    video = sdk.videos.create_and_poll(model="sora-2", prompt="A calico cat playing a piano", size="1280x720", seconds="8")
    assert video.status == "completed"
    assert video.progress == 100
    assert video.completed_at is not None and video.completed_at >= video.created_at
    assert video.expires_at == video.completed_at + 3600
    assert (video.size, video.seconds, video.prompt) == ("1280x720", "8", "A calico cat playing a piano")

    content = sdk.videos.download_content(video.id)
    codec, width, height, duration = probe(content.content)
    assert codec == "h264"
    assert (width, height) == (1280, 720)
    assert duration == pytest.approx(8, abs=0.25)


def test_defaults_come_from_the_contract(server: RunningServer) -> None:
    video = client(server).videos.create(prompt="defaults please")
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")
    assert video.status == "queued" and video.progress == 0
    assert video.completed_at is None and video.error is None


def test_thumbnail_and_spritesheet_variants_are_real_images(server: RunningServer) -> None:
    sdk = client(server)
    video = sdk.videos.create_and_poll(prompt="variants", size="720x1280", seconds="4")
    thumbnail = sdk.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/webp"
    assert thumbnail.content[:4] == b"RIFF" and thumbnail.content[8:12] == b"WEBP"
    sprites = sdk.videos.download_content(video.id, variant="spritesheet")
    assert sprites.response.headers["content-type"] == "image/jpeg"
    assert sprites.content[:3] == b"\xff\xd8\xff"


def test_list_auto_pagination_walks_250_jobs_exactly_once(server: RunningServer) -> None:
    sdk = client(server, "pager")
    created = {sdk.videos.create(prompt=f"job {n}", seconds="4").id for n in range(250)}
    seen = [video.id for video in sdk.videos.list(limit=100)]
    assert len(seen) == 250
    assert set(seen) == created
    ascending = [video.id for video in sdk.videos.list(limit=37, order="asc")]
    assert ascending == list(reversed(seen))


def test_jobs_belong_to_the_key_that_created_them(server: RunningServer) -> None:
    mine = client(server).videos.create(prompt="private")
    other = client(server, "other")
    with pytest.raises(openai.NotFoundError):
        other.videos.retrieve(mine.id)
    assert mine.id not in {video.id for video in other.videos.list()}


def test_delete_then_retrieve_is_404(server: RunningServer) -> None:
    sdk = client(server)
    video = sdk.videos.create_and_poll(prompt="to delete")
    deleted = sdk.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError) as err:
        sdk.videos.retrieve(video.id)
    assert err.value.body["code"] == "video_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.videos.delete(video.id)


def test_remix_creates_a_linked_job_only_from_a_completed_source(server: RunningServer) -> None:
    sdk = client(server)
    source = sdk.videos.create_and_poll(prompt="original", size="1792x1024", seconds="4")
    remix = sdk.videos.remix(source.id, prompt="the same, at night")
    assert remix.remixed_from_video_id == source.id
    assert (remix.size, remix.seconds, remix.prompt) == ("1792x1024", "4", "the same, at night")
    finished = sdk.videos.poll(remix.id)
    assert finished.status == "completed"

    pending = client(server, "main", max_retries=0).videos.create(prompt="slow", model="sora-2-pro", seconds="12")
    with pytest.raises(openai.ConflictError) as err:
        client(server, "main", max_retries=0).videos.remix(pending.id, prompt="too early")
    assert err.value.body["code"] == "video_not_ready"
    assert err.value.response.headers["x-should-retry"] == "false"


def test_content_before_completion_is_a_non_retried_409(server: RunningServer) -> None:
    sdk = client(server, max_retries=2)
    pending = sdk.videos.create(prompt="not yet", model="sora-2-pro", seconds="12")
    with pytest.raises(openai.ConflictError) as err:
        sdk.videos.download_content(pending.id)
    assert err.value.body["code"] == "video_not_ready"
    assert "x-stainless-retry-count" not in err.value.response.request.headers or err.value.response.request.headers["x-stainless-retry-count"] == "0"


def test_each_error_status_maps_to_the_sdk_exception_class(server: RunningServer) -> None:
    sdk = client(server, max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.videos.create(prompt="wrong size", size="640x480")  # type: ignore[arg-type]
    assert bad.value.body["param"] == "size" and bad.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as long_prompt:
        sdk.videos.create(prompt="x" * 32001)
    assert long_prompt.value.body["param"] == "prompt"
    with pytest.raises(openai.AuthenticationError):
        client(server, "sk-not-a-known-key", max_retries=0).videos.list()
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client(server, "basic", max_retries=0).videos.create(prompt="pro please", model="sora-2-pro")
    assert denied.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve("video_does_not_exist")


def test_gateway_models_are_accepted(server: RunningServer) -> None:
    sdk = client(server)
    for model in ("kling-v2-6", "jimeng_vgfm_t2v_l20", "viduq2"):
        assert sdk.videos.create(prompt="gateway", model=model).model == model


def test_input_reference_upload_and_object_forms(server: RunningServer, tmp_path: Path) -> None:
    sdk = client(server)
    image = tmp_path / "first_frame.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert sdk.videos.create(prompt="from a file", input_reference=image).status == "queued"
    # SDK 3.54 refuses a dict for input_reference in create() (it must be file content), so the
    # object form is sent as the official spec allows: JSON, or multipart bracket notation.
    headers = {"Authorization": f"Bearer {KEYS['main']}"}
    by_json = httpx.post(f"{server.base_url}/videos", headers=headers, json={"prompt": "url", "input_reference": {"image_url": "https://example.com/a.png"}})
    assert by_json.status_code == 200, by_json.text
    by_form = httpx.post(f"{server.base_url}/videos", headers=headers, files={"prompt": (None, "id"), "input_reference[file_id]": (None, "file-123")})
    assert by_form.status_code == 200, by_form.text
    both = httpx.post(f"{server.base_url}/videos", headers=headers, json={"prompt": "x", "input_reference": {"image_url": "https://e.com/a.png", "file_id": "file-1"}})
    assert both.status_code == 400 and both.json()["error"]["param"] == "input_reference"
    text_only = httpx.post(f"{server.base_url}/videos", headers=headers, files={"prompt": (None, "x"), "input_reference": (None, "not a file")})
    assert text_only.status_code == 400 and text_only.json()["error"]["param"] == "input_reference"


def test_a_rate_limit_maps_to_rate_limit_error_with_retry_after(server: RunningServer) -> None:
    control = MockControl(server.root)
    control.faults.add(path="/v1/videos", method="GET", status=429, times=1, retry_after=1, api_key=KEYS["other"])
    with pytest.raises(openai.RateLimitError) as limited:
        client(server, "other", max_retries=0).videos.list()
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.body["code"] == "rate_limit_exceeded"
    assert client(server, "other", max_retries=0).videos.list().data is not None  # `times=1`: only the first
