#!/usr/bin/env python3
"""Generate the media fixtures the mock server returns for a completed video job.

    pip install av            # PyAV bundles FFmpeg with libx264, libwebp and mjpeg
    python scripts/make_fixtures.py [--out fixtures]

Writes, for every official size (720x1280, 1280x720, 1024x1792, 1792x1024):

* video_{size}_{4,8,12}s.mp4  H.264 (yuv420p) MP4 with the moov atom at the front (+faststart);
* thumbnail_{size}.webp       one full-size frame as lossy WebP;
* spritesheet_{size}.jpg      a 4x3 grid of 1/8-scale frames, one per second (t = 0..11 s).

The picture is a synthetic test pattern (colour bars, grey ramp, a bouncing box, and a label
with the size, time and frame number), drawn in pure Python so the only dependency is `av`
(no numpy, no Pillow, no system fonts). It is a function of (size, frame number) only, so the
first 4 s of every clip of one size are identical and re-running the script gives the same
frames; libx264 runs single-threaded with fixed settings so the bitstream is reproducible with
the same PyAV/FFmpeg build.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

SIZES: tuple[tuple[int, int], ...] = ((720, 1280), (1280, 720), (1024, 1792), (1792, 1024))
DURATIONS: tuple[int, ...] = (4, 8, 12)
FPS = 10  # low frame rate keeps all twelve clips together well under the size budget
GOP_SECONDS = 2  # a keyframe every 2 s so players can seek without decoding from the start
CRF = "38"  # test pattern, not content: high CRF is fine and keeps files tiny
BOX_PERIOD_S = 4.0  # the box goes across and back once every 4 s
SPRITE_COLS, SPRITE_ROWS, SPRITE_SCALE = 4, 3, 8
THUMBNAIL_AT_S = 1.0  # after the box has left its start position, so the frame is recognisable

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "fixtures"

RGB = tuple[int, int, int]

# 75% SMPTE-style bars: grey, yellow, cyan, green, magenta, red, blue.
BARS: tuple[RGB, ...] = (
    (191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0),
    (191, 0, 191), (191, 0, 0), (0, 0, 191),
)
LABEL_BG: RGB = (16, 16, 16)
LABEL_FG: RGB = (235, 235, 235)
BOX_FILL: RGB = (255, 255, 255)
BOX_EDGE: RGB = (0, 0, 0)

# 5x7 bitmap font for the few characters the label needs; drawn by hand so the output does not
# depend on a font installed on the machine.
FONT: dict[str, tuple[str, ...]] = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    "X": ("10001", "10001", "01010", "00100", "01010", "10001", "10001"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "F": ("11111", "10000", "10000", "11110", "10000", "10000", "10000"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    " ": ("00000",) * 7,
}


LABEL_CHARS = len("1792X1024 T00.00S F0000")  # longest label the frames carry


def size_name(width: int, height: int) -> str:
    return f"{width}x{height}"


def rgb_frame(data: bytes, width: int, height: int) -> av.VideoFrame:
    """Packed RGB bytes -> rgb24 frame (VideoFrame.from_bytes only takes rgba in PyAV 18)."""
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    row = width * 3
    if plane.line_size != row:  # FFmpeg pads rows to its alignment; re-stride to match
        pad = bytes(plane.line_size - row)
        data = b"".join(data[y * row : (y + 1) * row] + pad for y in range(height))
    plane.update(data)
    return frame


class Pattern:
    """Test-pattern renderer for one frame size; precomputes the static background once."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.bars_h = height * 2 // 3
        self.ramp_h = height // 12
        self.label_y = self.bars_h + self.ramp_h
        # Font pixel size: large enough to read, small enough that the whole label fits the
        # width (portrait frames are the narrow case).
        self.scale = max(1, min(min(width, height) // 90, width // ((LABEL_CHARS + 1) * 6)))
        self.box = min(width, height) // 6
        self.background = self._background()

    def _background(self) -> bytes:
        w = self.width
        bars_row = b"".join(bytes(BARS[x * len(BARS) // w]) for x in range(w))
        ramp_row = b"".join(bytes((x * 255 // (w - 1),) * 3) for x in range(w))
        label_row = bytes(LABEL_BG) * w
        return (
            bars_row * self.bars_h
            + ramp_row * self.ramp_h
            + label_row * (self.height - self.label_y)
        )

    def _fill(self, buf: bytearray, x0: int, y0: int, x1: int, y1: int, colour: RGB) -> None:
        # Clip, so a label wider than a small frame cannot spill into the next row or grow buf.
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(x1, self.width), min(y1, self.height)
        if x1 <= x0:
            return
        # Row slices keep this fast in pure Python: one slice assignment per pixel row.
        row = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            buf[start : start + len(row)] = row

    def _text(self, buf: bytearray, x0: int, y0: int, text: str) -> None:
        s = self.scale
        for i, char in enumerate(text):
            for gy, bits in enumerate(FONT[char]):
                for gx, bit in enumerate(bits):
                    if bit == "1":
                        x = x0 + (i * 6 + gx) * s
                        y = y0 + gy * s
                        self._fill(buf, x, y, x + s, y + s, LABEL_FG)

    def frame(self, index: int) -> av.VideoFrame:
        """RGB frame number `index` (at FPS), converted to yuv420p for the encoders."""
        buf = bytearray(self.background)
        # Bouncing box: a triangle wave across the bars, driven by the frame number only.
        phase = (index / FPS % BOX_PERIOD_S) / BOX_PERIOD_S
        travel = self.width - self.box
        x = round(travel * (2 * phase if phase < 0.5 else 2 - 2 * phase))
        y = (self.bars_h - self.box) // 2
        edge = max(2, self.box // 16)
        self._fill(buf, x, y, x + self.box, y + self.box, BOX_EDGE)
        self._fill(buf, x + edge, y + edge, x + self.box - edge, y + self.box - edge, BOX_FILL)
        # Label: size, timestamp and frame number, so a viewer can see playback is advancing.
        seconds = index / FPS
        label = f"{size_name(self.width, self.height)} T{seconds:05.2f}S F{index:04d}".upper()
        label_h = 7 * self.scale
        label_y = self.label_y + (self.height - self.label_y - label_h) // 2
        self._text(buf, 2 * self.scale, label_y, label)
        return rgb_frame(bytes(buf), self.width, self.height).reformat(format="yuv420p")


def write_video(pattern: Pattern, seconds: int, path: Path) -> None:
    # faststart moves the moov atom before mdat so clients can start playing while downloading;
    # bitexact keeps the FFmpeg version string out of the file.
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = pattern.width, pattern.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.codec_context.thread_count = 1  # multi-threaded x264 is not bit-reproducible
        stream.codec_context.gop_size = FPS * GOP_SECONDS
        stream.options = {
            "crf": CRF,
            "preset": "medium",
            "profile": "main",  # widest player support
            "threads": "1",
            "flags": "+bitexact",
        }
        for index in range(seconds * FPS):
            frame = pattern.frame(index)
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def encode_image(codec: str, frame: av.VideoFrame, options: dict[str, str]) -> bytes:
    """Encode one frame with an image codec; its single packet is the complete file."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = frame.format.name
    ctx.time_base = Fraction(1, 1)
    ctx.thread_count = 1
    # A square-pixel aspect also makes mjpeg write the JFIF APP0 header strict readers expect.
    ctx.sample_aspect_ratio = Fraction(1, 1)
    ctx.options = {"flags": "+bitexact", **options}
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def thumbnail(pattern: Pattern) -> bytes:
    frame = pattern.frame(round(THUMBNAIL_AT_S * FPS))
    return encode_image("libwebp", frame, {"quality": "60", "lossless": "0"})


def spritesheet(pattern: Pattern) -> bytes:
    tile_w, tile_h = pattern.width // SPRITE_SCALE, pattern.height // SPRITE_SCALE
    sheet = bytearray(tile_w * SPRITE_COLS * tile_h * SPRITE_ROWS * 3)
    sheet_w = tile_w * SPRITE_COLS
    for n in range(SPRITE_COLS * SPRITE_ROWS):
        tile = pattern.frame(n * FPS).reformat(width=tile_w, height=tile_h, format="rgb24")
        plane = tile.planes[0]
        data = bytes(plane)
        col, row = n % SPRITE_COLS, n // SPRITE_COLS
        for y in range(tile_h):  # planes may be padded, so copy row by row using line_size
            src = data[y * plane.line_size : y * plane.line_size + tile_w * 3]
            dst = ((row * tile_h + y) * sheet_w + col * tile_w) * 3
            sheet[dst : dst + tile_w * 3] = src
    frame = rgb_frame(bytes(sheet), sheet_w, tile_h * SPRITE_ROWS)
    # Full-range yuvj420p is what JPEG means by YUV; the mjpeg encoder wants it explicitly.
    frame = frame.reformat(format="yuvj420p")
    return encode_image("mjpeg", frame, {"qmin": "6", "qmax": "6"})


def outputs(out_dir: Path) -> Iterator[tuple[Path, float]]:
    """Write every fixture; yields (path, seconds spent) as each file is finished."""
    for width, height in SIZES:
        pattern = Pattern(width, height)
        name = size_name(width, height)
        for seconds in DURATIONS:
            path = out_dir / f"video_{name}_{seconds}s.mp4"
            started = time.perf_counter()
            write_video(pattern, seconds, path)
            yield path, time.perf_counter() - started
        for path, make in ((out_dir / f"thumbnail_{name}.webp", thumbnail), (out_dir / f"spritesheet_{name}.jpg", spritesheet)):
            started = time.perf_counter()
            path.write_bytes(make(pattern))
            yield path, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    total, started = 0, time.perf_counter()
    for path, took in outputs(args.out):
        size = path.stat().st_size
        total += size
        print(f"wrote {path} ({size:,} bytes, {took:.1f} s)")
    print(f"total {total:,} bytes in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
