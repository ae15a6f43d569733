"""The headers every OpenAI response carries: x-request-id, openai-processing-ms, openai-version.

The request pipeline (mockserver/http/pipeline.py) adds them to every response, errors included.
"""

from __future__ import annotations

import os
import random
import time

OPENAI_VERSION = "2020-10-01"
_VERSION_HEADER = (b"openai-version", OPENAI_VERSION.encode())
# Request ids only need to be unique, not unguessable: a PRNG seeded once from the OS avoids a
# getrandom() system call on every request (secrets.token_hex).
_request_ids = random.Random()
os.register_at_fork(after_in_child=_request_ids.seed)  # forked workers must not repeat each other's ids


def new_request_id() -> str:
    return "req_" + _request_ids.randbytes(16).hex()  # 32 hex digits, as OpenAI's; half the cost of formatting an int


def openai_headers(request_id: str, started: float) -> tuple[tuple[bytes, bytes], ...]:
    """The three headers for a response to a request that arrived at `started` (time.perf_counter)."""
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    return (b"x-request-id", request_id.encode()), (b"openai-processing-ms", b"%d" % elapsed_ms), _VERSION_HEADER
