"""Who is calling: the Bearer key on /v1 routes, and the admin token on the control API."""

from __future__ import annotations

import functools
import hmac

from starlette.requests import Request
from starlette.types import Scope

from mockserver.config import KeyRules, ServerConfig
from mockserver.core.errors import APIError
from mockserver.core.videos import bearer_key, owner_of


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


def authorization(scope: Scope) -> bytes:
    """The first Authorization header as sent (b"" without one), as `request.headers` would pick it.

    Read from the raw ASGI headers: building Starlette's Headers for one lookup cost more than the
    lookup, on every request.
    """
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return b""


def bearer_token(request: Request) -> str | None:
    return bearer_key(authorization(request.scope))


_ANY_KEY = KeyRules()  # the rules of any sk- key when none are configured; made once, not per request


class Authenticator:
    def __init__(self, config: ServerConfig, salt: str) -> None:
        self.salt = salt  # of key fingerprints (mockserver.core.videos.owner_of)
        self.keys = config.api_keys
        self.admin_token = config.admin_token
        # A client sends the same header on every request, and keys and their rules are fixed at
        # start-up: remember what a header means. Bounded, so a client cycling keys cannot grow it.
        self._credentials = functools.lru_cache(maxsize=256)(self._read_credentials)

    def rules(self, key: str) -> KeyRules | None:
        # Bytes, not str: compare_digest refuses a str with non-ASCII characters (a header's latin-1 é).
        if self.admin_token and hmac.compare_digest(key.encode(), self.admin_token.encode()):
            return None  # the admin token opens the control API, never the video API
        if self.keys:
            return self.keys.get(key)
        return _ANY_KEY if key.startswith("sk-") else None

    def _read_credentials(self, raw: bytes) -> tuple[str, KeyRules] | None:
        key = bearer_key(raw)
        rules = None if key is None else self.rules(key)
        return None if key is None or rules is None else (owner_of(key, self.salt), rules)

    def authenticate(self, request: Request) -> tuple[str, KeyRules]:
        raw = authorization(request.scope)
        found = self._credentials(raw)
        if found is not None:
            return found
        key = bearer_key(raw)
        if key is None:
            raise APIError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer sk-...'.",
                code="missing_api_key",
            )
        if self.admin_token and hmac.compare_digest(key.encode(), self.admin_token.encode()):
            # Not echoed even masked: a tail of the admin token in a client's logs is a tail too many.
            raise APIError(
                401, "The admin token opens the /__mock control API only; send an API key here.", code="invalid_api_key"
            )
        raise APIError(401, f"Incorrect API key provided: {mask(key)}.", code="invalid_api_key")

    @staticmethod
    def check_model(rules: KeyRules, model: str) -> None:
        if model in rules.denied_models:
            raise APIError(
                403,
                f"This API key does not have access to model '{model}'.",
                code="model_not_allowed",
                param="model",
            )
