"""A few seconds of valid traffic mixed with every hostile input of #23, a hung and a closed webhook endpoint:
no 5xx, every acknowledged job retrievable, the healthy receiver has every event.

Each client makes a fixed, seeded sequence of requests, so what is asserted does not depend on how fast
the machine is; the deadline only bounds a run that hangs."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.adversarial.helpers import (
    KEYS,
    HungEndpoint,
    Receiver,
    assert_answers_normally,
    auth,
    closed_port_url,
    create,
    raw_exchange,
)
from tests.processes import RunningServer, serve

TURNS_PER_CLIENT = 60
SOAK_DEADLINE_SECONDS = 90.0
CLIENTS = 6
JSON = {"content-type": "application/json"}

HOSTILE_API = [
    ("POST", "/v1/videos", b'{"prompt": "a\\ud800"}'),
    ("POST", "/v1/videos", b'{"prompt": "x", "x": 1e400}'),
    ("POST", "/v1/videos", b'{"prompt": "x", "x": ' + b"9" * 4000 + b"}"),
    ("POST", "/v1/videos", b'{"prompt": "x", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"),
    ("POST", "/v1/videos", b'{"prompt": "x", "model": "' + b"m" * 100_000 + b'"}'),
    ("GET", "/v1/videos?limit=%C2%B2", b""),
    ("GET", "/v1/videos?limit=" + b"9".decode() * 5000, b""),
    ("GET", "/v1/videos?limit=%EF%BC%91", b""),
]
HOSTILE_CONTROL = [
    ("POST", "/__mock/faults", b'{"rate_limit": "10/1e400"}'),
    ("POST", "/__mock/clock/advance", b'{"seconds": 1e400}'),
    ("POST", "/__mock/clock/speed", b'{"speed": 1e400}'),
    ("POST", "/__mock/webhooks", b'{"url": "http://\\ud800/"}'),
    ("POST", "/__mock/webhooks", b'{"url": "http://127.0.0.1:9/", "backoff_seconds": 1e400}'),
    ("POST", "/__mock/webhooks/faults", b'{"mode": "late", "delay_seconds": 1e400}'),
    ("POST", "/__mock/outcomes", b'{"outcomes": ["completed"], "api_key": "\\ud800"}'),
    ("GET", "/__mock/journal?limit=%C2%B2", b""),
]
RAW = [
    b"FROB /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
]


def test_soak_mixed_valid_and_hostile_traffic() -> None:
    hung, receiver = HungEndpoint(), Receiver()
    try:
        with serve("--speed", "0", "--log-level", "warning") as server:
            _soak(server, hung, receiver)
    finally:
        hung.close()
        receiver.close()


def _soak(server: RunningServer, hung: HungEndpoint, receiver: Receiver) -> None:
    with httpx.Client(base_url=server.root, timeout=10) as client:
        for url in (hung.url, closed_port_url()):
            assert (
                client.post(
                    "/__mock/webhooks", json={"url": url, "api_key": KEYS[0], "backoff_seconds": 0.05}
                ).status_code
                == 201
            )
        assert client.post("/__mock/webhooks", json={"url": receiver.url, "api_key": KEYS[1]}).status_code == 201
    statuses: Counter[int] = Counter()
    bad_answers: list[str] = []
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    end = time.monotonic() + SOAK_DEADLINE_SECONDS
    unfinished: list[int] = []

    def note(response: httpx.Response) -> None:
        with lock:
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                bad_answers.append(
                    f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:200]}"
                )
            elif response.status_code >= 400 and "error" not in response.json():
                bad_answers.append(f"{response.request.url}: {response.status_code} without the envelope")

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=server.root, timeout=10) as client:
            for turn in range(TURNS_PER_CLIENT):
                if time.monotonic() > end:
                    unfinished.append(seed)
                    return
                key = KEYS[turn % 2]
                choice = rng.random()
                if choice < 0.4:
                    answer = create(client, key, prompt="soak [mock:duration=0]")
                    note(answer)
                    if answer.status_code == 200:
                        with lock:
                            acknowledged[answer.json()["id"]] = key
                elif choice < 0.55:
                    note(client.get("/v1/videos", headers=auth(key)))
                elif choice < 0.75:
                    method, path, body = rng.choice(HOSTILE_API)
                    note(client.request(method, path, content=body, headers={**auth(key), **JSON}))
                elif choice < 0.9:
                    method, path, body = rng.choice(HOSTILE_CONTROL)
                    note(client.request(method, path, content=body, headers=JSON))
                elif choice < 0.95:
                    note(
                        client.post(
                            "/__mock/faults", content=b'{"status": 503}', headers={"host": "attacker.example", **JSON}
                        )
                    )
                else:
                    raw_exchange(server.port, rng.choice(RAW), timeout=5)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client_loop, range(CLIENTS)))

    assert not unfinished, f"clients {unfinished} did not finish within {SOAK_DEADLINE_SECONDS}s"
    assert not bad_answers, bad_answers[:5]
    assert statuses[200] > 50, statuses
    with httpx.Client(base_url=server.root, timeout=10) as client:
        for video_id, key in acknowledged.items():
            got = client.get(f"/v1/videos/{video_id}", headers=auth(key))
            assert got.status_code == 200, (video_id, got.text)
    mine = {video_id for video_id, key in acknowledged.items() if key == KEYS[1]}
    missing = receiver.wait_for_videos(mine, deadline_s=30)  # a liveness bound on a busy machine
    if missing:
        example = httpx.get(
            f"{server.root}/__mock/webhooks/deliveries", params={"video_id": next(iter(missing))}
        ).json()
        raise AssertionError(f"{len(missing)} of {len(mine)} events never reached the receiver, e.g. {example}")
    assert_answers_normally(server)
