"""The dashboard at /__mock/ui: a page, its script and its style sheet, shipped in the package.

Plain files, no build step, nothing fetched from anywhere else (the Content-Security-Policy says
so to the browser). The files hold no data: everything the page shows or does goes through the
control API, with the admin token the page was given in its URL fragment (`#token=...`, which
browsers never send to a server) and sends as `Authorization: Bearer`. So the files themselves
are served without the token (the guard, control/access.py, lets them through), and a page
without the token asks for it.

May import: `core` (errors). The page depends on the control API's answers, not on its code.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.core.errors import APIError

# Every file the page is made of; nothing else under static/ is served.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
HEADERS = {
    # Only this server, for everything: no script, style, font or image from anywhere else.
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


def read_static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class DashboardRoutes:
    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}  # read when first asked for: most runs never open the page

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/__mock/ui", self.page, methods=["GET"]),
            Route("/__mock/ui/{name}", self.file, methods=["GET"]),
        ]

    def _serve(self, name: str) -> Response:
        if name not in FILES:
            raise APIError(404, f"The dashboard has no file {name!r}; open /__mock/ui.", code="unknown_url")
        if name not in self._files:
            self._files[name] = read_static(name)
        return Response(self._files[name], media_type=FILES[name], headers=HEADERS)

    async def page(self, request: Request) -> Response:
        return self._serve("index.html")

    async def file(self, request: Request) -> Response:
        return self._serve(request.path_params["name"])


def dashboard_routes() -> list[BaseRoute]:
    return DashboardRoutes().routes()
