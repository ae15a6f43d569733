"""What keeps a web page from driving the control API of a fake on loopback.

Open without a token, the control API trusts whoever can reach it, which on loopback means this
machine. A web page is on this machine too: it can POST a form to http://127.0.0.1:8000/__mock/...
(a "simple" cross-site request, sent without asking), and through DNS rebinding its own host name
can come to resolve to 127.0.0.1 and read the answers. Three checks stop both:

- `Host` must name loopback (localhost, *.localhost, 127.0.0.0/8, ::1) or the address the server was
  told to bind (`serve --host`): a rebound name is none of these;
- `Origin`, when a browser sends one, must name one of those hosts too ("null" never does);
- a control call that carries a body must say `Content-Type: application/json`, which no HTML form
  can send (and which a cross-site script can send only after a CORS preflight this server refuses).

With an admin token the Host and Origin checks do not apply (a page cannot know the token); the
JSON-only rule always does. Without `serve` (an app built in-process, as the pytest plugin and
Starlette's TestClient do) there is no bound host, and the Host check is left out; the Origin check
stays. The access guard (control/access.py) applies these, once, before any control route runs:
they read only headers, so the body is never read for a call that is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from mockserver.core.errors import APIError


def _host_name(value: str) -> str:
    """`[::1]:8000` -> `::1`, `LocalHost.:80` -> `localhost`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, colon, port = value.rpartition(":")
    return (name if colon and port.isdigit() else value).rstrip(".")


def is_local_name(host: str, bound: str | None) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if bound is not None and host == _host_name(bound):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _first(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    """The first header of that (lower-case) name as sent, as Starlette's `request.headers` would pick it."""
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def check_browser_headers(headers: Iterable[tuple[bytes, bytes]], bound: str | None) -> None:
    """403 for a Host or Origin that is not this machine (see the module docstring)."""
    host = _first(headers, b"host")
    if bound is not None and host is not None and not is_local_name(_host_name(host), bound):
        raise APIError(
            403,
            f"The control API answers requests for this machine only, not for host {host[:100]!r} "
            "(a DNS-rebinding guard). Use http://127.0.0.1:PORT or http://localhost:PORT, "
            "or start the server with --admin-token.",
            code="forbidden_host",
            param="host",
        )
    origin = _first(headers, b"origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not is_local_name(_host_name(parts.netloc), bound):
            raise APIError(
                403,
                f"The control API does not take calls from web pages of other origins ({origin[:100]!r}).",
                code="forbidden_origin",
                param="origin",
            )


def _has_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    # HTTP/1.1 sends a request body only with one of these two (RFC 9112, 6.3).
    length = _first(headers, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return _first(headers, b"transfer-encoding") is not None


def check_json_body(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """415 for a control call with a body not declared JSON (what every HTML form sends)."""
    headers = list(headers)
    if not _has_body(headers):
        return
    media_type = (_first(headers, b"content-type") or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise APIError(
            415,
            f"Control API bodies are JSON: send Content-Type: application/json (got {media_type or 'none'!r}; "
            "with curl, --json '{...}' or -H 'content-type: application/json').",
            code="unsupported_content_type",
        )
