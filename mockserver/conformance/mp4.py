"""What an MP4 file says about itself: the frame size and duration its own header declares.

Read from the boxes of ISO/IEC 14496-12 in pure Python, without decoding a frame and without an
`ffmpeg` binary: `moov/mvhd` holds the movie's timescale and duration, and each `moov/trak` has a
`tkhd` (the track's presentation width and height, 16.16 fixed point, and its transformation
matrix) and an `mdia/hdlr` naming the track's kind (`vide` for video).

The `moov` box may come before or after `mdat` (players need it first to start while downloading;
the parser does not). A fragmented MP4 (`moov/mvex`, media in `moof` boxes) may declare no
duration in `mvhd`; `duration` is then None, and so it is when the header cannot be read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAX_BOXES = 10_000  # per level: a bound for a damaged file whose sizes make boxes tiny


class Mp4Error(ValueError):
    """The bytes are not an MP4 whose header can be read (the reason is in the message)."""


@dataclass(frozen=True)
class Mp4Header:
    width: int  # of the video track as displayed: a 90 or 270 degree rotation swaps tkhd's pair
    height: int
    duration: float | None  # seconds, mvhd.duration / mvhd.timescale; None when the header has none

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box between start and end."""
    offset = start
    for _ in range(MAX_BOXES):
        if offset + 8 > end:
            return
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if offset + 16 > end:
                raise Mp4Error(f"box {kind!r} at byte {offset} is cut off")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:  # the box runs to the end of its parent
            size = end - offset
        if size < header or offset + size > end:
            raise Mp4Error(f"box {kind!r} at byte {offset} claims {size} bytes; {end - offset} are left")
        yield kind, offset + header, offset + size
        offset += size
    raise Mp4Error(f"more than {MAX_BOXES} boxes in one level")


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _need(data: bytes, start: int, end: int, length: int, what: str) -> None:
    if end - start < length:
        raise Mp4Error(f"{what} is {end - start} bytes, shorter than its {length}-byte header")


def _movie_duration(data: bytes, start: int, end: int) -> float | None:
    _need(data, start, end, 4, "mvhd")
    version = data[start]
    if version == 1:
        _need(data, start, end, 32, "mvhd")
        timescale, duration = struct.unpack_from(">IQ", data, start + 20)
        unknown = 0xFFFFFFFFFFFFFFFF
    else:
        _need(data, start, end, 20, "mvhd")
        timescale, duration = struct.unpack_from(">II", data, start + 12)
        unknown = 0xFFFFFFFF
    if timescale == 0 or duration in (0, unknown):
        return None
    return float(duration / timescale)


def _track_size(data: bytes, start: int, end: int) -> tuple[int, int]:
    """tkhd's width x height, turned as its matrix turns the picture."""
    version = data[start] if end > start else 0
    # version 1 has 64-bit creation/modification times and duration: 12 more bytes before the rest
    matrix_at = start + (52 if version == 1 else 40)
    _need(data, start, end, matrix_at - start + 44, "tkhd")
    a, b, _u, c, d = struct.unpack_from(">iiiii", data, matrix_at)
    width, height = struct.unpack_from(">II", data, matrix_at + 36)
    width, height = width >> 16, height >> 16
    if a == 0 and d == 0 and b != 0 and c != 0:  # a quarter turn either way
        width, height = height, width
    return width, height


def read_header(data: bytes) -> Mp4Header:
    """The video track's displayed size and the movie's duration; Mp4Error when they cannot be read."""
    if len(data) < 8 or data[4:8] != b"ftyp":
        raise Mp4Error("no `ftyp` box at byte 4: not an MP4 file")
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        raise Mp4Error("no `moov` box: the file has no header (cut off, or not an MP4)")
    mvhd = _child(data, *moov, b"mvhd")
    if mvhd is None:
        raise Mp4Error("no `moov/mvhd` box")
    duration = _movie_duration(data, *mvhd)
    for kind, start, end in _boxes(data, *moov):
        if kind != b"trak":
            continue
        mdia = _child(data, start, end, b"mdia")
        hdlr = _child(data, *mdia, b"hdlr") if mdia else None
        tkhd = _child(data, start, end, b"tkhd")
        # hdlr: version/flags (4), pre_defined (4), handler_type (4)
        if hdlr is None or tkhd is None or hdlr[1] - hdlr[0] < 12 or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        width, height = _track_size(data, *tkhd)
        return Mp4Header(width, height, duration)
    raise Mp4Error("no video track (`trak` whose `mdia/hdlr` is `vide`)")
