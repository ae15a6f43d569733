"""Deliberately non-conforming servers: the real fake with exactly one thing changed each.

Each deviant is a small ASGI wrapper around `create_app`, served by a real uvicorn process:

    python -m tests.deviants NAME --port PORT

`serve_deviant(NAME)` starts one on a free loopback port for a test. `counting` changes nothing
but counts requests (GET /__count), for the cost-guard and dry-run tests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import parse_qsl, urlencode

from tests.processes import REPO, RunningServer, free_port, running

Scope = dict[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

VIDEO_PATH = re.compile(r"^/v1/videos/(?!characters/)(?P<id>[^/]+)$")
CONTENT_PATH = re.compile(r"^/v1/videos/(?P<id>[^/]+)/content$")
CREATING = re.compile(r"^/v1/videos(/edits|/extensions|/[^/]+/remix)?$")


class Captured:
    """A response held back so that a deviant can change it before it goes out."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode().lower() == name:
                return value.decode()
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.decode().lower() != name] + [
            (name.encode(), value.encode())
        ]

    @property
    def json(self) -> Any:
        if (self.header("content-type") or "").startswith("application/json"):
            try:
                return json.loads(self.body)
            except ValueError:
                return None
        return None

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()
        self.set_header("content-type", "application/json")


Rewrite = Callable[[Scope, Captured], None]


def rewriting(app: ASGIApp, rewrite: Rewrite) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__"):
            await app(scope, receive, send)
            return
        held: dict[str, Any] = {"body": b""}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                held["start"] = message
            elif message["type"] == "http.response.body":
                held["body"] += message.get("body", b"")

        await app(scope, receive, capture)
        response = Captured(held["start"]["status"], list(held["start"].get("headers", [])), held["body"])
        rewrite(scope, response)
        response.set_header("content-length", str(len(response.body)))
        await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
        await send({"type": "http.response.body", "body": response.body})

    return wrapped


def _videos(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, dict) and body.get("object") == "video":
        yield body
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        yield from (item for item in body["data"] if isinstance(item, dict))


def _edit_videos(edit: Callable[[Scope, dict[str, Any]], None]) -> Rewrite:
    def rewrite(scope: Scope, response: Captured) -> None:
        body = response.json
        if body is None:
            return
        for video in _videos(body):
            edit(scope, video)
        response.set_json(body)

    return rewrite


# -- the deviations ------------------------------------------------------------------------


def status_word(app: ASGIApp) -> ASGIApp:
    """`processing` instead of `in_progress` (new-api's documented word)."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if video.get("status") == "in_progress":
            video["status"] = "processing"

    return rewriting(app, _edit_videos(edit))


def missing_field(app: ASGIApp) -> ASGIApp:
    """Videos without `model`."""
    return rewriting(app, _edit_videos(lambda scope, video: video.pop("model", None)))


def seconds_int(app: ASGIApp) -> ASGIApp:
    """`seconds: 4` instead of `"4"`."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if isinstance(video.get("seconds"), str) and video["seconds"].isdigit():
            video["seconds"] = int(video["seconds"])

    return rewriting(app, _edit_videos(edit))


def progress_backwards(app: ASGIApp) -> ASGIApp:
    """While a job runs, every poll reports less progress than the one before."""
    seen: Counter[str] = Counter()

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if video.get("status") == "in_progress" and VIDEO_PATH.match(scope["path"]):
            seen[video["id"]] += 1
            video["progress"] = max(0, 90 - 10 * seen[video["id"]])

    return rewriting(app, _edit_videos(edit))


def completed_regresses(app: ASGIApp) -> ASGIApp:
    """Every second poll of a completed job says it is in_progress again."""
    polls: Counter[str] = Counter()

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if video.get("status") == "completed" and VIDEO_PATH.match(scope["path"]):
            polls[video["id"]] += 1
            if polls[video["id"]] % 2 == 0:
                video.update(status="in_progress", progress=99, completed_at=None, expires_at=None)

    return rewriting(app, _edit_videos(edit))


