"""One request the proxy forwarded and the answer it passed back, as the proxy saw them go by.

Held in memory only: the key is in here as the client sent it. What leaves the process (the
cassette, violations, reports) is masked on the way out (cassette.py, observe.py).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from mockserver.core.keys import bearer_key

JSON_CAPTURE_LIMIT = 8 * 1024 * 1024  # a JSON answer larger than this is passed on but not judged
PREFIX_BYTES = 64  # enough for every magic number the content checks look at


@dataclass
class Observed:
    seq: int
    request_id: str  # the answer's x-request-id: the upstream's, or the one the proxy added
    started: float  # wall-clock seconds when the request arrived
    method: str
    path: str  # as the client sent it, base path included
    query: str  # the raw query string
    request_headers: list[tuple[str, str]]  # lower-cased names, as sent (the key unmasked: memory only)
    request_body: bytes = b""
    request_body_complete: bool = True  # False when it was larger than the capture limit
    finished: float = 0.0
    status: int | None = None  # None: the upstream never answered
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""  # JSON and other text answers, up to JSON_CAPTURE_LIMIT
    response_prefix: bytes = b""
    response_size: int = 0
    response_sha256: str | None = None  # media answers: the digest of the bytes passed on
    response_file: Path | None = None  # media answers while recording: the bytes, in a temporary file
    network_error: str | None = None
    parsed_body: Any = None  # (fields, uploads), once observe.request_fields has read the body

    def header(self, name: str, *, response: bool = False) -> str | None:
        for key, value in self.response_headers if response else self.request_headers:
            if key == name:
                return value
        return None

    @property
    def api_key(self) -> str | None:
        value = self.header("authorization")
        return bearer_key(value.encode("latin-1")) if value else None

    @property
    def media_type(self) -> str:
        return (self.header("content-type", response=True) or "").split(";")[0].strip().lower()

    @property
    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def is_media(self) -> bool:
        """An answer passed on as bytes (a download), not as a JSON document."""
        kind = self.media_type
        return not (kind == "" or kind.endswith("json") or kind.startswith("text/"))

    def response_json(self) -> Any:
        if self.is_media or not self.response_body:
            return None
        body = _decoded(self.response_body, (self.header("content-encoding", response=True) or "").strip().lower())
        try:
            return json.loads(body) if body is not None else None
        except ValueError:
            return None


def _decoded(body: bytes, encoding: str) -> bytes | None:
    """The body without its content coding; None for a coding this proxy cannot undo (it still passes it on)."""
    if encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return zlib.decompress(body)
    except zlib.error:
        return None
    return None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
