"""The /__mock/webhooks routes: endpoints to register, the deliveries made, faults for the next deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.control.inputs import json_object, optional_positive, scoped_owner
from mockserver.control.webhooks import (
    DEFAULT_LATE_SECONDS,
    FAULT_MODES,
    Fault,
    WebhookDispatcher,
    check_secret,
    generate_secret,
    new_id,
)
from mockserver.core.errors import APIError, bad_request


class WebhookRoutes:
    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self.dispatcher = dispatcher

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
            url = data.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise bad_request(
                    'Send {"url": "http://127.0.0.1:9000/hook"}, optionally with "secret", "api_key", "max_attempts", '
                    '"backoff_seconds", "timeout_seconds".',
                    param="url",
                )
            secret = check_secret(data["secret"]) if data.get("secret") is not None else generate_secret()
            reg = dispatcher.register(
                url,
                secret,
                owner=scoped_owner(data, request),
                max_attempts=optional_positive(data, "max_attempts", integer=True),
                backoff_seconds=optional_positive(data, "backoff_seconds"),
                timeout_seconds=optional_positive(data, "timeout_seconds"),
            )
            return JSONResponse(reg.to_json(), status_code=201)
        owner = scoped_owner(None, request)
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
            owner=scoped_owner(None, request),
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
            if endpoint is not None and endpoint not in dispatcher.registrations:
                raise bad_request(f"No webhook endpoint {endpoint!r}.", param="endpoint")
            delay = optional_positive(data, "delay_seconds")
            fault = Fault(
                new_id("whf"),
                mode,
                optional_positive(data, "count", integer=True) or 1,
                DEFAULT_LATE_SECONDS if delay is None else delay,
                endpoint,
            )
            dispatcher.add_fault(fault)
            return JSONResponse(fault.to_json(), status_code=201)
        if request.method == "DELETE":
            dispatcher.clear_faults()
        return JSONResponse({"object": "list", "data": [f.to_json() for f in dispatcher.faults]})
