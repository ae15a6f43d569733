"""The file answer of `GET /videos/{id}/content`: whole, a byte range, or HEAD, with Range errors in the envelope.

The answer is Starlette's FileResponse's, header for header (Content-Type, Accept-Ranges,
Content-Disposition, Content-Length, Last-Modified, ETag, Content-Range; If-Range), without its cost
per request: a small file's bytes are held in memory (filebytes.py) and sent whole or as a view of
the range, in the body of a complete response; a larger file is streamed in large chunks, read
without a thread where the page cache has them. Several ranges in one request (rare: no player
sends them) are FileResponse's multipart answer itself.

Starlette answers a Range header it cannot parse (`bytes=abc`, `pages=0-1`) with a plain-text 400 and
an unsatisfiable one (`bytes=999999999-`) with an empty 416. Here both raise APIError instead, which
the request pipeline renders as every other error: `param` "range", and for 416 the `Content-Range:
bytes */SIZE` RFC 9110 asks for. Which ranges are valid stays Starlette's decision.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat as stat_module
from typing import ClassVar
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable, Response
from starlette.types import Message, Receive, Scope, Send

from mockserver.core.errors import APIError
from mockserver.http.filebytes import FileBytes, Snapshot, validators

STREAM_CHUNK = 1024 * 1024  # a streamed file's read and send; the transport's flow control paces them
HELD_PIECE = 1024 * 1024  # a held file's body goes out in views this large, so no transport buffers it whole
_RANGES = tuple[tuple[int, int], ...]


class MediaFileResponse(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as exc:
            raise APIError(
                400,
                f"Malformed Range header {http_range[:100]!r}: {exc.content.rstrip('.')}. Send e.g. 'bytes=0-1023'.",
                code="invalid_range",
                param="range",
            ) from None
        except RangeNotSatisfiable as exc:
            raise APIError(
                416,
                f"The Range {http_range[:100]!r} starts beyond the end of the file ({exc.max_size} bytes).",
                code="range_not_satisfiable",
                param="range",
                headers={"content-range": f"bytes */{exc.max_size}"},
            ) from None


class _Complete(Response):
    """A response whose body is all there (the pipeline sends its two messages itself): a held file or a
    view of its range, shared by every request that sends it."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | memoryview) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.body = body  # a view of the held bytes: no copy per request
        self.background = None