def content_type(app: ASGIApp) -> ASGIApp:
    """Content served as application/octet-stream."""

    def rewrite(scope: Scope, response: Captured) -> None:
        if CONTENT_PATH.match(scope["path"]) and response.status == 200:
            response.set_header("content-type", "application/octet-stream")

    return rewriting(app, rewrite)


def content_early(app: ASGIApp) -> ASGIApp:
    """Content served (200 video/mp4, an MP4 file) while the job is not completed."""
    mp4 = next((REPO / "fixtures").glob("video_*.mp4")).read_bytes()

    def rewrite(scope: Scope, response: Captured) -> None:
        if CONTENT_PATH.match(scope["path"]) and response.status == 409:
            response.status = 200
            response.body = mp4
            response.set_header("content-type", "video/mp4")

    return rewriting(app, rewrite)


def content_while_running(app: ASGIApp) -> ASGIApp:
    """Content refused while queued (so the request right after the create gets its 409) but served once in_progress."""
    mp4 = next((REPO / "fixtures").glob("video_*.mp4")).read_bytes()
    status: dict[str, str] = {}

    def rewrite(scope: Scope, response: Captured) -> None:
        video = VIDEO_PATH.match(scope["path"])
        content = CONTENT_PATH.match(scope["path"])
        if video and isinstance(response.json, dict):
            status[video["id"]] = str(response.json.get("status"))
        elif content and response.status == 409 and status.get(content["id"]) == "in_progress":
            response.status = 200
            response.body = mp4
            response.set_header("content-type", "video/mp4")

    return rewriting(app, rewrite)


def pending_with_error(app: ASGIApp) -> ASGIApp:
    """A running job already carries an `error` (what a stateless mock such as Steady invents)."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if video.get("status") == "in_progress":
            video["error"] = {"code": "internal_error", "message": "made up"}

    return rewriting(app, _edit_videos(edit))


def progress_full_early(app: ASGIApp) -> ASGIApp:
    """A running job says progress 100."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if video.get("status") == "in_progress":
            video["progress"] = 100

    return rewriting(app, _edit_videos(edit))


def seconds_not_asked(app: ASGIApp) -> ASGIApp:
    """Every job says `seconds: "12"`, whatever the create asked for."""
    return rewriting(app, _edit_videos(lambda scope, video: video.update(seconds="12")))


