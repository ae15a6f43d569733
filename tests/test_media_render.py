"""Media drawn for each job (mockserver/render, the `media` extra): what a client downloads shows the job.

The real server runs as a user runs it (`mockserver serve`), the official SDK downloads, and PyAV
decodes what came back. Sizes are the small official ones but for one test of the largest; the
cost of rendering big sizes is the benchmark's (`python -m benchmarks render`), not the suite's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import pytest
from openai import OpenAI
from PIL import Image, ImageChops, ImageStat

from mockserver.client import MockControl
from mockserver.core.jobs import Job, Outcome
from mockserver.core.media import DEFAULT_ROOT, MediaLibrary
from mockserver.render.picture import Picture, text_line
from mockserver.render.settings import MediaSettings
from mockserver.render.source import MediaSource, render_file, toolkit
from mockserver.render.spec import FPS, MediaSpec
from tests.processes import REPO, RunningServer, free_port, running, serve

KEY = "sk-media-test-0001"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROMPT = "A calico cat playing a piano on stage"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-cache")


@pytest.fixture(scope="module")
def server(cache_dir: Path) -> Iterator[RunningServer]:
    # --speed 0: every job is complete the moment it is created, before its media can be ready.
    with serve("--speed", "0", "--media-cache", str(cache_dir)) as running_server:
        yield running_server


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # The docs contract takes any size and duration string, as the gateways it describes do.
    cache = tmp_path_factory.mktemp("docs-cache")
    with serve("--spec", "docs", "--speed", "0", "--media-cache", str(cache)) as running_server:
        yield running_server


def sdk(server: RunningServer) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key=KEY)


def download(server: RunningServer, video_id: str, variant: str = "video") -> bytes:
    response = httpx.get(
        f"{server.base_url}/videos/{video_id}/content", params={"variant": variant}, headers=AUTH, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.content


def create(server: RunningServer, **fields: str) -> dict:
    form = {
        name: (None, value) for name, value in {"prompt": PROMPT, **fields}.items()
    }  # multipart, as both contracts take
    response = httpx.post(f"{server.base_url}/videos", files=form, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def spec_of(video: dict) -> MediaSpec:
    """What the frames of `video` (the API's Video object) should show."""
    job = Job(
        id=video["id"],
        owner="-",
        model=video["model"],
        prompt=video.get("prompt"),
        size=video["size"],
        seconds=str(video["seconds"]),
        created_at=0.0,
        queue_seconds=0.0,
        render_seconds=0.0,
        remixed_from_video_id=video.get("remixed_from_video_id"),
    )
    return MediaSpec.of(job)


def frames_of(data: bytes) -> tuple[av.video.stream.VideoStream, list[av.VideoFrame]]:
    container = av.open(io.BytesIO(data))
    stream = container.streams.video[0]
    frames = list(container.decode(stream))
    container.close()
    return stream, frames


def image_of(data: bytes) -> Image.Image:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0)).to_image()


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two images' grey levels, 0..255."""
    assert a.size == b.size, (a.size, b.size)
    return float(ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0])


# -- what a download is ----------------------------------------------------------------------------