class _HeldPieces(Response):
    """A held file larger than one piece: the views go out one by one, each after the transport drained."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: memoryview) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.view = body
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        view, size = self.view, len(self.view)
        for start in range(0, size, HELD_PIECE):
            end = min(start + HELD_PIECE, size)
            await send({"type": "http.response.body", "body": view[start:end], "more_body": end < size})


class _Streamed(Response):
    """A file too large to hold: read in large chunks from an open descriptor, as the client takes them.

    A chunk the page cache has is read on the event loop (RWF_NOWAIT never waits for the disk); one
    that would wait is read in a thread.
    """

    nowait: ClassVar[bool] = hasattr(os, "RWF_NOWAIT") and hasattr(os, "preadv")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], path: str, start: int, end: int, head: bool
    ) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.path, self.start, self.end, self.head = path, start, end, head
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.head or self.start >= self.end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            gone = asyncio.ensure_future(_disconnect(receive))  # uvicorn drops what is sent after it
            try:
                offset = self.start
                while offset < self.end and not gone.done():
                    chunk = await self._read(fd, offset, min(STREAM_CHUNK, self.end - offset))
                    if not chunk:
                        raise RuntimeError(f"File at path {self.path} is shorter than expected.")
                    offset += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": offset < self.end})
            finally:
                gone.cancel()
        finally:
            os.close(fd)

    @staticmethod
    async def _read(fd: int, offset: int, size: int) -> bytes | memoryview:
        if _Streamed.nowait:
            buffer = bytearray(size)  # a new one per chunk: the transport may still hold the last
            try:
                count = os.preadv(fd, [buffer], offset, os.RWF_NOWAIT)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
                _Streamed.nowait = False  # a file system without it: threads from now on
            else:
                if count:
                    return memoryview(buffer)[:count]
                # 0 bytes is the end of the file or nothing cached yet: the thread's read tells
        return await asyncio.to_thread(os.pread, fd, size, offset)


async def _disconnect(receive: Receive) -> None:
    message: Message = {}
    while message.get("type") != "http.disconnect":
        message = await receive()


def _disposition(filename: str) -> bytes:
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}".encode("latin-1")
    return f'attachment; filename="{filename}"'.encode("latin-1")


def _content_type(media_type: str) -> bytes:
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    return media_type.encode("latin-1")


class Downloads:
    """The content route's file answers, with the process's held copies of small files."""

    def __init__(self, held: FileBytes | None = None) -> None:
        self.held = held if held is not None else FileBytes()

    async def response(self, request: Request, path: os.PathLike[str], media_type: str, filename: str) -> Response:
        name = os.fspath(path)
        try:
            stat = os.stat(name)  # on the event loop: a local stat costs microseconds, a thread hop more
        except FileNotFoundError:
            raise RuntimeError(f"File at path {name} does not exist.") from None
        if not stat_module.S_ISREG(stat.st_mode):
            raise RuntimeError(f"File at path {name} is not a file.")
        http_range = if_range = None
        for key, value in request.scope["headers"]:  # the two it reads, without building Headers
            if key == b"range" and http_range is None:  # the first of each, as Headers.get reads it
                http_range = value.decode("latin-1")
            elif key == b"if-range" and if_range is None:
                if_range = value.decode("latin-1")
        head = request.scope["method"] == "HEAD"
        base = [
            (b"content-type", _content_type(media_type)),
            (b"accept-ranges", b"bytes"),
            (b"content-disposition", _disposition(filename)),
        ]
        snapshot: Snapshot | None = None
        if self.held.holds(stat):
            snapshot = self.held.current(name, stat) or await self.held.load(name)
        if snapshot is not None:
            size, last_modified, etag = len(snapshot.data), snapshot.last_modified, snapshot.etag
        else:
            size = stat.st_size
            last_modified, etag = validators(stat)
        ranges = self._ranges(http_range, if_range, size, last_modified, etag)
        if ranges is not None and len(ranges) > 1:
            # What FileResponse sends for several ranges: its multipart/byteranges answer, read from the file.
            return MediaFileResponse(
                name, media_type=media_type, filename=filename, content_disposition_type="attachment"
            )
        if ranges:
            start, end = ranges[0]
            status = 206
            base += [
                (b"content-length", b"%d" % (end - start)),
                (b"last-modified", last_modified),
                (b"etag", etag),
                (b"content-range", b"bytes %d-%d/%d" % (start, end - 1, size)),
            ]
        else:
            start, end, status = 0, size, 200
            length = snapshot.length if snapshot is not None else b"%d" % size
            base += [(b"content-length", length), (b"last-modified", last_modified), (b"etag", etag)]
        if snapshot is None:
            return _Streamed(status, base, name, start, end, head)
        data = snapshot.data
        if head:
            return _Complete(status, base, b"")
        if status == 200:
            body: bytes | memoryview = data  # the held bytes object itself
        else:
            body = memoryview(data)[start:end]
        if end - start > HELD_PIECE:
            return _HeldPieces(status, base, memoryview(body))
        return _Complete(status, base, body)

    def _ranges(
        self, http_range: str | None, if_range: str | None, size: int, last_modified: bytes, etag: bytes
    ) -> _RANGES | None:
        """The ranges to send, as FileResponse decides them; None or () for the whole file."""
        if http_range is None:
            return None
        # If-Range: a strong validator of this file, or the whole file (RFC 9110 13.1.5, as Starlette reads it).
        if if_range is not None and (
            if_range.startswith("W/") or if_range.encode("latin-1", "replace") not in (last_modified, etag)
        ):
            return None
        return tuple(MediaFileResponse._parse_range_header(http_range, size))
