"""Errors the HTTP layer finds are the OpenAI envelope too: bad requests, bad Content-Length, bad Range
(#23 item 10)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.adversarial.helpers import (
    KEYS,
    assert_answers_normally,
    assert_envelope,
    auth,
    create,
    http,
    parse_raw_response,
    raw_exchange,
)
from tests.processes import RunningServer

HOST = b"Host: 127.0.0.1\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"FROB /v1/videos HTTP/1.1\r\n" + HOST + b"\r\n",
        b"POST /v1/videos HTTP/1.1\r\n" + HOST + b"Content-Length: abc\r\n\r\n",
        b"POST /v1/videos HTTP/1.1\r\n" + HOST + b"Content-Length: 99999999999999999999999\r\n\r\n",
        b"POST /v1/videos HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /v1/videos HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello on the plain port
    ],
    ids=[
        "unknown-method",
        "content-length-abc",
        "content-length-huge",
        "content-length-and-chunked",
        "two-content-lengths",
        "malformed-header",
        "tls-on-plain-http",
    ],
)
def test_a_request_the_parser_refuses_is_a_400_envelope(server: RunningServer, request_bytes: bytes) -> None:
    status, headers, body = parse_raw_response(raw_exchange(server.port, request_bytes))
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error", error
    assert error["code"] == "invalid_http_request"
    assert_answers_normally(server)


def test_an_unknown_method_the_parser_accepts_is_a_405_envelope(server: RunningServer) -> None:
    with http(server) as client:
        assert_envelope(client.request("PATCH", "/v1/videos", headers=auth(KEYS[0])), 405, None, "method_not_allowed")
    assert_answers_normally(server)


@pytest.fixture(scope="module")
def video(server: RunningServer) -> str:
    with http(server) as client:
        return str(create(client, KEYS[0]).json()["id"])


@pytest.mark.parametrize(
    ("range_header", "status"),
    [("bytes=abc", 400), ("pages=0-1", 400), ("bytes=5-1", 400), ("bytes=999999999-", 416), ("bytes=", 400)],
)
def test_a_bad_range_is_an_envelope(server: RunningServer, video: str, range_header: str, status: int) -> None:
    with http(server) as client:
        answer = client.get(f"/v1/videos/{video}/content", headers={**auth(KEYS[0]), "range": range_header})
        assert_envelope(answer, status, "range")
        if status == 416:
            assert answer.headers["content-range"].startswith("bytes */")
        good = client.get(f"/v1/videos/{video}/content", headers={**auth(KEYS[0]), "range": "bytes=0-3"})
        assert good.status_code == 206 and len(good.content) == 4
    assert_answers_normally(server)


def test_a_client_that_sends_half_a_body_and_goes_away_leaves_the_server_answering(server: RunningServer) -> None:
    raw_exchange(
        server.port,
        b"POST /v1/videos HTTP/1.1\r\n"
        + HOST
        + b"Authorization: Bearer "
        + KEYS[0].encode()
        + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":',
        timeout=2,
    )
    with httpx.Client(base_url=server.root, timeout=10) as client:
        assert client.get("/__mock/health").status_code == 200
    assert_answers_normally(server)