def list_disagrees(app: ASGIApp) -> ASGIApp:
    """List entries give a completed job another `expires_at` than its retrieve does."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        if scope["path"] == "/v1/videos" and scope["method"] == "GET" and isinstance(video.get("expires_at"), int):
            video["expires_at"] += 600

    return rewriting(app, _edit_videos(edit))


def _refuse(status: int, headers: list[tuple[bytes, bytes]]) -> Captured:
    code = "rate_limit_exceeded" if status == 429 else "service_unavailable"
    body = {"error": {"message": "Rate limit reached for requests.", "type": "requests", "param": None, "code": code}}
    return Captured(status, [(b"content-type", b"application/json"), *headers], json.dumps(body).encode())


def _refusing(app: ASGIApp, refusal: Callable[[Scope, int], Captured | None]) -> ASGIApp:
    """Answers some API requests itself, without passing them on (so a refused create starts no job)."""
    seen = 0

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal seen
        if scope["type"] == "http" and not scope["path"].startswith("/__"):
            seen += 1
            refused = refusal(scope, seen)
            if refused is not None:
                headers = [*refused.headers, (b"content-length", str(len(refused.body)).encode())]
                await send({"type": "http.response.start", "status": refused.status, "headers": headers})
                await send({"type": "http.response.body", "body": refused.body})
                return
        await app(scope, receive, send)

    return wrapped


def rate_limited(app: ASGIApp) -> ASGIApp:
    """The faithful fake behind a rate limiter that refuses the first try of every request (so every other one).

    The first refusal says `Retry-After: 1` (seconds) alone; the others `retry-after-ms: 20` beside it, which the
    SDKs read first; every fourth refusal of a GET is a 503. /__count counts what came on the wire, refused or
    not; the fake's journal has the creates that reached it.
    """

    def refusal(scope: Scope, seen: int) -> Captured | None:
        if seen % 2 == 0:
            return None
        if seen == 1:
            return _refuse(429, [(b"retry-after", b"1")])
        status = 503 if scope["method"] == "GET" and seen % 8 == 7 else 429
        return _refuse(status, [(b"retry-after", b"1"), (b"retry-after-ms", b"20")])

    return counting(_refusing(app, refusal))


def always_rate_limited(app: ASGIApp) -> ASGIApp:
    """Every API request is answered 429 (`retry-after-ms: 10`), for ever."""
    return counting(_refusing(app, lambda scope, seen: _refuse(429, [(b"retry-after-ms", b"10")])))


def create_503_accepted(app: ASGIApp) -> ASGIApp:
    """The first create starts a job and is then answered 503, as a gateway whose upstream took it too long might."""
    creates = 0

    def rewrite(scope: Scope, response: Captured) -> None:
        nonlocal creates
        if scope["method"] == "POST" and scope["path"] == "/v1/videos" and response.status == 200:
            creates += 1
            if creates == 1:
                response.status = 503
                response.set_json(
                    {"error": {"message": "upstream timed out", "type": "server_error", "param": None, "code": None}}
                )
                response.set_header("retry-after-ms", "20")

    return counting(rewriting(app, rewrite))


def bare_errors(app: ASGIApp) -> ASGIApp:
    """Errors as {"code", "message"} without the {"error": {...}} envelope (new-api's task style)."""

    def rewrite(scope: Scope, response: Captured) -> None:
        body = response.json
        if response.status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
            response.set_json(
                {"code": body["error"].get("code"), "message": body["error"].get("message"), "data": None}
            )

    return rewriting(app, rewrite)


def no_auth(app: ASGIApp) -> ASGIApp:
    """Any request is let in, with or without a key."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
            scope = {**scope, "headers": headers + [(b"authorization", b"Bearer sk-anyone-at-all")]}
        await app(scope, receive, send)

    return wrapped


def changing_requests(
    app: ASGIApp, change: Callable[[Scope, bytes], bytes], drop_headers: tuple[bytes, ...] = ()
) -> ASGIApp:
    """The fake, given each request's body as `change` rewrites it (and without `drop_headers`)."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = change(scope, b"".join(chunks))
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (*drop_headers, b"content-length")]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()  # whatever comes next on the real connection (a disconnect)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app({**scope, "headers": headers}, replay, send)

    return wrapped


def no_failures(app: ASGIApp) -> ASGIApp:
    """Ignores X-Mock-Outcome and [mock:...] markers, like a real provider: every job completes."""
    def change(scope: Scope, body: bytes) -> bytes:
        return re.sub(rb"\[mock:[^\]]*\]", b"", body)

    return changing_requests(app, change, drop_headers=(b"x-mock-outcome",))


def prompt_rewritten(app: ASGIApp) -> ASGIApp:
    """A gateway that "enhances" every create's prompt before it starts the job, and answers with its own."""

    def change(scope: Scope, body: bytes) -> bytes:
        if scope["method"] != "POST" or scope["path"] != "/v1/videos":
            return body
        return re.sub(rb'(name="prompt"\r\n\r\n)', rb"\g<1>Cinematic, 4k, award-winning: ", body)

    return changing_requests(app, change)


def mp4_not_the_job(app: ASGIApp) -> ASGIApp:
    """The job's JSON is right, but its video is another file: 1280x720 frames, 8 seconds."""
    other = (REPO / "fixtures" / "video_1280x720_8s.mp4").read_bytes()

    def rewrite(scope: Scope, response: Captured) -> None:
        variant = dict(parse_qsl(scope.get("query_string", b"").decode())).get("variant", "video")
        if CONTENT_PATH.match(scope["path"]) and response.status == 200 and variant == "video":
            response.body = other

    return rewriting(app, rewrite)


UPSTREAM_KEY = b"Bearer sk-the-gateways-upstream-key"


def _upstream(name: bytes, value: bytes) -> bytes:
    """A customer's key (any `sk-` key) as the gateway forwards it: its own; no key or a wrong one as sent."""
    return UPSTREAM_KEY if name.lower() == b"authorization" and value.startswith(b"Bearer sk-") else value


