"""`proxy --record DIR`: write each exchange, each job's timeline and each download as it goes by.

The layout is mockserver/cassette.py's. Files are written when an exchange finishes (a job's file
again whenever something new is seen of it), so a proxy stopped at any moment leaves a readable
cassette. Credentials never reach a file: credential headers and query parameters are masked
as the journal masks them, and every key the proxy saw is masked wherever else it turns up
(an error message that quotes it, say).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from mockserver import __version__
from mockserver.conformance.exchange import Exchange
from mockserver.core import cassette
from mockserver.core.keys import is_credential_header, mask
from mockserver.proxy.observe import Observation, TrackedJob, request_fields, upload_bytes
from mockserver.proxy.traffic import Observed

# Query parameter names that carry a credential in some client or gateway.
_SECRET_NAME = re.compile(r"(key|token|secret|password|session|signature|credential)", re.IGNORECASE)
_RESPONSE_SECRETS = frozenset({"set-cookie"})


def _masked_value(name: str, value: str) -> str:
    if name == "authorization" or name == "proxy-authorization":
        scheme, _, token = value.partition(" ")
        return f"{scheme} {mask(token.strip())}" if token else mask(value)
    return mask(value)


def masked_headers(headers: list[tuple[str, str]], *, response: bool = False) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers:
        # An answer's names are the server's (x-ratelimit-remaining-tokens is no secret); only cookies are.
        secret = name in _RESPONSE_SECRETS if response else is_credential_header(name)
        if secret:
            value = _masked_value(name, value)
        shown[name] = value if name not in shown else f"{shown[name]}, {value}"
    return shown


def masked_query(query: dict[str, str]) -> dict[str, str]:
    return {name: (mask(value) if _SECRET_NAME.search(name) else value) for name, value in query.items()}


class CassetteWriter:
    def __init__(self, directory: Path, observation: Observation) -> None:
        self.directory = directory
        self.observation = observation
        self.media_dir = directory / cassette.MEDIA_DIR
        self.spool_dir = self.media_dir  # downloads are spooled beside their final place: the move is a rename
        existing = directory / cassette.CASSETTE_FILE
        if existing.exists() or (directory / cassette.EXCHANGES_DIR).exists():
            raise FileExistsError(
                f"{directory} already holds a cassette; record into a new directory (or remove it first)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        self._write(
            existing,
            {
                "format": cassette.FORMAT,
                "recorded_by": f"mockserver {__version__}",
                "upstream": observation.upstream_url,
                "started_at": time.time(),
            },
        )
        observation.listen(self.record)

    def _write(self, path: Path, document: Any) -> None:
        cassette.write_text(path, self.observation.redact(cassette.dumps(document)))

    def _store(self, sha256: str, media_type: str, data: bytes | None = None, spooled: Path | None = None) -> str:
        """Keep the bytes under their digest once; returns their name in the cassette."""
        name = cassette.media_name(sha256, media_type)
        target = self.directory / name
        if target.exists():
            if spooled is not None:
                spooled.unlink(missing_ok=True)
            return name
        target.parent.mkdir(parents=True, exist_ok=True)
        if spooled is not None:
            os.replace(spooled, target)
        elif data is not None:
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, target)
        return name

    def record(self, seen: Observed, exchange: Exchange | None, job: TrackedJob | None) -> None:
        fields, uploads = request_fields(seen)
        for sha256, data in upload_bytes(seen):
            for upload in uploads.values():
                if upload["sha256"] == sha256:
                    upload["file"] = self._store(sha256, upload.get("content_type") or "", data=data)
        media = None
        if seen.response_sha256 is not None:
            file = (
                self._store(seen.response_sha256, seen.media_type, spooled=seen.response_file)
                if seen.response_file
                else None
            )
            media = {
                "sha256": seen.response_sha256,
                "media_type": seen.media_type,
                "size": seen.response_size,
                "file": file,
            }
        body_json = seen.response_json()
        document = {
            "seq": seen.seq,
            "request_id": seen.request_id,
            "started_at": round(seen.started, 3),
            "elapsed_seconds": round(seen.finished - seen.started, 3),
            "operation": exchange.operation if exchange is not None else None,
            "video_id": job.video_id if job is not None else None,
            "request": {
                "method": seen.method,
                "path": seen.path,
                "query": masked_query(seen.query_params),
                "headers": masked_headers(seen.request_headers),
                "fields": fields or None,
                "uploads": uploads or None,
                "body_size": len(seen.request_body),
            },
            "response": {
                "status": seen.status,
                "headers": masked_headers(seen.response_headers, response=True),
                "json": body_json,
                "text": seen.response_body.decode("utf-8", "replace")
                if body_json is None and media is None and seen.response_body
                else None,
                "media": media,
                "network_error": seen.network_error,
            },
        }
        self._write(self.directory / cassette.EXCHANGES_DIR / f"{seen.seq:06d}.json", document)
        if job is not None:
            self._write_job(job)

    def _write_job(self, job: TrackedJob) -> None:
        last = job.trace.polls[-1].json if job.trace.polls else job.trace.create.json if job.trace.create else None
        source = self.observation.jobs.get(job.source_id) if job.source_id else None
        content = {
            variant: {**facts, "file": cassette.media_name(facts["sha256"], facts["media_type"])}
            for variant, facts in job.content.items()
        }
        self._write(
            self.directory / cassette.JOBS_DIR / f"{job.number:04d}.json",
            {
                "number": job.number,
                "id": job.video_id,
                "operation": job.operation,
                "request": job.create_fields,
                "source_id": job.source_id,
                "source_job": source.number if source is not None else None,
                "create_request_id": job.create.request_id,
                "timeline": job.observed,
                "final": {"status": last.get("status"), "error": last.get("error")} if isinstance(last, dict) else None,
                "content": content,
                "last_seen": last,
            },
        )