def check_variants(server: RunningServer, video: dict, width: int, height: int, seconds: float) -> None:
    stream, frames = frames_of(download(server, video["id"]))
    assert stream.codec_context.name == "h264"
    assert {(f.width, f.height, f.format.name) for f in frames} == {(width, height, "yuv420p")}
    assert len(frames) == round(seconds * FPS)
    assert stream.average_rate == FPS
    end = frames[-1].pts * stream.time_base + Fraction(1, FPS)  # the end of the last frame
    assert end == Fraction(seconds).limit_denominator(FPS)

    thumbnail = download(server, video["id"], "thumbnail")
    assert thumbnail[:4] == b"RIFF" and thumbnail[8:12] == b"WEBP"
    assert image_of(thumbnail).size == (width, height)
    sheet = download(server, video["id"], "spritesheet")
    assert sheet[:3] == b"\xff\xd8\xff"
    assert image_of(sheet).size == (width // 8 * 4, height // 8 * 3)  # a 4x3 grid of 1/8-scale frames


@pytest.mark.parametrize(("size", "seconds"), [("1280x720", "4"), ("720x1280", "8")])
def test_each_variant_decodes_at_the_requested_size_duration_and_frame_count(
    server: RunningServer, size: str, seconds: str
) -> None:
    video = create(server, size=size, seconds=seconds)
    width, height = map(int, size.split("x"))
    check_variants(server, video, width, height, float(seconds))


def test_the_largest_official_size_and_duration_render_exactly(server: RunningServer) -> None:
    video = create(server, size="1792x1024", seconds="12")
    check_variants(server, video, 1792, 1024, 12)


@pytest.mark.parametrize(("size", "seconds", "frames"), [("320x240", "2.5", 25), ("1024x1808", "3", 30)])
def test_any_size_and_duration_the_contract_allows_is_rendered_exactly(
    docs_server: RunningServer, size: str, seconds: str, frames: int
) -> None:
    # None of these has a committed fixture: 1024x1808 is the docs page's own example size.
    video = create(docs_server, model="sora-2", size=size, seconds=seconds)
    width, height = map(int, size.split("x"))
    check_variants(docs_server, video, width, height, frames / FPS)


# -- what the frames show --------------------------------------------------------------------------


def test_the_text_region_of_the_first_frame_is_the_jobs_id(server: RunningServer) -> None:
    video = create(server, size="1280x720", seconds="4")
    spec = spec_of(video)
    picture = Picture(spec)
    box = picture.id_box
    _, frames = frames_of(download(server, video["id"]))
    region = frames[0].to_image().crop((box.left, box.top, box.right, box.bottom))
    reference = text_line(video["id"], picture.px, box.right - box.left)
    other_id = "video_" + video["id"].removeprefix("video_")[::-1]
    other = text_line(other_id, picture.px, box.right - box.left)
    matched, mismatched = difference(region, reference), difference(region, other)
    # Lossy H.264 blurs glyph edges a little; another id's glyphs differ in whole strokes.
    assert matched < 6, matched
    assert mismatched > 2 * matched + 4, (matched, mismatched)


def test_the_whole_first_frame_is_the_reference_picture_of_the_job(server: RunningServer) -> None:
    video = create(
        server, size="720x1280", seconds="4", prompt="Two otters holding hands, drifting down a river at dawn"
    )
    _, frames = frames_of(download(server, video["id"]))
    decoded = frames[0].to_image()
    assert difference(decoded, Picture(spec_of(video)).frame(0)) < 3
    other_prompt = spec_of({**video, "prompt": "A lighthouse in a storm"})
    assert difference(decoded, Picture(other_prompt).frame(0)) > difference(decoded, Picture(spec_of(video)).frame(0))


@pytest.fixture(scope="module")
def shared_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, RunningServer, Path, Path]]:
    """Two servers on one SQLite store, each with a cache of its own: a job made on one renders on either."""
    root = tmp_path_factory.mktemp("shared")
    store = f"sqlite:///{root / 'jobs.db'}"
    cache_a, cache_b = root / "cache-a", root / "cache-b"
    # The docs contract, for a small size: equal bytes hold at any size, and small ones are quick.
    args = ("--spec", "docs", "--speed", "0", "--store", store)
    with serve(*args, "--media-cache", str(cache_a)) as a, serve(*args, "--media-cache", str(cache_b)) as b:
        yield a, b, cache_a, cache_b


