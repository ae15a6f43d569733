"""The cassette layout: what `mockserver proxy --record DIR` writes and `serve --replay DIR` reads.

    DIR/cassette.json           format version, the upstream, when the recording started
    DIR/exchanges/000001.json   one file per exchange, numbered as the requests arrived: request and
                                answer, credentials masked, a download as a reference into media/
    DIR/jobs/0001.json          one file per job, in the order of the creates: the create request,
                                the job's observed timeline (status and progress when seen), how it
                                ended, and its downloads by variant
    DIR/media/<sha256>.<ext>    every download and upload, stored once by the sha256 of its bytes

Plain JSON, two-space indented, one document per file, so a cassette diffs and commits like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FORMAT = 1
CASSETTE_FILE = "cassette.json"
EXCHANGES_DIR = "exchanges"
JOBS_DIR = "jobs"
MEDIA_DIR = "media"

EXTENSIONS = {
    "video/mp4": ".mp4",
    "image/webp": ".webp",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/json": ".json",
}


class CassetteError(Exception):
    """A directory that is not a cassette this version can read."""


def extension_for(media_type: str) -> str:
    return EXTENSIONS.get(media_type.split(";")[0].strip().lower(), ".bin")


def media_name(sha256: str, media_type: str) -> str:
    """The file, relative to the cassette, that holds the bytes with this digest."""
    return f"{MEDIA_DIR}/{sha256}{extension_for(media_type)}"


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str) -> None:
    """Replace the file at once, so a reader (or a crash) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError(f"{path} is missing: is this a directory written by `mockserver proxy --record`?") from None
    except ValueError as exc:
        raise CassetteError(f"{path} is not valid JSON: {exc}") from None


def read_header(directory: Path) -> dict[str, Any]:
    header = read_json(directory / CASSETTE_FILE)
    found = header.get("format") if isinstance(header, dict) else None
    if found != FORMAT:
        where = directory / CASSETTE_FILE
        raise CassetteError(f"{where}: cassette format {found!r}; this mockserver reads format {FORMAT}")
    return header


def read_jobs(directory: Path) -> list[dict[str, Any]]:
    """Every recorded job, in the order of their creates."""
    jobs_dir = directory / JOBS_DIR
    if not jobs_dir.is_dir():
        return []
    jobs = []
    for path in sorted(jobs_dir.glob("*.json")):
        job = read_json(path)
        if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not isinstance(job.get("timeline"), list):
            raise CassetteError(f"{path} is not a recorded job (it needs an id and a timeline)")
        jobs.append(job)
    return jobs
