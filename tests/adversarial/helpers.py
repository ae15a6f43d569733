"""Black-box helpers for the adversarial suite: a real `mockserver serve` process, raw requests, and
the check that the server still answers normally for every key after whatever a test threw at it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.processes import RunningServer

KEYS = ("sk-adversarial-alice-0001", "sk-adversarial-bob-00002")
DEADLINE_SECONDS = 15.0
CLIENT_TIMEOUT = httpx.Timeout(10.0)


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def http(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.root, timeout=CLIENT_TIMEOUT)


def assert_envelope(
    response: httpx.Response, status: int, param: str | None, code: str | None = None
) -> dict[str, Any]:
    """The answer is `status` in the OpenAI error envelope, naming `param` (and `code` when given)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def create(client: httpx.Client, key: str, **fields: Any) -> httpx.Response:
    return client.post("/v1/videos", json={"prompt": "a calm lake", **fields}, headers=auth(key))


def assert_answers_normally(server: RunningServer, keys: Iterable[str] = KEYS) -> None:
    """Every key can create, list and read a job; the control API lists journal, faults, outcomes, webhooks."""
    with http(server) as client:
        for key in keys:
            made = create(client, key)
            assert made.status_code == 200, made.text
            video = made.json()
            listed = client.get("/v1/videos", params={"limit": 100}, headers=auth(key))
            assert listed.status_code == 200, listed.text
            assert video["id"] in [v["id"] for v in listed.json()["data"]]
            got = client.get(f"/v1/videos/{video['id']}", headers=auth(key))
            assert got.status_code == 200 and got.json()["id"] == video["id"], got.text
        for path in (
            "/__mock/journal",
            "/__mock/faults",
            "/__mock/outcomes",
            "/__mock/webhooks",
            "/__mock/webhooks/deliveries",
            "/__mock/webhooks/faults",
            "/__mock/clock",
        ):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:500])
            json.dumps(answer.json())  # a document that round-trips


def raw_exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are on one connection; everything the server answers until it closes or is quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def parse_raw_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


class Receiver:
    """A loopback webhook receiver recording every POST and answering 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                with receiver.changed:
                    receiver.calls.append(json.loads(body))
                    receiver.changed.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def video_ids(self) -> set[str]:
        with self.changed:
            return {call["data"]["id"] for call in self.calls}

    def wait_for_videos(self, ids: set[str], deadline_s: float = DEADLINE_SECONDS) -> set[str]:
        deadline = time.monotonic() + deadline_s
        with self.changed:
            while True:
                missing = ids - {call["data"]["id"] for call in self.calls}
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self.changed.wait(left)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class HungEndpoint:
    """Accepts connections and never answers: the webhook endpoint that holds whatever it is given."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.accepted: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
