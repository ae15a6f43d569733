"""Who may drive the fake: the one guard in front of every /__mock route but health.

Open when the server listens on loopback only and no admin token is set. With a token, every
control route needs `Authorization: Bearer <token>`; on another interface without a token the
control API refuses (403) rather than letting anyone on the network drive the fake. Without a
token, a web page on this machine is kept out by the Host and Origin checks, and a body must be
declared JSON in every case (control/browsers.py).

Two things pass without the header. The dashboard's files (/__mock/ui), which hold no data: the
page reads and acts through the guarded routes with the token it was given. And a job's media for
the admin through a URL this guard signed (`signed_query`): a `<video>` or `<img>` element cannot
send a header, so the URL carries an expiry and an HMAC of path, query and expiry under the token,
valid for that one file. The token itself never goes into a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

from mockserver.control.browsers import check_browser_headers, check_json_body
from mockserver.core.errors import APIError
from mockserver.core.keys import authorization, bearer_key

CONTROL_PREFIX = "/__mock/"
OPEN_PATHS = frozenset({"/__mock/health"})  # what a process supervisor polls, with no token to send
DASHBOARD = "/__mock/ui"  # the page and its files
SIGNABLE = ("/__mock/jobs/", "/content")  # prefix and suffix of the paths signed URLs may open
SIGNED_URL_LIFETIME_S = 3600  # real seconds


class ControlAccess:
    def __init__(self, admin_token: str | None, loopback_only: bool, bind_host: str | None = None) -> None:
        self.admin_token = admin_token
        self.loopback_only = loopback_only
        self.bind_host = bind_host  # `serve --host`; None for an app built in-process (no Host check)

    def check(self, path: str, headers: Iterable[tuple[bytes, bytes]], query: bytes = b"") -> None:
        """Raise the 401, 403 or 415 for a control call this caller may not make."""
        if path in OPEN_PATHS or path == DASHBOARD or path.startswith(DASHBOARD + "/"):
            return
        if query and self._signed(path, query):
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

    def signed_query(self, path: str, params: dict[str, str]) -> str:
        """The query string that opens `path` with `params` for an hour without the header (none needed
        without a token)."""
        if not self.admin_token:
            return urlencode(params)
        fields = {**params, "expires": str(int(time.time()) + SIGNED_URL_LIFETIME_S)}
        return urlencode({**fields, "signature": self._signature(path, fields)})

    def _signature(self, path: str, fields: dict[str, str]) -> str:
        assert self.admin_token is not None
        message = f"{path}?{urlencode(sorted(fields.items()))}".encode()
        return hmac.new(self.admin_token.encode(), message, hashlib.sha256).hexdigest()

    def _signed(self, path: str, query: bytes) -> bool:
        if not self.admin_token or not (path.startswith(SIGNABLE[0]) and path.endswith(SIGNABLE[1])):
            return False
        fields = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
        signature, expires = fields.pop("signature", ""), fields.get("expires", "")
        if not signature or not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(signature, self._signature(path, fields))
