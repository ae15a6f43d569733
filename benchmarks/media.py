"""The `render` scenario: what media drawn for each job costs (mockserver/render, the `media` extra).

- render time: each official size drawn and encoded in this process, exactly as a render thread of
  the server does it (mockserver.render.source.render_file), reported per second of video;
- downloads from the cache: GET /content of a rendered job, served from the media cache, against
  the mock's fixture path (`--no-render`, a fixtures directory holding the same file) and the
  bare FileResponse of that file: the cache's path compared with today's fixture downloads.
"""

from __future__ import annotations

import shutil
import statistics
import time
from dataclasses import replace
from typing import Any

from benchmarks import load, scenarios, servers
from benchmarks.scenarios import AUTH, PROMPT, Settings, check, compare, create_job, http_call, ratio, result

DOWNLOAD_SIZE, DOWNLOAD_SECONDS = "1280x720", "12"


def _render_times(settings: Settings) -> dict[str, Any]:
    from mockserver.core.jobs import Job
    from mockserver.render.source import render_file
    from mockserver.render.spec import MediaSpec

    sides: dict[str, Any] = {}
    for size in settings.render_sizes:
        spec = MediaSpec.of(
            Job(
                id="video_" + "0" * 32,
                owner="bench",
                model="sora-2",
                prompt=PROMPT,
                size=size,
                seconds=settings.render_seconds,
                created_at=0.0,
                queue_seconds=0.0,
                render_seconds=0.0,
            )
        )
        times: dict[str, list[float]] = {"video": [], "thumbnail": [], "spritesheet": []}
        sizes: dict[str, int] = {}
        for _ in range(max(1, settings.repeats)):
            for variant in times:
                path = settings.workdir / f"render-{size}-{variant}"
                started = time.perf_counter()
                render_file(spec, variant, path)
                times[variant].append(time.perf_counter() - started)
                sizes[variant] = path.stat().st_size
        video_s = statistics.median(times["video"])
        sides[f"render {size}"] = {
            "median": {
                "render_s_per_video_s": round(video_s / spec.duration, 3),
                "video_s": round(video_s, 3),
                "thumbnail_ms": round(statistics.median(times["thumbnail"]) * 1000, 1),
                "spritesheet_ms": round(statistics.median(times["spritesheet"]) * 1000, 1),
                "video_kb": round(sizes["video"] / 1024, 1),
            },
            "runs": {variant: [round(t, 3) for t in values] for variant, values in times.items()},
        }
    return sides


def _downloaded(mock: servers.Process, fields: dict[str, str]) -> tuple[str, bytes]:
    job = create_job(mock, fields, {"X-Mock-Duration": "0"})
    status, body = http_call(mock.port, "GET", f"/v1/videos/{job['id']}/content", headers=AUTH)  # renders it
    if status != 200:
        raise RuntimeError(f"download from the mock answered {status}: {body[:300]!r}")
    return job["id"], body


def render(settings: Settings) -> dict[str, Any]:
    sides = _render_times(settings)
    cache = settings.workdir / "media-cache"
    rendered_spec = replace(settings.mock, extra_args=(*settings.mock.extra_args, "--media-cache", str(cache)))
    fields = {"model": "sora-2", "prompt": PROMPT, "size": DOWNLOAD_SIZE, "seconds": DOWNLOAD_SECONDS}
    with servers.mock(rendered_spec) as rendered:
        rendered_id, rendered_body = _downloaded(rendered, fields)
        cached = next(p for p in cache.glob("*.mp4") if p.read_bytes() == rendered_body)
        # Today's fixture path serving the very same bytes: a fixtures directory whose 12 s 1280x720
        # video is the rendered file, so the two paths differ in nothing but how the file is found.
        fixtures = settings.workdir / "fixtures-same"
        shutil.copytree(scenarios._download_file().parent, fixtures, dirs_exist_ok=True)
        (fixtures / f"video_{DOWNLOAD_SIZE}_{DOWNLOAD_SECONDS}s.mp4").write_bytes(rendered_body)
        fixture_spec = replace(
            settings.mock, extra_args=(*settings.mock.extra_args, "--no-render", "--fixtures", str(fixtures))
        )
        with (
            servers.mock(fixture_spec) as fixture_mock,
            servers.bare(download=cached, workers=settings.mock.workers) as bare,
        ):
            fixture_id, fixture_body = _downloaded(fixture_mock, fields)
            if fixture_body != rendered_body:
                raise RuntimeError("the fixture path did not serve the rendered file it was given")
            downloads = compare(
                settings,
                {
                    "mock (rendered, from cache)": load.Request(
                        f"{rendered.root}/v1/videos/{rendered_id}/content", headers=AUTH
                    ),
                    "mock (fixture path, same file)": load.Request(
                        f"{fixture_mock.root}/v1/videos/{fixture_id}/content", headers=AUTH
                    ),
                    "bare (same file)": load.Request(f"{bare.root}/v1/videos/{rendered_id}/content", headers=AUTH),
                },
            )
    sides.update(downloads)
    checks = [
        check(
            f"render {size}: seconds per second of video",
            sides[f"render {size}"]["median"]["render_s_per_video_s"],
            "reported",
            None,
            at_least=False,
        )
        for size in settings.render_sizes
    ]
    checks += [
        check(
            "download from the cache: MB/s vs bare FileResponse",
            ratio(downloads, "mock (rendered, from cache)", "bare (same file)", "mb_per_s"),
            "reported",
            None,
            at_least=True,
        ),
        # "Unchanged": finding the file in the cache costs what finding a fixture does.
        check(
            "download from the cache vs the fixture path, MB/s",
            ratio(downloads, "mock (rendered, from cache)", "mock (fixture path, same file)", "mb_per_s"),
            ">= 0.90",
            0.90,
            at_least=True,
        ),
    ]
    notes = [
        f"render: {settings.render_seconds} s clips drawn and encoded in one thread (one render thread of the "
        f"server), median of {max(1, settings.repeats)}",
        f"downloads: the rendered {DOWNLOAD_SECONDS} s {DOWNLOAD_SIZE} MP4 ({len(rendered_body)} bytes) on each side",
        *scenarios._error_notes(downloads),
    ]
    return result(
        "render",
        "media drawn for each job: render time per size, and downloads from the media cache",
        sides,
        checks,
        notes,
    )
