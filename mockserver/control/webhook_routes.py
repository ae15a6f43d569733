"""The /__mock/webhooks routes: endpoints to register, the deliveries made, faults for the next deliveries."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.control.inputs import json_object, optional_positive, scoped_owner
from mockserver.control.webhooks import (
    DEFAULT_LATE_SECONDS,
    FAULT_MODES,
    MAX_ATTEMPTS,
    MAX_BACKOFF_SECONDS,
    MAX_FAULT_COUNT,
    MAX_LATE_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MAX_URL_CHARS,
    Fault,
    WebhookDispatcher,
    check_secret,
    generate_secret,
    new_id,
)
from mockserver.core.errors import APIError, bad_request

_URL_HINT = (
    'Send {"url": "http://127.0.0.1:9000/hook"}, optionally with "secret", "api_key", "max_attempts", '
    '"backoff_seconds", "timeout_seconds".'
)


def _endpoint_url(value: Any) -> str:
    """An absolute http(s) URL with a host, as httpx will send to it."""
    import httpx  # the first registration imports it, not start-up (as the first delivery does)

    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > MAX_URL_CHARS:
        raise bad_request(_URL_HINT, param="url")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise bad_request(f"{value[:100]!r} is not a URL httpx can send to. {_URL_HINT}", param="url") from None
    if not url.host or " " in value:
        raise bad_request(f"{value[:100]!r} has no host. {_URL_HINT}", param="url")
    return value


class WebhookRoutes:
    def __init__(self, dispatcher: WebhookDispatcher, key_salt: str) -> None:
        self.dispatcher = dispatcher
        self.key_salt = key_salt  # of key fingerprints (core/keys.owner_of)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/__mock/webhooks", self.endpoints, methods=["GET", "POST", "DELETE"]),
            Route("/__mock/webhooks/deliveries", self.deliveries, methods=["GET"]),
            Route("/__mock/webhooks/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/__mock/webhooks/{endpoint_id}", self.delete_endpoint, methods=["DELETE"]),
        ]

    async def endpoints(self, request: Request) -> Response:
        dispatcher = self.dispatcher
        if request.method == "POST":
            data = await json_object(request)
            url = _endpoint_url(data.get("url"))
            secret = check_secret(data["secret"]) if data.get("secret") is not None else generate_secret()
            reg = dispatcher.register(
                url,
                secret,
                owner=scoped_owner(data, request, self.key_salt),
                max_attempts=optional_positive(data, "max_attempts", high=MAX_ATTEMPTS, integer=True),
                backoff_seconds=optional_positive(data, "backoff_seconds", high=MAX_BACKOFF_SECONDS),
                timeout_seconds=optional_positive(data, "timeout_seconds", high=MAX_TIMEOUT_SECONDS, above_zero=True),
            )
            return JSONResponse(reg.to_json(), status_code=201)
        owner = scoped_owner(None, request, self.key_salt)
        regs = [r for r in dispatcher.registrations.values() if owner is None or r.owner == owner]
        if request.method == "DELETE":
            dispatcher.unregister([r.id for r in regs if not r.startup])
            regs = [r for r in regs if r.startup]
        return JSONResponse({"object": "list", "data": [r.to_json() for r in regs]})

    async def delete_endpoint(self, request: Request) -> Response:
        endpoint_id = request.path_params["endpoint_id"]
        if not self.dispatcher.unregister([endpoint_id]):
            raise APIError(
                404,
                f"No webhook endpoint {endpoint_id!r}; GET /__mock/webhooks lists them.",
                code="webhook_not_found",
                param="endpoint_id",
            )
        return JSONResponse({"id": endpoint_id, "deleted": True})

    async def deliveries(self, request: Request) -> Response:
        query = request.query_params
        found = self.dispatcher.find(
            endpoint=query.get("endpoint") or None,
            video_id=query.get("video_id") or None,
            owner=scoped_owner(None, request, self.key_salt),
        )
        return JSONResponse({"object": "list", "data": [{k: v for k, v in d.items() if k != "owner"} for d in found]})

    async def faults(self, request: Request) -> Response:
        dispatcher = self.dispatcher
        if request.method == "POST":
            data = await json_object(request)
            mode = data.get("mode")
            if mode not in FAULT_MODES:
                raise bad_request(
                    f"'mode' must be one of {', '.join(FAULT_MODES)}; got {mode!r}.", param="mode", code="invalid_value"
                )
            endpoint = data.get("endpoint")
            if endpoint is not None and (not isinstance(endpoint, str) or endpoint not in dispatcher.registrations):
                raise bad_request(f"No webhook endpoint {endpoint!r}.", param="endpoint")
            delay = optional_positive(data, "delay_seconds", high=MAX_LATE_SECONDS)
            fault = Fault(
                new_id("whf"),
                mode,
                optional_positive(data, "count", high=MAX_FAULT_COUNT, integer=True) or 1,
                DEFAULT_LATE_SECONDS if delay is None else delay,
                endpoint,
            )
            dispatcher.add_fault(fault)
            return JSONResponse(fault.to_json(), status_code=201)
        if request.method == "DELETE":
            dispatcher.clear_faults()
        return JSONResponse({"object": "list", "data": [f.to_json() for f in dispatcher.faults]})
