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


@functools.lru_cache(maxsize=256)
def owner_of(api_key: str, salt: str) -> str:
    """Jobs, journal entries and faults are keyed by this fingerprint, so the key itself is never stored.

    Salted with the store's salt (`core/videos.key_salt`): a fingerprint in a journal or a report
    cannot be looked up in a table of SHA-256 values, nor matched with the same key's on another
    fake. The empty salt is a store's from before salts, whose fingerprints were SHA-256 of the key.
    """
    # Cached: auth, the fault injector and the journal each need it on every request, and a
    # test suite uses a handful of keys. Bounded, so a client cycling keys cannot grow it.
    material = f"{salt}:{api_key}" if salt else api_key
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def mask(key: str) -> str:
    """How a key may appear in logs, journals and reports: enough to tell two keys apart, never to guess one.

    The `sk-` every key starts with is no secret and stays; of the rest at most a fifth shows, and
    never more than its last four characters. A rest shorter than 10 characters shows nothing.
    """
    prefix = "sk-" if key.startswith("sk-") else ""
    secret = key[len(prefix) :]
    tail = min(4, len(secret) // 5)
    if tail < 2:
        return f"{prefix}***"
    return f"{prefix}...{secret[-tail:]}"


# Header names that carry a credential in some client, SDK or gateway (OpenAI's, Azure's `api-key`,
# Google's `x-goog-api-key`, proxies' `x-auth-token`, cookies); any name with one of these words counts.
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "password", "cookie", "session", "credential", "signature")


@functools.lru_cache(maxsize=512)
def is_credential_header(name: str) -> bool:
    """Whether a header's value must be masked wherever it is shown (case-insensitive)."""
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


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
def caller(raw: bytes, salt: str) -> Caller | None:
    """Who sent this Authorization value (fingerprinted with the store's `salt`); None without a Bearer key.

    Cached: a client sends the same header on every request, and a test suite uses a handful of
    keys. Bounded, so a client cycling keys cannot grow it.
    """
    key = bearer_key(raw)
    return None if key is None else Caller(key, owner_of(key, salt))


def owner_of_request(headers: Iterable[tuple[bytes, bytes]], salt: str) -> str:
    """The fingerprint of a request's Bearer key, or ANONYMOUS."""
    found = caller(authorization(headers), salt)
    return ANONYMOUS if found is None else found.owner