def test_the_same_job_renders_to_identical_bytes_wherever_it_is_rendered(
    shared_servers: tuple[RunningServer, RunningServer, Path, Path],
) -> None:
    a, b, cache_a, cache_b = shared_servers
    video = create(a, model="sora-2", size="320x180", seconds="2")
    for variant in ("video", "thumbnail", "spritesheet"):
        from_a, from_b = download(a, video["id"], variant), download(b, video["id"], variant)
        assert from_a == from_b, variant
        assert from_a == download(a, video["id"], variant)  # and again, from the cache
    # Each server rendered it itself: each cache holds the three files.
    assert len(list(cache_a.iterdir())) >= 3 and len(list(cache_b.iterdir())) >= 3


def test_rendering_one_job_again_and_again_in_one_process_gives_identical_bytes(tmp_path: Path) -> None:
    # 320 px wide: where libx264's MB-tree read memory it does not own, and renders after the
    # first in a process came out different.
    spec = MediaSpec.of(job(7, size="320x180", seconds="2"))
    for variant in ("video", "thumbnail", "spritesheet"):
        outputs = set()
        for n in range(4):
            path = tmp_path / f"{variant}-{n}"
            render_file(spec, variant, path)
            outputs.add(path.read_bytes())
        assert len(outputs) == 1, variant


def test_two_jobs_with_different_prompts_give_different_frames(docs_server: RunningServer) -> None:
    server = docs_server
    cat = create(server, model="sora-2", size="480x270", seconds="2", prompt="A calico cat playing a piano")
    dog = create(server, model="sora-2", size="480x270", seconds="2", prompt="A beagle playing the drums")
    _, cat_frames = frames_of(download(server, cat["id"]))
    _, dog_frames = frames_of(download(server, dog["id"]))
    assert len(cat_frames) == len(dog_frames)
    for cat_frame, dog_frame in zip(cat_frames[::10], dog_frames[::10], strict=True):
        assert difference(cat_frame.to_image(), dog_frame.to_image()) > 0.5
    assert download(server, cat["id"], "thumbnail") != download(server, dog["id"], "thumbnail")
    assert download(server, cat["id"], "spritesheet") != download(server, dog["id"], "spritesheet")


# -- the SDK, --speed 0, rendering ahead ---------------------------------------------------------------


def test_create_and_poll_then_download_gets_the_jobs_own_video_at_speed_0(server: RunningServer) -> None:
    assert httpx.get(f"{server.root}/__mock/health").json()["media"] == "rendered"
    client = sdk(server)
    video = client.videos.create_and_poll(model="sora-2", prompt=PROMPT, size="1280x720", seconds="4")
    assert video.status == "completed"
    data = client.videos.download_content(video.id).content
    assert data != (DEFAULT_ROOT / "video_1280x720_4s.mp4").read_bytes()
    spec = spec_of(video.model_dump())
    _, frames = frames_of(data)
    assert len(frames) == spec.frames
    assert difference(frames[0].to_image(), Picture(spec).frame(0)) < 3

    remix = client.videos.remix(video.id, prompt="The same cat, now on a trumpet")
    assert remix.status == "completed"
    remixed = spec_of(remix.model_dump())
    assert remixed.source_id == video.id
    _, frames = frames_of(client.videos.download_content(remix.id).content)
    assert difference(frames[0].to_image(), Picture(remixed).frame(0)) < 3  # shows "from <source id>"


