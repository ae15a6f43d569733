"""Downloads as a client and a player see them, on real servers: the bytes of the file on disk now (a
file replaced between two downloads is served new, on every worker), every Range a player sends,
HEAD, and the headers Starlette's FileResponse gives for the same file; files held in memory and
files too large to hold alike; the held bytes go through each of uvicorn's HTTP implementations."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mockserver.config import ServerConfig
from mockserver.http.app import create_app
from mockserver.http.filebytes import PER_FILE_BYTES, FileBytes
from mockserver.render.settings import MediaSettings
from mockserver.resources import fixtures_dir
from tests.processes import RunningServer, serve

KEY = "sk-downloads-test-4242"
AUTH = {"Authorization": f"Bearer {KEY}"}
VIDEO = "video_1280x720_12s.mp4"
HELD_LARGE = "video_1280x720_8s.mp4"  # over one piece (1 MiB), under the per-file limit: held, sent in views
STREAMED = "video_1280x720_4s.mp4"  # over the per-file limit: streamed from the file
UNCHANGED = ("date", "server", "x-request-id", "openai-processing-ms", "openai-version")


def _padded_mp4(source: Path, size: int) -> bytes:
    """A real MP4 grown to `size` bytes with a trailing `free` box (decoders skip it) of random bytes."""
    data = source.read_bytes()
    pad = size - len(data)
    return data + struct.pack(">I", pad) + b"free" + os.urandom(pad - 8)


def _fixtures(root: Path) -> Path:
    """A fixtures directory of the 1280x720 files, two of the videos made large."""
    shipped = fixtures_dir()
    root.mkdir()
    for name in (VIDEO, "thumbnail_1280x720.webp", "spritesheet_1280x720.jpg"):
        shutil.copy(shipped / name, root / name)
    (root / HELD_LARGE).write_bytes(_padded_mp4(shipped / HELD_LARGE, 3 * 1024 * 1024 + 17))
    (root / STREAMED).write_bytes(_padded_mp4(shipped / STREAMED, PER_FILE_BYTES + 5 * 1024 * 1024 + 3))
    return root


def _replace(path: Path, data: bytes) -> None:
    """As the render cache and a re-run of make_fixtures put a file in place: a new file renamed over it."""
    temp = path.with_name(f".{path.name}.part")
    temp.write_bytes(data)
    os.replace(temp, path)


def _job(client: httpx.Client, root: str, seconds: str) -> str:
    created = client.post(
        f"{root}/v1/videos",
        headers={**AUTH, "X-Mock-Duration": "0"},
        files={"prompt": (None, "downloads"), "size": (None, "1280x720"), "seconds": (None, seconds)},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _download(client: httpx.Client, root: str, video_id: str, **headers: str) -> httpx.Response:
    return client.get(f"{root}/v1/videos/{video_id}/content", headers={**AUTH, **headers})


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fixtures(tmp_path_factory.mktemp("downloads") / "fixtures")


@pytest.fixture(scope="module")
def server(media: Path) -> Iterator[RunningServer]:
    with serve("--fixtures", str(media), "--no-render", "--api-key", KEY, "--log-level", "warning") as running:
        yield running


@pytest.fixture(scope="module")
def jobs(server: RunningServer) -> dict[str, str]:
    with httpx.Client(timeout=30) as client:
        return {
            name: _job(client, server.root, seconds)
            for name, seconds in ((VIDEO, "12"), (HELD_LARGE, "8"), (STREAMED, "4"))
        }


RANGES = [
    "bytes=0-99",
    "bytes=100-1099",
    "bytes=-500",  # a suffix: the last 500 bytes
    "bytes=-1",  # the last byte, as a suffix
    "bytes=1000-",  # open-ended
    "bytes=0-",
    "bytes=10-999999999",  # past the end: up to the last byte
    "bytes=1048570-2097160",  # across a piece or chunk boundary
]


@pytest.mark.parametrize("name", [VIDEO, HELD_LARGE, STREAMED])
def test_every_range_is_the_files_bytes_and_the_last_byte_is_there(
    server: RunningServer, media: Path, jobs: dict[str, str], name: str
) -> None:
    data = (media / name).read_bytes()
    size = len(data)
    with httpx.Client(timeout=30) as client:
        whole = _download(client, server.root, jobs[name])
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-length"] == str(size)
        for asked in [*RANGES, f"bytes={size - 1}-{size - 1}"]:
            part = _download(client, server.root, jobs[name], Range=asked)
            first, last = re.fullmatch(r"bytes=(\d*)-(\d*)", asked).groups()  # type: ignore[union-attr]
            if not first:
                start, end = size - int(last), size
            else:
                start, end = int(first), min(int(last) + 1, size) if last else size
            if start >= size:
                assert part.status_code == 416, asked
                continue
            assert part.status_code == 206, (asked, part.text[:200])
            assert part.content == data[start:end], asked
            assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", asked
            assert part.headers["content-length"] == str(end - start), asked
        head = client.head(f"{server.root}/v1/videos/{jobs[name]}/content", headers=AUTH)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(size)


def _file_response_app(path: Path, filename: str) -> TestClient:
    async def content(request: Request) -> FileResponse:
        return FileResponse(path, media_type="video/mp4", filename=filename, content_disposition_type="attachment")

    return TestClient(Starlette(routes=[Route("/content", content)]))


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [
        (key.decode().lower(), re.sub(r"boundary=\w+", "boundary=B", value.decode()))
        for key, value in response.headers.raw
        if key.decode().lower() not in UNCHANGED
    ]
    body = response.content
    boundary = re.search(rb"--([0-9a-f]{26})\r\n", body)
    return response.status_code, headers, body.replace(boundary.group(1), b"B") if boundary else body


@pytest.mark.parametrize("name", [VIDEO, STREAMED])
def test_the_headers_and_bytes_are_file_responses_for_the_same_file(
    server: RunningServer, media: Path, jobs: dict[str, str], name: str
) -> None:
    video_id = jobs[name]
    bare = _file_response_app(media / name, f"{video_id}.mp4")
    with httpx.Client(timeout=30) as client:
        etag = _download(client, server.root, video_id).headers["etag"]
        modified = _download(client, server.root, video_id).headers["last-modified"]
        for method, headers in [
            ("GET", {}),
            ("HEAD", {}),
            ("GET", {"Range": "bytes=100-1099"}),
            ("HEAD", {"Range": "bytes=0-9"}),
            ("GET", {"Range": "bytes=-1"}),
            ("GET", {"Range": "bytes=0-9,100-199"}),  # several ranges: multipart/byteranges
            ("GET", {"Range": "bytes=0-9", "If-Range": etag}),
            ("GET", {"Range": "bytes=0-9", "If-Range": modified}),
            ("GET", {"Range": "bytes=0-9", "If-Range": '"another-version"'}),  # the whole file
            ("GET", {"Range": "bytes=0-9", "If-Range": f"W/{etag}"}),
            ("GET", {"Range": ",".join(f"{n}-{n}" for n in range(0, 404, 2)).join(["bytes=", ""])}),  # too many
        ]:
            mock = client.request(method, f"{server.root}/v1/videos/{video_id}/content", headers={**AUTH, **headers})
            expected = bare.request(method, "/content", headers=headers)
            assert _comparable(mock) == _comparable(expected), (method, headers)


def test_a_file_replaced_on_disk_is_served_new_same_size_or_not(
    server: RunningServer, media: Path, jobs: dict[str, str]
) -> None:
    path = media / VIDEO
    original = path.read_bytes()
    try:
        with httpx.Client(timeout=30) as client:
            assert _download(client, server.root, jobs[VIDEO]).content == original  # held from here on
            same_size = original[:-64] + os.urandom(64)  # what a re-render with other bytes looks like
            _replace(path, same_size)
            again = _download(client, server.root, jobs[VIDEO])
            assert again.content == same_size
            assert _download(client, server.root, jobs[VIDEO], Range="bytes=-64").content == same_size[-64:]
            larger = _padded_mp4(fixtures_dir() / VIDEO, len(original) + 4096)
            _replace(path, larger)
            grown = _download(client, server.root, jobs[VIDEO])
            assert grown.content == larger and grown.headers["content-length"] == str(len(larger))
            part = _download(client, server.root, jobs[VIDEO], Range="bytes=-1")
            assert part.headers["content-range"] == f"bytes {len(larger) - 1}-{len(larger) - 1}/{len(larger)}"
            # Rewritten in place, same size, its modification time put back: still told apart (ctime).
            stat = path.stat()
            rewritten = larger[:-64] + os.urandom(64)
            with open(path, "r+b") as file:
                file.write(rewritten)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            assert _download(client, server.root, jobs[VIDEO]).content == rewritten
    finally:
        _replace(path, original)


def _worker_client(root: str, pid: int) -> httpx.Client:
    """A client whose one keep-alive connection is served by worker `pid`."""
    for _ in range(200):  # each try is a new connection; the kernel gives the other worker about half
        client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=1))
        if client.get(f"{root}/__mock/health").json()["pid"] == pid:
            return client
        client.close()
    raise AssertionError(f"worker {pid} got none of 200 new connections")


def test_each_of_two_workers_serves_a_replaced_file_new(tmp_path: Path) -> None:
    media = _fixtures(tmp_path / "fixtures")
    path = media / VIDEO
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    with serve(
        "--fixtures", str(media), "--no-render", "--api-key", KEY, "--store", store, "--workers", "2"
    ) as running:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2:  # both workers up
            assert time.monotonic() < deadline, f"only workers {pids} answered"
            pids.add(httpx.get(f"{running.root}/__mock/health", timeout=10).json()["pid"])
        clients = [_worker_client(running.root, pid) for pid in sorted(pids)]
        try:
            video_id = _job(clients[0], running.root, "12")
            for version in (path.read_bytes(), os.urandom(44706), os.urandom(10_000)):
                _replace(path, version)
                for client in clients:  # each held the previous version
                    assert _download(client, running.root, video_id).content == version
                    part = _download(client, running.root, video_id, Range="bytes=-100")
                    assert part.content == version[-100:]
                    assert part.headers["content-range"].endswith(f"/{len(version)}")
        finally:
            for client in clients:
                client.close()


def test_a_download_cut_off_midway_leaves_the_server_answering(
    server: RunningServer, media: Path, jobs: dict[str, str]
) -> None:
    with httpx.Client(timeout=30) as client:
        with client.stream("GET", f"{server.root}/v1/videos/{jobs[STREAMED]}/content", headers=AUTH) as stream:
            assert stream.status_code == 200
            next(stream.iter_raw(65536))  # then the client goes away
        data = (media / STREAMED).read_bytes()
        assert (
            hashlib.sha256(_download(client, server.root, jobs[STREAMED]).content).digest()
            == hashlib.sha256(data).digest()
        )
    assert "Traceback" not in server.output


# -- the held bytes through each of uvicorn's HTTP implementations and event loops ----------------


@contextmanager
def _uvicorn(media: Path, http: str, loop: str) -> Iterator[str]:
    import uvicorn

    config = ServerConfig(fixtures_dir=media, media=replace(MediaSettings(), render=False))
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, http=http, loop=loop))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            try:
                if httpx.get(f"{root}/__mock/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.02)  # a poll interval, bounded by the deadline
        yield root
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize(
    "http", ["mockserver.http.protocol:EnvelopeH11Protocol", "mockserver.http.protocol:EnvelopeHttpToolsProtocol"]
)
def test_a_range_sent_as_a_view_of_the_held_bytes_arrives_whole(media: Path, http: str, loop: str) -> None:
    data = (media / VIDEO).read_bytes()
    large = (media / HELD_LARGE).read_bytes()
    with _uvicorn(media, http, loop) as root, httpx.Client(timeout=30) as client:
        video_id = _job(client, root, "12")
        for _ in range(2):  # the first reads the file, the second is the held copy
            assert _download(client, root, video_id, Range="bytes=1000-2999").content == data[1000:3000]
            assert _download(client, root, video_id).content == data
        large_id = _job(client, root, "8")
        assert _download(client, root, large_id, Range="bytes=5-").content == large[5:]


# -- the bound on what is held ----------------------------------------------------------------------


def test_what_is_held_stays_within_its_bounds_and_the_least_recent_goes_first(tmp_path: Path) -> None:
    files = {}
    for name, size in (("a", 400), ("b", 300), ("c", 200), ("big", 700)):
        files[name] = tmp_path / name
        files[name].write_bytes(os.urandom(size))
    held = FileBytes(total_bytes=1000, per_file_bytes=600)
    assert not held.holds(files["big"].stat())  # streamed instead

    async def load(name: str) -> bytes:
        path = str(files[name])
        snapshot = held.current(path, os.stat(path)) or await held.load(path)
        assert snapshot is not None
        return snapshot.data

    async def scenario() -> None:
        assert await load("a") == files["a"].read_bytes()
        await load("b")
        await load("a")  # a is now the most recent
        await load("c")
        assert held.held_bytes == 900
        files["d"] = tmp_path / "d"
        files["d"].write_bytes(os.urandom(250))
        await load("d")  # 1150 > 1000: b, the least recent, goes
        assert held.held_bytes == 850
        assert held.current(str(files["b"]), files["b"].stat()) is None
        assert held.current(str(files["a"]), files["a"].stat()) is not None

    asyncio.run(scenario())
