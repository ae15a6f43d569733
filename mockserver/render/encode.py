"""Encoding a Picture into the three variants with PyAV, so that equal specs give equal bytes.

Reproducible by construction: libx264 runs single-threaded (its threaded modes are not
bit-exact) with fixed options, every codec and the MP4 muxer get `+bitexact` (no encoder
version string), and nothing writes a creation time. The spec fixes every other input.

* video       H.264 (Main, yuv420p) MP4, moov before mdat (+faststart) so playback can start
              while downloading; `spec.frames` frames at `spec.fps`, a keyframe every 2 s.
* thumbnail   the frame at 1 s (the last, for shorter clips), lossy WebP.
* spritesheet a 4x3 grid of 1/8-scale frames spread evenly over the clip, JPEG.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from mockserver.render.picture import Picture

GOP_SECONDS = 2
# A test pattern, not content: a high CRF keeps files small and the text still reads; veryfast
# costs a third less than `medium` for files about as small at this CRF. MB-tree off: with it,
# libx264 gave other bytes for the same frames on some widths (320 px: one run in three), even
# single-threaded, and asm=0 made it stable, so its SIMD code reads memory it does not own.
X264_OPTIONS = {
    "crf": "30",
    "preset": "veryfast",
    "profile": "main",
    "threads": "1",
    "flags": "+bitexact",
    "x264-params": "mbtree=0",
}
THUMBNAIL_AT_S = 1.0
SPRITE_COLS, SPRITE_ROWS, SPRITE_SCALE = 4, 3, 8


def write_video(picture: Picture, path: Path) -> None:
    spec = picture.spec
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}) as out:
        stream = out.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, spec.fps)
        stream.codec_context.thread_count = 1
        stream.codec_context.gop_size = spec.fps * GOP_SECONDS
        stream.options = dict(X264_OPTIONS)
        for index in range(spec.frames):
            frame = av.VideoFrame.from_image(picture.frame(index)).reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, spec.fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _encode_image(codec: str, frame: av.VideoFrame, options: dict[str, str]) -> bytes:
    """One frame through an image codec; its one packet is the whole file."""
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = frame.format.name
    ctx.time_base = Fraction(1, 1)
    ctx.thread_count = 1
    # Square pixels; this also makes mjpeg write the JFIF APP0 header strict readers expect.
    ctx.sample_aspect_ratio = Fraction(1, 1)
    ctx.options = {"flags": "+bitexact", **options}
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def thumbnail_index(picture: Picture) -> int:
    return min(picture.spec.frames - 1, round(THUMBNAIL_AT_S * picture.spec.fps))


def thumbnail(picture: Picture) -> bytes:
    frame = av.VideoFrame.from_image(picture.frame(thumbnail_index(picture))).reformat(format="yuv420p")
    return _encode_image("libwebp", frame, {"quality": "60", "lossless": "0"})


def sprite_indexes(picture: Picture) -> list[int]:
    tiles = SPRITE_COLS * SPRITE_ROWS
    return [n * picture.spec.frames // tiles for n in range(tiles)]


def spritesheet(picture: Picture) -> bytes:
    spec = picture.spec
    tile_w, tile_h = max(1, spec.width // SPRITE_SCALE), max(1, spec.height // SPRITE_SCALE)
    sheet = Image.new("RGB", (tile_w * SPRITE_COLS, tile_h * SPRITE_ROWS))
    for n, index in enumerate(sprite_indexes(picture)):
        tile = picture.frame(index).resize((tile_w, tile_h), Image.Resampling.BILINEAR)
        sheet.paste(tile, (n % SPRITE_COLS * tile_w, n // SPRITE_COLS * tile_h))
    # Full-range yuvj420p is what JPEG means by YUV; the mjpeg encoder wants it said.
    frame = av.VideoFrame.from_image(sheet).reformat(format="yuvj420p")
    return _encode_image("mjpeg", frame, {"qmin": "4", "qmax": "4"})


def write(variant: str, picture: Picture, path: Path) -> None:
    """Write `variant` of `picture` to `path` (which the caller renames into place)."""
    if variant == "video":
        write_video(picture, path)
    elif variant == "thumbnail":
        path.write_bytes(thumbnail(picture))
    elif variant == "spritesheet":
        path.write_bytes(spritesheet(picture))
    else:
        raise ValueError(f"unknown variant {variant!r}")
