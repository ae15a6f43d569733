"""Who is calling: the Bearer key on /v1 routes, and the admin token on the control API."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from mockserver.config import KeyRules, ServerConfig
from mockserver.errors import APIError
from mockserver.service import owner_of


def mask(key: str) -> str:
    """How a key may appear in logs, journals and reports: its start and end only."""
    if len(key) <= 8:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


_ANY_KEY = KeyRules()  # the rules of any sk- key when none are configured; made once, not per request


class Authenticator:
    def __init__(self, config: ServerConfig) -> None:
        self.keys = config.api_keys
        self.admin_token = config.admin_token

    def rules(self, key: str) -> KeyRules | None:
        if self.admin_token and hmac.compare_digest(key, self.admin_token):
            return None  # the admin token opens the control API, never the video API
        if self.keys:
            return self.keys.get(key)
        return _ANY_KEY if key.startswith("sk-") else None

    def authenticate(self, request: Request) -> tuple[str, KeyRules]:
        key = bearer_token(request)
        if key is None:
            raise APIError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer sk-...'.",
                code="missing_api_key",
            )
        rules = self.rules(key)
        if rules is None:
            raise APIError(401, f"Incorrect API key provided: {mask(key)}.", code="invalid_api_key")
        return owner_of(key), rules

    @staticmethod
    def check_model(rules: KeyRules, model: str) -> None:
        if model in rules.denied_models:
            raise APIError(
                403,
                f"This API key does not have access to model '{model}'.",
                code="model_not_allowed",
                param="model",
            )