def test_media_is_rendered_while_the_job_is_queued(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve("--media-cache", str(cache)) as s:  # realistic speed: the job is queued, then renders
        control = MockControl(s.root, api_key=KEY)
        control.clock.freeze()
        video = create(s, size="1280x720", seconds="4")
        assert video["status"] == "queued"

        def files() -> list[Path]:
            return sorted(cache.glob("*.*")) if cache.is_dir() else []

        # No download has asked for it: the renders queued by the create fill the cache.
        for _ in range(600):  # a bounded wait (60 s) on the renders, polled every 0.1 s
            if len(files()) == 3:
                break
            time.sleep(0.1)
        assert len(files()) == 3
        assert httpx.get(f"{s.base_url}/videos/{video['id']}", headers=AUTH).json()["status"] == "queued"
        control.clock.advance(60)
        data = download(s, video["id"])
        assert data in {path.read_bytes() for path in files()}  # served from the cache
        assert len(files()) == 3


# -- without the extra -------------------------------------------------------------------------------


def test_without_the_media_extra_the_committed_fixtures_are_served() -> None:
    # The interpreter is told PyAV and Pillow do not exist, as in an environment without the extra.
    port = free_port()
    launcher = (
        "import sys; sys.modules['av'] = None; sys.modules['PIL'] = None; "
        "from mockserver.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", launcher, "serve", "--port", str(port), "--speed", "0"]
    with running(command, port) as s:
        assert httpx.get(f"{s.root}/__mock/health").json()["media"] == "fixtures"
        video = create(s, size="1280x720", seconds="8")
        assert download(s, video["id"]) == (DEFAULT_ROOT / "video_1280x720_8s.mp4").read_bytes()
        assert download(s, video["id"], "thumbnail") == (DEFAULT_ROOT / "thumbnail_1280x720.webp").read_bytes()
        _, output = s.stop()
    assert "media: committed fixtures (the 'media' extra is not installed (av is missing)" in output


def test_no_render_serves_the_fixtures_with_the_extra_installed(tmp_path: Path) -> None:
    with serve("--speed", "0", "--no-render", "--media-cache", str(tmp_path / "c")) as s:
        video = create(s, size="720x1280", seconds="4")
        assert download(s, video["id"]) == (DEFAULT_ROOT / "video_720x1280_4s.mp4").read_bytes()
        _, output = s.stop()
    assert not (tmp_path / "c").exists()
    assert "media: committed fixtures (rendering is turned off" in output


def test_bad_media_settings_are_refused_at_start_up(tmp_path: Path) -> None:
    import subprocess

    for args, message in (
        (["--media-cache-mb", "0"], "media cache size must be > 0 MB"),
        (["--media-workers", "0"], "at least 1"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr


# -- the source: cache limit, failures, the wait bound (in process, with a renderer of tiny files) -------


def job(n: int, *, size: str = "1280x720", seconds: str = "4", prompt: str = "p") -> Job:
    return Job(
        id=f"video_{n:032x}",
        owner="o",
        model="sora-2",
        prompt=prompt,
        size=size,
        seconds=seconds,
        created_at=0.0,
        queue_seconds=2.0,
        render_seconds=4.0,
    )


def tiny(spec: MediaSpec, variant: str, path: Path) -> None:
    """A stand-in renderer: a file of 1 to 3 KB that names the job, at once."""
    number = int(spec.job_id.removeprefix("video_"), 16)
    path.write_bytes(f"{spec.job_id} {variant}\n".encode() * (1 + number % 3) * 20)


def source(tmp_path: Path, render=tiny, **settings) -> MediaSource:
    return MediaSource(MediaLibrary(), MediaSettings(cache_dir=tmp_path / "cache", **settings), render=render)


def test_the_cache_stays_within_its_limit_over_1000_jobs_and_keeps_what_was_used_last(tmp_path: Path) -> None:
    media = source(tmp_path, cache_mb=64 / 1024)  # 64 KB: room for a few dozen of the tiny files
    limit = media.cache.limit_bytes
    favourite = job(0)

    async def run() -> None:
        for n in range(1, 1001):
            for variant in ("video", "thumbnail", "spritesheet"):
                served = await media.fetch(job(n), variant)
                assert served.path.parent == media.cache.root and served.path.read_bytes().startswith(
                    job(n).id.encode()
                )
            assert media.cache.total_bytes() <= limit
            # Used again and again, the favourite is never the least recently used: it stays.
            assert (await media.fetch(favourite, "video")).path.exists()

    asyncio.run(run())
    names = [entry.name for entry in media.cache.entries()]
    assert 20 < len(names) < 200  # it holds many files, and the early jobs' are gone
    first = media.cache.path(MediaSpec.of(job(1)).key("video", toolkit()), ".mp4")
    assert not first.exists()
    media.close()


def test_a_render_that_fails_serves_the_fixture_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(spec: MediaSpec, variant: str, path: Path) -> None:
        raise RuntimeError("encoder exploded")

    media = source(tmp_path, render=broken)
    fixture = MediaLibrary().lookup("video", "1280x720", "4")
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        served = [asyncio.run(media.fetch(job(n), "video")) for n in range(3)]
    assert [s.path for s in served] == [fixture.path] * 3
    failures = [r for r in caplog.records if "encoder exploded" in r.getMessage()]
    assert len(failures) == 1
    media.close()


def test_a_download_waits_for_its_media_only_up_to_the_bound_then_gets_the_fixture(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def slow(spec: MediaSpec, variant: str, path: Path) -> None:
        release.wait(30)
        tiny(spec, variant, path)

    media = source(tmp_path, render=slow, wait_seconds=0.2)
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        first = asyncio.run(media.fetch(job(1), "video"))
    assert first.path == MediaLibrary().lookup("video", "1280x720", "4").path
    assert any("not ready after 0.2 s" in r.getMessage() for r in caplog.records)
    release.set()
    # The render went on; once done, the next download is the job's own file.
    for _ in range(300):  # bounded: 30 s
        second = asyncio.run(media.fetch(job(1), "video"))
        if second.path.parent == media.cache.root:
            break
        time.sleep(0.1)
    assert second.path.read_bytes().startswith(job(1).id.encode())
    media.close()


def test_jobs_the_renderer_cannot_make_get_the_fixtures(tmp_path: Path) -> None:
    media = source(tmp_path)
    library = MediaLibrary()
    for size, seconds in (("1001x1001", "4"), ("16:9", "4"), ("1280x720", "600"), ("8000x8000", "4")):
        served = asyncio.run(media.fetch(job(1, size=size, seconds=seconds), "video"))
        assert served.path == library.lookup("video", size, seconds).path, (size, seconds)
    media.close()


def test_a_new_job_is_rendered_ahead_and_a_failed_one_or_one_complete_at_once_is_not(tmp_path: Path) -> None:
    started: list[str] = []
    done = threading.Semaphore(0)

    def recording(spec: MediaSpec, variant: str, path: Path) -> None:
        started.append(spec.job_id)
        tiny(spec, variant, path)
        done.release()

    media = source(tmp_path, render=recording, workers=1)
    media.prepare(dataclasses.replace(job(1), outcome=Outcome.failure("internal_error")))
    media.prepare(dataclasses.replace(job(3), queue_seconds=0.0, render_seconds=0.0))  # --speed 0
    media.prepare(job(2))  # queued after those: its renders run once theirs would have
    assert all(done.acquire(timeout=30) for _ in range(3))
    assert started == [job(2).id] * 3
    media.close()


def test_the_config_files_media_section_is_read_and_flags_win(tmp_path: Path) -> None:
    from mockserver.cli import build_config, parser
    from mockserver.config import ConfigError, load_config_file

    config = tmp_path / "mock.yaml"
    config.write_text(f"media:\n  cache_dir: {tmp_path / 'c'}\n  cache_mb: 64\n  workers: 1\n  wait_seconds: 5\n")
    args = parser().parse_args(["serve", "--config", str(config), "--media-cache-mb", "32"])
    settings = build_config(args, load_config_file(config)).media
    assert (settings.cache_dir, settings.cache_mb, settings.workers, settings.wait_seconds) == (
        tmp_path / "c",
        32,
        1,
        5,
    )
    for section, message in (
        ("media: {colour: red}", "unknown setting(s) colour"),
        ("media: {render: 'no'}", "true or false"),
    ):
        config.write_text(section + "\n")
        with pytest.raises(ConfigError, match=re.escape(message)):
            build_config(parser().parse_args(["serve", "--config", str(config)]), load_config_file(config))
