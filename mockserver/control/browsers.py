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

With an admin token none of this applies: a page cannot know the token. Without `serve` (an app
built in-process, as the pytest plugin and Starlette's TestClient do) there is no bound host, and
the Host check is left out; the Origin check stays.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

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


def check_browser_headers(request: Request, bound: str | None) -> None:
    """403 for a Host or Origin that is not this machine (see the module docstring)."""
    headers = request.headers
    host = headers.get("host")
    if bound is not None and host is not None and not is_local_name(_host_name(host), bound):
        raise APIError(
            403,
            f"The control API answers requests for this machine only, not for host {host[:100]!r} "
            "(a DNS-rebinding guard). Use http://127.0.0.1:PORT or http://localhost:PORT, "
            "or start the server with --admin-token.",
            code="forbidden_host",
            param="host",
        )
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not is_local_name(_host_name(parts.netloc), bound):
            raise APIError(
                403,
                f"The control API does not take calls from web pages of other origins ({origin[:100]!r}).",
                code="forbidden_origin",
                param="origin",
            )


def check_json_body(request: Request, body: bytes) -> None:
    """415 for a control call whose body is not declared JSON (what every HTML form sends)."""
    if not body.strip():
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise APIError(
            415,
            f"Control API bodies are JSON: send Content-Type: application/json (got {media_type or 'none'!r}; "
            "with curl, --json '{...}' or -H 'content-type: application/json').",
            code="unsupported_content_type",
        )
