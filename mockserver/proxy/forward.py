"""The forwarding half of the proxy: an ASGI app that passes each request upstream and the answer back.

Nothing is changed on the way: the method, path and query as sent (percent-escapes included), the
client's own headers and key, the body streamed chunk by chunk as it arrives, and the upstream's
status, headers and body (streamed too; still content-encoded, so its length holds). Only headers
that belong to one connection (Connection, Transfer-Encoding, ...) stay behind, as for any proxy,
and an answer without `x-request-id` gets one, so that every violation names a request. The
proxy sends nothing upstream of its own: no health checks, no probes, no retries.

While the bytes pass, a copy of what the checks need is kept (traffic.Observed): the request
body, a JSON answer, or a download's size, first bytes and sha256 (and, while recording, the
download itself in a temporary file). When the exchange is over it goes to the observer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from starlette.types import Message, Receive, Scope, Send

from mockserver.http.headers import new_request_id
from mockserver.proxy.traffic import JSON_CAPTURE_LIMIT, PREFIX_BYTES, Observed

log = logging.getLogger("mockserver.proxy")

# Headers of one hop (RFC 9110 7.6.1), not of the message; Host is the upstream's own.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
REQUEST_CAPTURE_LIMIT = 64 * 1024 * 1024  # a larger upload is forwarded whole but judged without its body

Observer = Callable[[Observed], None]
LocalRoute = Callable[[], Any]  # answers a /__mock/ path of the proxy's own with a JSON document


class Upstream:
    """The upstream base URL, split into what requests are sent to and the API's base path."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--upstream must be an http(s) URL such as https://gateway.example/v1, got {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"--upstream takes the base URL only (no ?query or #fragment), got {url!r}")
        self.url = url.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path  # e.g. /v1; the proxy serves the same paths


