"""What a job says about its request, and what its video really is.

`prompt_matches_request`: every video a create answered or a poll returned carries the prompt the
create sent. The fake's `[mock:...]` prompt markers are left out of the comparison (a server that
is not the fake may strip them); a video without `prompt` is `required_fields`' to judge. The
other fields a create asks for (model, size, seconds) are compared by `job_matches_request`
(consistency.py), which reads every observation of a job.

`video_matches_job`: the downloaded MP4's own header (mp4.py) states the frame size and duration
the job says: `size` exactly, `seconds` within DURATION_TOLERANCE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mockserver.conformance.checks import VARIANT_FORMATS, Failed, Passed, Skipped, Verdict, _created, check
from mockserver.conformance.lifecycle import LifecycleRun
from mockserver.conformance.mp4 import Mp4Error, read_header
from mockserver.core.jobs import Phase

DURATION_TOLERANCE = 0.5  # seconds: encoders end a clip on a frame boundary, a few frames either way
_MOCK_MARKER = re.compile(r"\s*\[mock:[^\]]*\]")
_WXH = re.compile(r"^(\d+)x(\d+)$")


def _without_markers(prompt: str) -> str:
    return _MOCK_MARKER.sub("", prompt).strip()


@check("a job's prompt is the one its create sent")
def prompt_matches_request(run: LifecycleRun) -> Iterator[Verdict]:
    for job in run.jobs.values():
        sent = (job.create.form or {}).get("prompt") if job.create is not None else None
        if sent is None or job.not_created:
            continue
        for exchange in job.videos():
            said = exchange.json.get("prompt") if isinstance(exchange.json, dict) else None
            if said is None:
                continue
            if isinstance(said, str) and _without_markers(said) == _without_markers(sent):
                yield Passed()
            else:
                yield Failed(exchange, f"prompt {sent!r} (what the create sent)", f"prompt {said!r}")
                break  # once per job: every later poll would repeat it


@check("the downloaded MP4's own header states the job's size (frame width x height) and seconds (duration)")
def video_matches_job(run: LifecycleRun) -> Iterator[Verdict]:
    job, skipped = _created(run, "completed")
    if job is None:
        yield skipped or Skipped("no completed job was attempted")
        return
    download = job.content.get("video")
    if download is None or not download.ok or download.body is None:
        yield Skipped(
            "no video was downloaded"
            if download is None
            else f"the video download answered {download.describe_response()}"
        )
        return
    if not VARIANT_FORMATS["video"][2](download.body):
        yield Skipped("the download is not an MP4 (content_format judges it)")
        return
    last = next((ex.json for ex in reversed(job.polls) if ex.ok and isinstance(ex.json, dict)), None)
    if last is None or run.phase_of(last.get("status")) is not Phase.COMPLETED:
        yield Skipped("no completed video to compare the file with")
        return
    try:
        header = read_header(download.body)
    except Mp4Error as exc:
        yield Failed(download, "an MP4 whose header (moov) states its frame size and duration", str(exc))
        return
    size = _WXH.match(str(last.get("size", "")))
    if size is None:
        yield Skipped(f"the job's size {last.get('size')!r} is not WIDTHxHEIGHT")
    elif (header.width, header.height) == (int(size.group(1)), int(size.group(2))):
        yield Passed()
    else:
        yield Failed(download, f"{last['size']} frames (the job's size)", f"{header.size} frames in the MP4's header")
    try:
        seconds = float(str(last.get("seconds")))
    except ValueError:
        yield Skipped(f"the job's seconds {last.get('seconds')!r} is not a number")
        return
    if header.duration is None:
        yield Skipped("the MP4's header states no duration (a fragmented MP4)")
    elif abs(header.duration - seconds) <= DURATION_TOLERANCE:
        yield Passed()
    else:
        yield Failed(
            download,
            f"about {seconds:g} s (the job's seconds, within {DURATION_TOLERANCE:g} s)",
            f"{header.duration:.2f} s in the MP4's header",
        )
