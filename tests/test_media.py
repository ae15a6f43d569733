"""Media fixtures (fixtures/, made by scripts/make_fixtures.py) and MediaLibrary lookups."""

from __future__ import annotations

import importlib.util
import re
import struct
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

from mockserver.core.media import (
    DEFAULT_ROOT,
    FixturesMissingError,
    MediaFile,
    MediaLibrary,
    UnknownVariantError,
)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_fixtures.py"
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
DURATIONS = (4, 8, 12)
VIDEOS = sorted(DEFAULT_ROOT.glob("video_*.mp4"))
THUMBNAILS = sorted(DEFAULT_ROOT.glob("thumbnail_*.webp"))
SPRITESHEETS = sorted(DEFAULT_ROOT.glob("spritesheet_*.jpg"))


@pytest.fixture(scope="module")
def av() -> ModuleType:
    return pytest.importorskip("av")


@pytest.fixture(scope="module")
def library() -> MediaLibrary:
    return MediaLibrary()


@pytest.fixture(scope="module")
def script() -> ModuleType:
    # scripts/ is not a package; load the generator by path so its helpers can be exercised.
    pytest.importorskip("av")
    spec = importlib.util.spec_from_file_location("make_fixtures", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dims(name: str) -> tuple[int, int]:
    match = re.search(r"_(\d+)x(\d+)", name)
    assert match, name
    return int(match.group(1)), int(match.group(2))


def top_level_boxes(path: Path) -> list[str]:
    """Types of the top-level MP4 boxes, in file order."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:  # 64-bit largesize follows the type
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


# -- the fixture set -------------------------------------------------------------------------


def test_every_official_size_and_duration_is_present() -> None:
    names = {p.name for p in DEFAULT_ROOT.iterdir()}
    expected = {f"video_{s}_{d}s.mp4" for s in SIZES for d in DURATIONS}
    expected |= {f"thumbnail_{s}.webp" for s in SIZES} | {f"spritesheet_{s}.jpg" for s in SIZES}
    assert expected <= names, f"missing {sorted(expected - names)}; run python scripts/make_fixtures.py"


def test_fixtures_stay_small() -> None:
    total = sum(p.stat().st_size for p in DEFAULT_ROOT.iterdir() if p.is_file())
    assert total < 5 * 1024 * 1024, total


@pytest.mark.parametrize("path", VIDEOS, ids=lambda p: p.name)
def test_mp4_is_faststart_with_ftyp_first(path: Path) -> None:
    boxes = top_level_boxes(path)
    assert boxes[0] == "ftyp", boxes
    # faststart: the index (moov) precedes the media data, so playback can start mid-download.
    assert boxes.index("moov") < boxes.index("mdat"), boxes


@pytest.mark.parametrize("path", VIDEOS, ids=lambda p: p.name)
def test_mp4_decodes_as_h264_with_the_named_size_and_duration(av: ModuleType, path: Path) -> None:
    width, height = dims(path.name)
    seconds = int(re.search(r"_(\d+)s\.mp4$", path.name).group(1))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        frames = list(container.decode(stream))
    assert frames, "no frames decoded"
    assert all((f.width, f.height, f.format.name) == (width, height, "yuv420p") for f in frames)
    frame_duration = Fraction(1) / stream.average_rate
    last = frames[-1]
    decoded = last.pts * stream.time_base + frame_duration  # end of the last frame
    assert abs(decoded - seconds) <= frame_duration, (float(decoded), seconds)
    assert abs(len(frames) * frame_duration - seconds) <= frame_duration


@pytest.mark.parametrize("path", THUMBNAILS, ids=lambda p: p.name)
def test_thumbnail_is_webp_of_the_named_size(av: ModuleType, path: Path) -> None:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == dims(path.name)


@pytest.mark.parametrize("path", SPRITESHEETS, ids=lambda p: p.name)
def test_spritesheet_is_jpeg_grid(av: ModuleType, path: Path) -> None:
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    width, height = dims(path.name)
    assert (frame.width, frame.height) == (width // 8 * 4, height // 8 * 3)  # 4x3 tiles at 1/8


# -- lookups ---------------------------------------------------------------------------------


def test_variants_and_media_types(library: MediaLibrary) -> None:
    assert library.variants() == ("video", "thumbnail", "spritesheet")
    assert library.media_type("video") == "video/mp4"
    assert library.media_type("thumbnail") == "image/webp"
    assert library.media_type("spritesheet") == "image/jpeg"
    with pytest.raises(UnknownVariantError, match="gif"):
        library.media_type("gif")
    with pytest.raises(ValueError):
        library.lookup("gif", "1280x720", "4")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seconds", [4, "8", "12"])
def test_exact_video_lookup(library: MediaLibrary, size: str, seconds: str | int) -> None:
    media = library.lookup("video", size, seconds)
    assert media == MediaFile(
        path=DEFAULT_ROOT.resolve() / f"video_{size}_{seconds}s.mp4",
        media_type="video/mp4",
        size_bytes=media.path.stat().st_size,
        extension=".mp4",
        variant="video",
        size=size,
        seconds=int(seconds),
    )


@pytest.mark.parametrize("size", SIZES)
def test_exact_image_lookup(library: MediaLibrary, size: str) -> None:
    thumb = library.lookup("thumbnail", size, "8")
    assert (thumb.path.name, thumb.media_type, thumb.extension) == (f"thumbnail_{size}.webp", "image/webp", ".webp")
    sheet = library.lookup("spritesheet", size, "8")
    assert (sheet.path.name, sheet.media_type, sheet.extension) == (f"spritesheet_{size}.jpg", "image/jpeg", ".jpg")
    assert thumb.seconds is None and sheet.seconds is None


@pytest.mark.parametrize(
    ("seconds", "served"),
    [(5, 4), ("10", 8), ("20", 12), ("6", 4), ("1", 4), (9, 8), ("11.5", 12), ("8.0", 8), ("abc", 4), ("0", 4), ("-8", 4)],
)
def test_duration_fallback(library: MediaLibrary, seconds: str | int, served: int) -> None:
    assert library.lookup("video", "1280x720", seconds).seconds == served


@pytest.mark.parametrize(
    ("size", "served"),
    [
        ("1920x1080", "1280x720"),  # same 16:9 ratio
        ("1080x1920", "720x1280"),
        ("1080p", "1280x720"),  # resolution names are 16:9 landscape
        ("720P", "1280x720"),
        ("1792X1024", "1792x1024"),  # case and spacing do not matter
        (" 1024 x 1792 ", "1024x1792"),
        ("1000x1800", "720x1280"),  # 0.556 is closer to 9:16 than to 4:7
        ("1750x1000", "1792x1024"),
        ("2000x500", "1280x720"),  # very wide still lands on a landscape size
        ("500x2000", "720x1280"),
        ("9:16", "720x1280"),
        ("16:9", "1280x720"),
        ("1024x1024", "720x1280"),  # square -> the API default
        ("garbage", "720x1280"),
        ("", "720x1280"),
        ("0x0", "720x1280"),
    ],
)
def test_size_fallback(library: MediaLibrary, size: str, served: str) -> None:
    for variant in library.variants():
        assert library.lookup(variant, size, "4").size == served


def test_files_lists_everything_once(library: MediaLibrary) -> None:
    files = library.files()
    assert len(files) == len({f.path for f in files}) == 20


# -- indexing --------------------------------------------------------------------------------


def fake_fixtures(root: Path) -> None:
    for size in ("1280x720", "720x1280"):
        (root / f"video_{size}_4s.mp4").write_bytes(b"v" * 10)
        (root / f"thumbnail_{size}.webp").write_bytes(b"t")
        (root / f"spritesheet_{size}.jpg").write_bytes(b"s")
    (root / "README.md").write_text("not media")
    (root / "video_1280x720.mp4").write_bytes(b"")  # no duration: ignored


def test_index_is_built_once(tmp_path: Path) -> None:
    fake_fixtures(tmp_path)
    library = MediaLibrary(tmp_path)
    (tmp_path / "video_1280x720_8s.mp4").write_bytes(b"new")  # added after construction
    media = library.lookup("video", "1280x720", "8")
    assert (media.path.name, media.size_bytes) == ("video_1280x720_4s.mp4", 10)


def test_missing_directory_names_the_script(tmp_path: Path) -> None:
    with pytest.raises(FixturesMissingError, match=r"scripts/make_fixtures\.py"):
        MediaLibrary(tmp_path / "nope")


def test_empty_directory_names_the_script(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no media yet")
    with pytest.raises(FixturesMissingError, match=r"scripts/make_fixtures\.py"):
        MediaLibrary(str(tmp_path))


# -- the generator ---------------------------------------------------------------------------


def test_generator_covers_the_official_sizes_and_durations(script: ModuleType) -> None:
    assert tuple(f"{w}x{h}" for w, h in script.SIZES) == SIZES
    assert script.DURATIONS == DURATIONS


def test_generator_small_encode_is_repeatable(av: ModuleType, script: ModuleType, tmp_path: Path) -> None:
    # A tiny clip exercises the same encode path as the real fixtures in well under a second.
    pattern = script.Pattern(160, 96)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    script.write_video(pattern, 1, first)
    script.write_video(pattern, 1, second)
    assert top_level_boxes(first)[0] == "ftyp"
    with av.open(str(first)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    assert stream.codec_context.name == "h264"
    assert (frames[0].width, frames[0].height) == (160, 96)
    assert len(frames) == script.FPS  # 1 s at FPS
    # Same build, single-threaded x264, bitexact: identical bytes.
    assert first.read_bytes() == second.read_bytes()
