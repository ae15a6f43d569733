"""One endpoint that never answers and one that refuses connections cannot take webhooks from anyone else
(#23 item 1)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.adversarial.helpers import (
    KEYS,
    HungEndpoint,
    Receiver,
    assert_answers_normally,
    closed_port_url,
    create,
    http,
)
from tests.processes import RunningServer


def register(client: httpx.Client, url: str, key: str, **options: object) -> dict:
    answer = client.post("/__mock/webhooks", json={"url": url, "api_key": key, **options})
    assert answer.status_code == 201, answer.text
    return answer.json()


def flood(server: RunningServer, key: str, count: int) -> None:
    def one(_: int) -> int:
        with http(server) as client:
            return create(client, key, prompt="flood [mock:duration=0]").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(count)))
    assert statuses == [200] * count


def healthy_receiver_gets_every_event(server: RunningServer, key: str) -> None:
    receiver = Receiver()
    try:
        with http(server) as client:
            register(client, receiver.url, key)
            ids = {create(client, key, prompt="watched [mock:duration=0]").json()["id"] for _ in range(10)}
        assert receiver.wait_for_videos(ids) == set()
    finally:
        receiver.close()


def test_a_hung_and_a_closed_endpoint_do_not_starve_another_keys_receiver(server: RunningServer) -> None:
    hung = HungEndpoint()
    try:
        with http(server) as client:
            register(client, hung.url, KEYS[0], timeout_seconds=30, max_attempts=5)
            register(client, closed_port_url(), KEYS[0], backoff_seconds=0.05)
        flood(server, KEYS[0], 400)
        assert_answers_normally(server)
        healthy_receiver_gets_every_event(server, KEYS[1])
        with http(server) as client:
            pending = [d for d in client.get("/__mock/webhooks/deliveries").json()["data"] if d["url"] == hung.url]
        # The hung endpoint holds at most its own few connections; the rest of its deliveries wait in its queue.
        assert len(hung.accepted) <= 8, len(hung.accepted)
        assert pending and all(d["status"] == "pending" for d in pending[-10:]), pending[-1:]
    finally:
        hung.close()
    assert_answers_normally(server)


def test_reset_cures_a_stuck_endpoint(server: RunningServer) -> None:
    hung = HungEndpoint()
    try:
        with http(server) as client:
            register(client, hung.url, KEYS[0], timeout_seconds=60)
        flood(server, KEYS[0], 50)
        with http(server) as client:
            assert client.post("/__mock/reset", json={}).status_code == 200
            assert client.get("/__mock/webhooks").json()["data"] == []
        healthy_receiver_gets_every_event(server, KEYS[0])
        healthy_receiver_gets_every_event(server, KEYS[1])
    finally:
        hung.close()
    assert_answers_normally(server)


def test_an_endpoint_that_accepts_and_trickles_is_cut_off_by_its_timeout(server: RunningServer) -> None:
    """A receiver that never finishes its answer costs the delivery its timeout, then a failed attempt."""
    hung = HungEndpoint()
    try:
        with http(server) as client:
            endpoint = register(client, hung.url, KEYS[1], timeout_seconds=0.5, max_attempts=1)
            video = create(client, KEYS[1], prompt="cut off [mock:duration=0]").json()["id"]
            deadline = httpx.Timeout(10.0)
            with httpx.Client(base_url=server.root, timeout=deadline) as poller:
                import time

                end = time.monotonic() + 15
                found: list[dict] = []
                while time.monotonic() < end:
                    found = [
                        d
                        for d in poller.get(
                            "/__mock/webhooks/deliveries", params={"endpoint": endpoint["id"], "video_id": video}
                        ).json()["data"]
                    ]
                    if found and found[0]["status"] != "pending":
                        break
                    time.sleep(0.05)  # a poll interval, bounded by the deadline above
            assert found and found[0]["status"] == "failed", found
            assert "Timeout" in found[0]["attempts"][0]["error"], found
            client.delete(f"/__mock/webhooks/{endpoint['id']}")
    finally:
        hung.close()
    assert_answers_normally(server)
