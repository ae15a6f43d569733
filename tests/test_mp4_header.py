"""The checker's MP4 header reader (mockserver/conformance/mp4.py) says what PyAV, a real decoder, says.

`video_matches_job` trusts it to tell a video's frame size and duration without ffmpeg: every
fixture the fake serves, and files PyAV writes in the layouts providers use (the header after the
media, an odd size), must read the same as PyAV opens them.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import pytest

from mockserver.conformance.mp4 import Mp4Error, read_header
from tests.processes import REPO

FIXTURES = sorted((REPO / "fixtures").glob("video_*.mp4"))


def decoded(data: bytes) -> tuple[int, int, float]:
    """Width, height and duration in seconds, as PyAV opens the file."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        return stream.width, stream.height, container.duration / av.time_base


def encode(path: Path, width: int, height: int, frames: int, fps: int, movflags: str) -> bytes:
    # A real file: +faststart moves the header by reading the file again once it is written.
    with av.open(str(path), "w", format="mp4", options={"movflags": movflags} if movflags else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 7 % 256]) * plane.buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_reads_as_pyav_decodes_it(path: Path) -> None:
    data = path.read_bytes()
    header = read_header(data)
    width, height, seconds = decoded(data)
    assert (header.width, header.height) == (width, height)
    assert header.duration == pytest.approx(seconds, abs=0.01)
    name_size, name_seconds = path.stem.split("_")[1:]  # video_1280x720_8s
    assert header.size == name_size and header.duration == pytest.approx(float(name_seconds[:-1]), abs=0.01)


@pytest.mark.parametrize(("movflags", "layout"), [("", "moov after mdat"), ("+faststart", "moov first")])
def test_a_file_of_an_odd_size_reads_as_pyav_decodes_it_wherever_its_header_is(
    movflags: str, layout: str, tmp_path: Path
) -> None:
    data = encode(tmp_path / "odd.mp4", 96, 64, frames=15, fps=10, movflags=movflags)
    boxes = data.find(b"moov"), data.find(b"mdat")
    assert (boxes[0] < boxes[1]) == (layout == "moov first")
    header = read_header(data)
    width, height, seconds = decoded(data)
    assert (header.width, header.height, header.size) == (width, height, "96x64")
    assert header.duration == pytest.approx(seconds, abs=0.01) and header.duration == pytest.approx(1.5, abs=0.01)


def test_a_fragmented_file_states_no_duration_in_its_header(tmp_path: Path) -> None:
    data = encode(tmp_path / "fragmented.mp4", 64, 48, frames=10, fps=10, movflags="frag_keyframe+empty_moov")
    header = read_header(data)
    assert header.size == "64x48" and header.duration is None


def test_a_quarter_turned_track_reads_as_it_is_displayed() -> None:
    # A phone's portrait clip: 1280x720 frames and a 90-degree display matrix in tkhd.
    data = bytearray((REPO / "fixtures" / "video_1280x720_4s.mp4").read_bytes())
    tkhd = data.find(b"tkhd") + 4  # the box's payload
    matrix = tkhd + (52 if data[tkhd] == 1 else 40)
    data[matrix : matrix + 16] = struct.pack(">iiii", 0, 0x10000, 0, -0x10000)  # a=0 b=1 u=0 c=-1
    data[matrix + 16 : matrix + 20] = struct.pack(">i", 0)  # d=0
    assert read_header(bytes(data)).size == "720x1280"


def _cut_inside_moov() -> bytes:
    data = FIXTURES[0].read_bytes()
    return data[: data.find(b"moov") + 100]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "not an MP4"),
        (FIXTURES[0].read_bytes()[:32], "no `moov` box"),  # only the ftyp box arrived
        (_cut_inside_moov(), "claims"),  # the header itself is cut off
    ],
)
def test_what_is_not_a_readable_mp4_is_said_plainly(data: bytes, words: str) -> None:
    with pytest.raises(Mp4Error, match=words):
        read_header(data)