def shared_upstream(app: ASGIApp) -> ASGIApp:
    """A gateway that forwards every customer's request with its own one upstream key: keys see each other's jobs."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, _upstream(k, v)) for k, v in scope["headers"]]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return wrapped


def _listing_query(change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> Callable[[ASGIApp], ASGIApp]:
    def deviant(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/v1/videos":
                query = change(parse_qsl(scope.get("query_string", b"").decode()))
                scope = {**scope, "query_string": urlencode(query).encode()}
            await app(scope, receive, send)

        return wrapped

    return deviant


def pagination_loops(app: ASGIApp) -> ASGIApp:
    """The list ignores `after`: every page is the first one again (auto-pagination never ends)."""
    return _listing_query(lambda query: [(k, v) for k, v in query if k != "after"])(app)


def oldest_first(app: ASGIApp) -> ASGIApp:
    """The list's default order is ascending (oldest first) instead of the contract's `desc`."""

    def ascending(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return query if any(k == "order" for k, _ in query) else [*query, ("order", "asc")]

    return _listing_query(ascending)(app)


def _edit_list_pages(edit: Callable[[dict[str, Any]], None]) -> Callable[[ASGIApp], ASGIApp]:
    def deviant(app: ASGIApp) -> ASGIApp:
        def rewrite(scope: Scope, response: Captured) -> None:
            body = response.json
            if scope["method"] == "GET" and scope["path"] == "/v1/videos" and isinstance(body, dict):
                edit(body)
                response.set_json(body)

        return rewriting(app, rewrite)

    return deviant


def has_more_forever(app: ASGIApp) -> ASGIApp:
    """Every list page says `has_more: true`, the last one too (the SDK asks for one empty page more)."""
    return _edit_list_pages(lambda body: body.update(has_more=True))(app)


def page_ids_null(app: ASGIApp) -> ASGIApp:
    """Every list page says `first_id: null, last_id: null` (the SDK then pages on from the last item's id)."""
    return _edit_list_pages(lambda body: body.update(first_id=None, last_id=None))(app)


def lineage_lost(app: ASGIApp) -> ASGIApp:
    """Every video says `remixed_from_video_id: null`, remixes too."""

    def edit(scope: Scope, video: dict[str, Any]) -> None:
        video["remixed_from_video_id"] = None

    return rewriting(app, _edit_videos(edit))


def counting(app: ASGIApp) -> ASGIApp:
    """The fake unchanged; GET /__count tells how many requests (and job-creating POSTs) it saw."""
    counts: Counter[str] = Counter()

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__count":
            body = json.dumps(dict(counts)).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and not scope["path"].startswith("/__"):
            counts["requests"] += 1
            if (
                scope["method"] == "POST"
                and CREATING.match(scope["path"])
                and not scope["path"].startswith("/v1/videos/characters")
            ):
                counts["creates"] += 1
        await app(scope, receive, send)

    return wrapped


DEVIANTS: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    fn.__name__: fn
    for fn in (
        status_word,
        missing_field,
        seconds_int,
        progress_backwards,
        completed_regresses,
        content_type,
        content_early,
        bare_errors,
        no_auth,
        no_failures,
        counting,
        content_while_running,
        pending_with_error,
        progress_full_early,
        seconds_not_asked,
        list_disagrees,
        rate_limited,
        always_rate_limited,
        create_503_accepted,
        shared_upstream,
        pagination_loops,
        oldest_first,
        lineage_lost,
        prompt_rewritten,
        mp4_not_the_job,
        has_more_forever,
        page_ids_null,
    )
}


def build(name: str) -> ASGIApp:
    from mockserver.http.app import create_app
    from mockserver.config import ServerConfig

    return DEVIANTS[name](create_app(ServerConfig(speed=0)))


@contextmanager
def serve_deviant(name: str) -> Iterator[RunningServer]:
    port = free_port()
    command = [sys.executable, "-m", "tests.deviants", name, "--port", str(port)]
    with running(command, port, env={"PYTHONPATH": str(REPO)}) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    p = argparse.ArgumentParser(
        prog="python -m tests.deviants", description="serve the fake with one deliberate deviation"
    )
    p.add_argument("name", choices=sorted(DEVIANTS))
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    uvicorn.run(build(args.name), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
