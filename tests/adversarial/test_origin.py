"""A web page cannot drive the loopback control API: Host and Origin are checked, control writes are JSON
(#23 item 8)."""

from __future__ import annotations

import httpx
import pytest

from tests.adversarial.helpers import assert_answers_normally, assert_envelope, http
from tests.processes import RunningServer

FAULT = b'{"path": "/v1/videos", "status": 503}'


@pytest.mark.parametrize(
    ("headers", "param"),
    [
        ({"host": "attacker.example", "content-type": "application/json"}, "host"),
        ({"host": "attacker.example:8000", "content-type": "application/json"}, "host"),
        ({"origin": "http://attacker.example", "content-type": "application/json"}, "origin"),
        ({"origin": "null", "content-type": "application/json"}, "origin"),
        ({"host": "attacker.example", "origin": "http://attacker.example", "content-type": "text/plain"}, "host"),
    ],
    ids=["host", "host-port", "origin", "null-origin", "rebinding-form"],
)
def test_a_foreign_host_or_origin_is_refused_and_changes_nothing(
    server: RunningServer, headers: dict[str, str], param: str
) -> None:
    with http(server) as client:
        assert_envelope(client.post("/__mock/faults", content=FAULT, headers=headers), 403, param)
        assert client.get("/__mock/faults").json()["faults"] == []
        assert_envelope(client.get("/__mock/journal", headers=headers), 403, param)  # reading it is refused too
    assert_answers_normally(server)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_a_control_write_must_be_json(server: RunningServer, content_type: str | None) -> None:
    with http(server) as client:
        headers = {"content-type": content_type} if content_type else {}
        answer = client.post("/__mock/faults", content=FAULT, headers=headers)
        assert_envelope(answer, 415, None, "unsupported_content_type")
        assert client.get("/__mock/faults").json()["faults"] == []
    assert_answers_normally(server)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST", "app.localhost", "127.1.2.3", "[::1]"])
def test_loopback_names_are_welcome(server: RunningServer, host: str) -> None:
    port = server.port
    with httpx.Client(base_url=server.root, timeout=10) as client:
        answer = client.get("/__mock/clock", headers={"host": f"{host}:{port}", "origin": f"http://{host}:{port}"})
        assert answer.status_code == 200, answer.text
        empty = client.post("/__mock/clock/freeze", headers={"host": host})  # a write with no body needs no type
        assert empty.status_code == 200, empty.text
        assert client.post("/__mock/clock/real", json={}).status_code == 200
    assert_answers_normally(server)
