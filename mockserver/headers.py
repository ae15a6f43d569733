"""Pure ASGI middleware for the headers every OpenAI response carries.

Pure ASGI rather than BaseHTTPMiddleware: it sits on the poll hot path and must not add a task
per request or buffer streamed downloads.
"""

from __future__ import annotations

import os
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPENAI_VERSION = "2020-10-01"
_VERSION_HEADER = (b"openai-version", OPENAI_VERSION.encode())
# Request ids only need to be unique, not unguessable: a PRNG seeded once from the OS avoids a
# getrandom() system call on every request (secrets.token_hex), which showed up in poll profiles.
_request_ids = random.Random()
os.register_at_fork(after_in_child=_request_ids.seed)  # forked workers must not repeat each other's ids


class OpenAIHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = f"req_{_request_ids.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = int((time.perf_counter() - started) * 1000)
                # A new list (the response may hold on to its own) in the message, as Starlette's
                # middleware does: every message is made for this one send.
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                    (b"openai-processing-ms", b"%d" % elapsed_ms),
                    _VERSION_HEADER,
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
