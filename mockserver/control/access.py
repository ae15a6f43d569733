"""Who may drive the fake: the one guard in front of every /__mock route but health.

Open when the server listens on loopback only and no admin token is set. With a token, every
control route needs `Authorization: Bearer <token>`; on another interface without a token the
control API refuses (403) rather than letting anyone on the network drive the fake. Without a
token, a web page on this machine is kept out by the Host and Origin checks, and a body must be
declared JSON in every case (control/browsers.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from mockserver.control.browsers import check_browser_headers, check_json_body
from mockserver.core.errors import APIError
from mockserver.core.keys import authorization, bearer_key

CONTROL_PREFIX = "/__mock/"
OPEN_PATHS = frozenset({"/__mock/health"})  # what a process supervisor polls, with no token to send


class ControlAccess:
    def __init__(self, admin_token: str | None, loopback_only: bool, bind_host: str | None = None) -> None:
        self.admin_token = admin_token
        self.loopback_only = loopback_only
        self.bind_host = bind_host  # `serve --host`; None for an app built in-process (no Host check)

    def check(self, path: str, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Raise the 401, 403 or 415 for a control call this caller may not make."""
        if path in OPEN_PATHS:
            return
        headers = list(headers)
        self._check_caller(headers)
        check_json_body(headers)

    def _check_caller(self, headers: list[tuple[bytes, bytes]]) -> None:
        token = self.admin_token
        if token:
            sent = bearer_key(authorization(headers))
            if sent is None:
                raise APIError(
                    401,
                    "The control API needs the admin token: send 'Authorization: Bearer <admin token>'.",
                    code="missing_admin_token",
                )
            if not hmac.compare_digest(sent.encode(), token.encode()):
                raise APIError(401, "Incorrect admin token for the control API.", code="invalid_admin_token")
            return
        if not self.loopback_only:
            raise APIError(
                403,
                "The control API is disabled because this server listens on a non-loopback address without an "
                "admin token. Restart it with --admin-token TOKEN and send 'Authorization: Bearer TOKEN'.",
                code="admin_token_required",
            )
        check_browser_headers(headers, self.bind_host)
