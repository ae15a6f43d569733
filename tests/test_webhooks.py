"""Webhooks: a local receiver gets signed video.completed / video.failed events that the official SDK verifies."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest
from openai import OpenAI

from tests.processes import serve

DEADLINE_SECONDS = 10.0


class Receiver:
    """A loopback HTTP server recording every POST; answers from `statuses` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.changed:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, deadline_s: float = DEADLINE_SECONDS) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + deadline_s
        with self.changed:
            while len(self.calls) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"receiver got {len(self.calls)} calls, expected {count}")
                self.changed.wait(left)
            return list(self.calls)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _register(mockserver: Any, url: str, **options: Any) -> dict[str, Any]:
    response = httpx.post(f"{mockserver.root_url}/__mock/webhooks", json={"url": url, "api_key": mockserver.api_key, **options})
    assert response.status_code == 201, response.text
    return response.json()


def _deliveries(mockserver: Any, video_id: str, settled: int) -> list[dict[str, Any]]:
    """Deliveries of one video, once `settled` of them have stopped retrying (bounded wait)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        data = httpx.get(f"{mockserver.root_url}/__mock/webhooks/deliveries", params={"video_id": video_id}).json()["data"]
        if sum(d["status"] != "pending" for d in data) >= settled or time.monotonic() > deadline:
            return data
        time.sleep(0.02)  # a poll interval, bounded by the deadline


def _verifier() -> OpenAI:
    return OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")


def test_clock_advance_delivers_one_verified_completed_event(mockserver: Any, receiver: Receiver) -> None:
    endpoint = _register(mockserver, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    video = mockserver.client().videos.create(model="sora-2", prompt="a lighthouse at dusk")
    assert receiver.calls == []  # the clock is frozen: the job is not done yet
    mockserver.clock.advance(3600)
    (headers, body), = receiver.wait_for(1)
    _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])  # raises if not
    event = json.loads(body)
    assert event["type"] == "video.completed" and event["object"] == "event"
    assert event["data"] == {"id": video.id} and event["id"].startswith("evt_")
    unwrapped = _verifier().webhooks.unwrap(body, headers, secret=endpoint["secret"])
    assert unwrapped.type == "video.completed"
    # Exactly one: later clock moves do not announce it again.
    mockserver.clock.advance(3600)
    delivered = _deliveries(mockserver, video.id, settled=1)
    assert [d["status"] for d in delivered] == ["delivered"]
    assert len(receiver.calls) == 1


def test_failed_job_yields_video_failed(mockserver: Any, receiver: Receiver) -> None:
    endpoint = _register(mockserver, receiver.url)
    video = mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Outcome": "failed:internal_error"})
    mockserver.clock.advance(3600)
    (headers, body), = receiver.wait_for(1)
    _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])
    assert json.loads(body)["type"] == "video.failed"
    assert json.loads(body)["data"]["id"] == video.id


def test_retries_500_twice_then_200_with_same_webhook_id(mockserver: Any) -> None:
    flaky = Receiver(statuses=[500, 500])
    try:
        endpoint = _register(mockserver, flaky.url, backoff_seconds=0.05, max_attempts=5)
        video = mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"})
        calls = flaky.wait_for(3)
        assert len({headers["webhook-id"] for headers, _ in calls}) == 1
        for headers, body in calls:  # each attempt is signed afresh and verifies
            _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])
        (delivery,) = _deliveries(mockserver, video.id, settled=1)
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
        journal = httpx.get(f"{mockserver.root_url}/__mock/journal").json()["data"]
        outgoing = [e for e in journal if e["path"] == flaky.url]
        assert [e["status"] for e in outgoing] == [500, 500, 200]
        assert {e["headers"]["webhook-id"] for e in outgoing} == {delivery["webhook_id"]}
    finally:
        flaky.close()


def test_unreachable_endpoint_gives_up_after_max_attempts(mockserver: Any) -> None:
    gone = Receiver()
    gone.close()  # nothing listens on this port any more
    _register(mockserver, gone.url, backoff_seconds=0.01, max_attempts=2)
    video = mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"})
    (delivery,) = _deliveries(mockserver, video.id, settled=1)
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 2 and all(a["error"] for a in delivery["attempts"])


def test_bad_signature_fault_is_rejected_by_the_sdk(mockserver: Any, receiver: Receiver) -> None:
    from openai import InvalidWebhookSignatureError

    endpoint = _register(mockserver, receiver.url)
    fault = httpx.post(f"{mockserver.root_url}/__mock/webhooks/faults", json={"mode": "bad_signature", "count": 1})
    assert fault.status_code == 201
    mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"})
    (headers, body), = receiver.wait_for(1)
    with pytest.raises(InvalidWebhookSignatureError):
        _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])
    # The fault was used up: the next event is signed correctly again.
    mockserver.client().videos.create(model="sora-2", prompt="y", extra_headers={"X-Mock-Duration": "0"})
    calls = receiver.wait_for(2)
    _verifier().webhooks.verify_signature(calls[1][1], calls[1][0], secret=endpoint["secret"])


def test_duplicate_fault_sends_same_webhook_id_twice(mockserver: Any, receiver: Receiver) -> None:
    endpoint = _register(mockserver, receiver.url)
    httpx.post(f"{mockserver.root_url}/__mock/webhooks/faults", json={"mode": "duplicate"}).raise_for_status()
    mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"})
    calls = receiver.wait_for(2)
    assert calls[0][0]["webhook-id"] == calls[1][0]["webhook-id"] and calls[0][1] == calls[1][1]
    for headers, body in calls:
        _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])


def test_registration_is_scoped_to_its_key_and_cleared_by_reset(mockserver: Any, receiver: Receiver) -> None:
    _register(mockserver, receiver.url)
    other = OpenAI(base_url=mockserver.base_url, api_key="sk-someone-else-0123456789")
    other.videos.create(model="sora-2", prompt="not mine", extra_headers={"X-Mock-Duration": "0"})
    mine = mockserver.client().videos.create(model="sora-2", prompt="mine", extra_headers={"X-Mock-Duration": "0"})
    (_, body), = receiver.wait_for(1)
    assert json.loads(body)["data"]["id"] == mine.id
    listed = httpx.get(f"{mockserver.root_url}/__mock/webhooks").json()["data"]
    assert [r["url"] for r in listed] == [receiver.url]
    httpx.post(f"{mockserver.root_url}/__mock/reset", json={}).raise_for_status()
    assert httpx.get(f"{mockserver.root_url}/__mock/webhooks").json()["data"] == []


def test_bad_registration_gets_an_openai_error(mockserver: Any) -> None:
    for body, param in [({"url": "ftp://x"}, "url"), ({"url": "http://127.0.0.1:1/h", "secret": "nope"}, "secret")]:
        response = httpx.post(f"{mockserver.root_url}/__mock/webhooks", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param
    response = httpx.post(f"{mockserver.root_url}/__mock/webhooks/faults", json={"mode": "explode"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "mode"
    assert httpx.delete(f"{mockserver.root_url}/__mock/webhooks/we_missing").status_code == 404


def _delivery_and_printed_secret(server: Any, receiver: Receiver) -> tuple[dict[str, str], bytes, str]:
    """Finishes one job on a `serve` started with --webhook-url; its delivery and the secret it printed."""
    OpenAI(base_url=server.base_url, api_key="sk-test-cli").videos.create(
        model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"}
    )
    (headers, body), = receiver.wait_for(1)
    _code, output = server.stop()
    secret = next(line.rsplit(" ", 1)[1] for line in output.splitlines() if "webhook secret" in line)
    return headers, body, secret


def test_serve_webhook_url_prints_generated_secret_and_delivers(receiver: Receiver) -> None:
    with serve("--webhook-url", receiver.url, "--log-level", "warning") as server:
        headers, body, secret = _delivery_and_printed_secret(server, receiver)
    _verifier().webhooks.verify_signature(body, headers, secret=secret)
    assert json.loads(body)["type"] == "video.completed"


def test_workers_sign_with_the_printed_generated_secret_after_a_reset(receiver: Receiver, tmp_path: Any) -> None:
    # A reset re-registers the start-up endpoints in whichever worker answers it; each must sign
    # with the one secret `serve` printed, not one it generated for itself.
    store = f"sqlite:///{tmp_path / 'state.db'}"
    with serve("--workers", "2", "--store", store, "--webhook-url", receiver.url, "--log-level", "warning") as server:
        for _ in range(4):  # new connections: both workers are likely to answer one
            assert httpx.post(f"{server.root}/__mock/reset").status_code == 200
        headers, body, secret = _delivery_and_printed_secret(server, receiver)
    _verifier().webhooks.verify_signature(body, headers, secret=secret)


def test_late_fault_still_delivers_and_is_recorded(mockserver: Any, receiver: Receiver) -> None:
    endpoint = _register(mockserver, receiver.url)
    fault = httpx.post(f"{mockserver.root_url}/__mock/webhooks/faults", json={"mode": "late", "delay_seconds": 0.2, "endpoint": endpoint["id"]})
    assert fault.json()["remaining"] == 1
    video = mockserver.client().videos.create(model="sora-2", prompt="x", extra_headers={"X-Mock-Duration": "0"})
    (headers, body), = receiver.wait_for(1)
    _verifier().webhooks.verify_signature(body, headers, secret=endpoint["secret"])
    (delivery,) = _deliveries(mockserver, video.id, settled=1)
    assert delivery["fault"] == "late" and delivery["status"] == "delivered"
    assert httpx.get(f"{mockserver.root_url}/__mock/webhooks/faults").json()["data"] == []  # used up
