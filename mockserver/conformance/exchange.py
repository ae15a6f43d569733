"""One recorded HTTP request and its response, as the lifecycle phase saw it.

An `Exchange` keeps what a check needs to judge the response and what a person needs to
reproduce it: a `curl` line in which the API key is never written out (it reads
`$OPENAI_API_KEY` instead).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.core.keys import is_credential_header

KEY_PLACEHOLDER = "$OPENAI_API_KEY"
BODY_PREFIX_BYTES = 64  # enough for every magic number the checks look at


@dataclass
class Exchange:
    step: str  # what the lifecycle was doing, e.g. "create", "poll 3", "content video"
    operation: str  # the contract's label, e.g. "GET /videos/{video_id}"
    method: str
    url: str
    request_headers: dict[str, str]  # without Authorization; `auth` says what was sent
    form: dict[str, str] | None = None
    auth: str = "key"  # "key" (the user's key), "none", or "wrong" (a made-up key)
    status: int | None = None  # None when no response arrived
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body_prefix: bytes = b""
    body_size: int = 0
    json: Any = None
    network_error: str | None = None
    sent_at: float = 0.0  # time.monotonic() when sent: orders the exchanges of a job
    attempts: int = 1  # tries sent (retries.py); the one recorded is the last
    gave_up: str | None = None  # why a 429/503 answer was not retried further

    @property
    def rate_limited(self) -> bool:
        """Still 429 after the retries: says nothing about the contract."""
        return self.status == 429

    key_placeholder: str = KEY_PLACEHOLDER  # the variable the reproducing curl line reads the key from
    body: bytes | None = field(default=None, repr=False)  # the whole body, only when the step asked to keep it

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe_response(self) -> str:
        if self.status is None:
            return f"no response ({self.network_error})"
        text = f"HTTP {self.status}"
        if self.media_type:
            text += f" {self.media_type}"
        if self.json is not None:
            text += f" {_short_json(self.json)}"
        elif self.body_size:
            text += f" ({self.body_size} bytes)"
        return text

    def curl(self) -> str:
        parts = ["curl", "-sS"]
        if self.method != "GET" and not (self.method == "POST" and self.form):
            parts += ["-X", self.method]
        parts.append(shlex.quote(self.url))
        if self.auth == "key":
            parts += ["-H", f'"Authorization: Bearer {self.key_placeholder}"']
        elif self.auth == "wrong":
            parts += ["-H", shlex.quote("Authorization: Bearer invalid-key-for-conformance")]
        for name, value in self.request_headers.items():
            if is_credential_header(name):  # `--header "api-key: ..."`: read from the environment, never written out
                parts += ["-H", f'"{name}: {header_variable(name)}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        for name, value in (self.form or {}).items():
            parts += ["-F", shlex.quote(f"{name}={value}")]
        return " ".join(parts)


def header_variable(name: str) -> str:
    """The shell variable a reproduction line reads a credential header from: `api-key` -> `$API_KEY`."""
    return "$" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _short_json(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
