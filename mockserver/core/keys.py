"""API keys: read from the Authorization header, fingerprinted, masked, and what a key may do.

The one reading of `Authorization` for the whole server (video API auth, the fault injector, the
journal, the control API's guard), with the one cache. Standard library only: the control client
(`mockserver.client`) imports this module and nothing else of the server.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

ANONYMOUS = "anonymous"  # the owner of a request without a Bearer key


@dataclass(frozen=True)
class KeyRules:
    """What one configured API key may do."""

    denied_models: frozenset[str] = frozenset()


class Caller(NamedTuple):
    """The Bearer key of a request and its fingerprint."""

    key: str
    owner: str


def owner_of(api_key: str) -> str:
    """Jobs, journal entries and faults are keyed by this fingerprint, so the key itself is never stored."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


def mask(key: str) -> str:
    """How a key may appear in logs, journals and reports: its start and end only."""
    if len(key) <= 8:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


def authorization(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The first Authorization header of raw ASGI headers as sent (b"" without one), as Starlette would pick it.

    Read from the raw headers: building Starlette's Headers for one lookup cost more than the lookup.
    """
    for name, value in headers:
        if name == b"authorization":
            return value
    return b""


def bearer_key(raw: bytes) -> str | None:
    """The key in an `Authorization: Bearer <key>` value as sent; None for any other value."""
    scheme, _, token = raw.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@functools.lru_cache(maxsize=256)
def caller(raw: bytes) -> Caller | None:
    """Who sent this Authorization value; None without a Bearer key.

    Cached: a client sends the same header on every request, and a test suite uses a handful of
    keys. Bounded, so a client cycling keys cannot grow it.
    """
    key = bearer_key(raw)
    return None if key is None else Caller(key, owner_of(key))


def owner_of_request(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The fingerprint of a request's Bearer key, or ANONYMOUS."""
    found = caller(authorization(headers))
    return ANONYMOUS if found is None else found.owner