class ProxyApp:
    def __init__(
        self,
        upstream: Upstream,
        observer: Observer,
        *,
        local: dict[str, LocalRoute],
        spool_dir: Path | None = None,
        timeout: float = 600.0,
        on_shutdown: Callable[[], None] = lambda: None,
    ) -> None:
        self.upstream = upstream
        self.observer = observer
        self.local = local
        self.spool_dir = spool_dir  # where downloads are kept while recording; None: not kept
        # Run at lifespan shutdown: uvicorn re-raises SIGTERM once it has stopped, so later is never.
        self.on_shutdown = on_shutdown
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 30.0))
        self._client: httpx.AsyncClient | None = None
        self._seq = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = self.local.get(scope["path"])
        if route is not None:
            await _send_json(send, 200, route())
            return
        await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # trust_env off: the proxy goes to --upstream, never through an environment proxy.
                self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False, trust_env=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._client is not None, "the proxy serves requests only between lifespan start-up and shutdown"
        self._seq += 1
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string", b"")
        headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]]
        seen = Observed(
            seq=self._seq,
            request_id="",
            started=time.time(),
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=query.decode("latin-1"),
            request_headers=headers,
        )
        url = self.upstream.origin + seen.path + (f"?{seen.query}" if seen.query else "")
        # httpx.Request directly, not the client's build_request: that would add the client's default headers.
        request = httpx.Request(
            seen.method,
            url,
            headers=_forwardable(headers),
            content=_body(receive, seen) if _has_body(headers) else None,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            seen.network_error = f"{type(exc).__name__}: {exc}"
            seen.request_id = new_request_id()
            seen.finished = time.time()
            log.warning("upstream unreachable for %s %s: %s", seen.method, seen.path, seen.network_error)
            await _send_json(
                send, 502, _bad_gateway(self.upstream.url, seen.network_error), [("x-request-id", seen.request_id)]
            )
            self._observe(seen)
            return
        try:
            await self._relay(response, seen, send)
        finally:
            await response.aclose()
            seen.finished = time.time()
        self._observe(seen)

    def _observe(self, seen: Observed) -> None:
        # The client has its answer by now; a fault in judging or recording must not reach it, only the log.
        try:
            self.observer(seen)
        except Exception:
            log.exception("could not judge or record %s %s (request %s)", seen.method, seen.path, seen.request_id)

    async def _relay(self, response: httpx.Response, seen: Observed, send: Send) -> None:
        out = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in response.headers.raw]
        dropped = _connection_tokens(out)
        out = [(name, value) for name, value in out if name not in HOP_BY_HOP and name not in dropped]
        request_id = next((value for name, value in out if name == "x-request-id"), None)
        if request_id is None:
            request_id = new_request_id()
            out.append(("x-request-id", request_id))
        seen.request_id, seen.status, seen.response_headers = request_id, response.status_code, out
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in out],
            }
        )
        sink = _Sink(seen, self.spool_dir)
        try:
            async for chunk in response.aiter_raw():
                sink.write(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            sink.close()


class _Sink:
    """Keeps what the checks need of an answer passing by: the JSON document, or a download's digest.

    A document is kept as sent (traffic.Observed decodes it when it is judged). A download is judged
    and kept by its own bytes, so a content-encoded one (a gateway gzipping everything) is decoded on
    the way past; the client still gets the encoded bytes.
    """

    def __init__(self, seen: Observed, spool_dir: Path | None) -> None:
        self.seen = seen
        self.media = seen.is_media and seen.method != "HEAD"  # an answer to HEAD has no bytes to keep
        self.digest = hashlib.sha256() if self.media else None
        coding = (seen.header("content-encoding", response=True) or "").strip().lower()
        self.decoder = _decoder(coding) if self.media else None
        self.file: IO[bytes] | None = None
        if self.media and spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)
            # Open across many writes (one per chunk passed on) and closed in close(): no with-block fits.
            self.file = tempfile.NamedTemporaryFile(dir=spool_dir, prefix=".download-", delete=False)  # noqa: SIM115
            seen.response_file = Path(self.file.name)

    def write(self, chunk: bytes) -> None:
        if self.digest is None:
            self._keep(chunk)
            if self.seen.response_size <= JSON_CAPTURE_LIMIT:
                self.seen.response_body += chunk
            return
        if self.decoder is not None:
            try:
                chunk = self.decoder.decompress(chunk)
            except zlib.error:
                self.decoder = None  # not what its Content-Encoding says: the bytes as they came
        self._keep(chunk)
        self.digest.update(chunk)
        if self.file is not None:
            self.file.write(chunk)

    def _keep(self, data: bytes) -> None:
        seen = self.seen
        if len(seen.response_prefix) < PREFIX_BYTES:
            seen.response_prefix += data[: PREFIX_BYTES - len(seen.response_prefix)]
        seen.response_size += len(data)

    def close(self) -> None:
        if self.decoder is not None and self.digest is not None:
            rest = self.decoder.flush()
            self._keep(rest)
            self.digest.update(rest)
            if self.file is not None:
                self.file.write(rest)
        if self.digest is not None:
            self.seen.response_sha256 = self.digest.hexdigest()
        if self.file is not None:
            self.file.close()
        if not self.media and self.seen.response_size > JSON_CAPTURE_LIMIT:
            self.seen.response_body = b""  # cut short: not a document any more


def _decoder(coding: str) -> Any:
    """A zlib decompressor for a gzip or deflate content coding; None for identity or one it cannot undo."""
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj()
    return None


def _has_body(headers: list[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name == "transfer-encoding" or (name == "content-length" and value.strip() not in ("", "0")):
            return True
    return False


async def _body(receive: Receive, seen: Observed) -> AsyncIterator[bytes]:
    """The request body as it arrives, a copy kept for the checks (up to REQUEST_CAPTURE_LIMIT)."""
    kept: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise httpx.ReadError("the client disconnected before its request body was complete")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size <= REQUEST_CAPTURE_LIMIT:
                kept.append(chunk)
            yield chunk
        if not message.get("more_body", False):
            break
    seen.request_body = b"".join(kept)
    seen.request_body_complete = size <= REQUEST_CAPTURE_LIMIT


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    """Headers a Connection header names are of this hop too."""
    return {token.strip().lower() for name, value in headers if name == "connection" for token in value.split(",")}


def _forwardable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    dropped = _connection_tokens(headers)
    return [(name, value) for name, value in headers if name not in HOP_BY_HOP and name not in dropped]


def _bad_gateway(upstream: str, problem: str) -> dict[str, Any]:
    return {
        "error": {
            "message": f"mockserver proxy could not reach the upstream {upstream}: {problem}",
            "type": "proxy_error",
            "param": None,
            "code": "upstream_unreachable",
        }
    }


async def _send_json(send: Send, status: int, document: Any, headers: list[tuple[str, str]] | None = None) -> None:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers or []]
    start: Message = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    await send({"type": "http.response.body", "body": body})
