"""Who is calling the video API: the Bearer key, checked against the configured keys and their rules."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.requests import Request

from mockserver.core.errors import APIError
from mockserver.core.keys import KeyRules, authorization, bearer_key, caller, mask

_ANY_KEY = KeyRules()  # the rules of any sk- key when none are configured; made once, not per request


class Authenticator:
    def __init__(self, api_keys: Mapping[str, KeyRules], admin_token: str | None, salt: str) -> None:
        self.keys = dict(api_keys)
        self.admin_token = admin_token
        self.salt = salt  # of key fingerprints (core/keys.owner_of)

    def rules(self, key: str) -> KeyRules | None:
        # Bytes, not str: compare_digest refuses a str with non-ASCII characters (a header's latin-1 é).
        if self.admin_token and hmac.compare_digest(key.encode(), self.admin_token.encode()):
            return None  # the admin token opens the control API, never the video API
        if self.keys:
            return self.keys.get(key)
        return _ANY_KEY if key.startswith("sk-") else None

    def authenticate(self, request: Request) -> tuple[str, KeyRules]:
        """The caller's fingerprint and rules, or the 401 the SDKs expect."""
        raw = authorization(request.scope["headers"])
        found = caller(raw, self.salt)
        rules = None if found is None else self.rules(found.key)
        if found is not None and rules is not None:
            return found.owner, rules
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
