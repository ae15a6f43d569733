"""What every client in the matrix does, and how an outcome becomes one cell of text.

Each client runs the same user story against a fake speaking one dialect: create a 4-second
video, wait for it the way that client's documentation does, download it, and check the bytes
are an MP4. A cell is "works" or the first thing a user of that client would notice going wrong.
Cells are made deterministic (no ids, ports or timings) so that a regenerated matrix only
changes when behaviour does.

This module is imported by the Python SDK client (in the test process) and by the LiteLLM client
(in its own venv), so it uses the standard library only.
"""

from __future__ import annotations

import re

PROMPT = "A calico cat playing a piano on stage"
MODEL = "sora-2"
SECONDS = "4"
SIZE = "720x1280"
# The loops the official docs show: keep polling while the job is queued or in progress.
WAITING_STATUSES = ("queued", "in_progress")
POLL_DEADLINE_S = 30.0
POLL_INTERVAL_S = 0.1
WORKS = "works"

_NOISE = [
    (re.compile(r"https?://(127\.0\.0\.1|localhost)(:\d+)?"), "http://127.0.0.1:PORT"),
    (re.compile(r"\b(video_gen_|video_|task_)[0-9a-zA-Z_=-]{16,}"), r"\1<id>"),
    (re.compile(r"\beyJ[0-9A-Za-z_=-]{20,}"), "<id>"),
    (re.compile(r"\breq_[0-9a-f]{16,}"), "req_<id>"),
    (re.compile(r"\s+"), " "),
]


def clean(text: str, limit: int = 160) -> str:
    """One line, no ids/ports, no table pipes, bounded length."""
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    text = text.replace("|", "/").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def is_mp4(data: bytes) -> bool:
    return len(data) > 12 and data[4:8] == b"ftyp"


def verdict(final_status: str | None, completed_word: str, data: bytes | None) -> str:
    """The cell once the download returned bytes."""
    if data is None:
        return "no content"
    if not is_mp4(data):
        return clean(f"download returned {len(data)} bytes that are not an MP4")
    if final_status != completed_word:
        return clean(f"works, but the finished video says status={final_status}")
    return WORKS
