"""Bad input gets a clear 4xx in the OpenAI envelope naming the field; the contract drives it all."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.http.app import create_app
from mockserver.config import ServerConfig

AUTH = {"Authorization": "Bearer sk-validation"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(ServerConfig(speed=0, max_upload_bytes=64 * 1024)))


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    return body


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"model": "sora-2"}, "prompt", "missing_required_parameter"),
        ({"prompt": "x", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "x", "size": "640x480"}, "size", "invalid_value"),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
        ({"prompt": ""}, "prompt", "string_below_min_length"),
    ],
)
def test_multipart_field_errors_name_the_field(client: TestClient, fields: dict[str, str], param: str, code: str) -> None:
    files = {name: (None, value) for name, value in fields.items()}
    body = error(client.post("/v1/videos", headers=AUTH, files=files), 400)
    assert (body["param"], body["code"], body["type"]) == (param, code, "invalid_request_error")


def test_a_field_sent_twice_is_refused_and_an_unknown_one_is_ignored(client: TestClient) -> None:
    twice = [("prompt", (None, "x")), ("model", (None, "sora-2")), ("model", (None, "sora-2-pro"))]
    body = error(client.post("/v1/videos", headers=AUTH, files=twice), 400)
    assert (body["param"], body["code"]) == ("model", "duplicate_field")
    unknown_twice = [("prompt", (None, "x")), ("tag", (None, "a")), ("tag", (None, "b"))]
    assert client.post("/v1/videos", headers=AUTH, files=unknown_twice).status_code == 200


def test_json_type_errors_and_non_object_bodies(client: TestClient) -> None:
    assert error(client.post("/v1/videos", headers=AUTH, json={"prompt": "x", "seconds": 8}), 400)["param"] == "seconds"
    assert error(client.post("/v1/videos", headers=AUTH, json=["prompt"]), 400)["code"] == "invalid_json"
    broken = client.post("/v1/videos", headers={**AUTH, "Content-Type": "application/json"}, content=b"{nope")
    assert error(broken, 400)["code"] == "invalid_json"


def test_malformed_multipart_is_a_400_not_a_500(client: TestClient) -> None:
    no_boundary = client.post("/v1/videos", headers={**AUTH, "Content-Type": "multipart/form-data"}, content=b"garbage")
    assert error(no_boundary, 400)["code"] == "invalid_multipart"
    truncated = client.post(
        "/v1/videos",
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhello',
    )
    assert truncated.status_code == 400


def test_upload_over_the_limit_is_413_and_the_server_keeps_working(client: TestClient) -> None:
    big = {"prompt": (None, "x"), "input_reference": ("big.png", b"\x89PNG" + b"\0" * 100_000, "image/png")}
    body = error(client.post("/v1/videos", headers=AUTH, files=big), 413)
    assert body["code"] == "file_too_large"
    small = client.post("/v1/videos", headers=AUTH, files={"prompt": (None, "after the big one")})
    assert small.status_code == 200 and small.json()["prompt"] == "after the big one"


def test_unsupported_content_type_says_what_to_send(client: TestClient) -> None:
    body = error(client.post("/v1/videos", headers={**AUTH, "Content-Type": "text/plain"}, content=b"prompt=x"), 400)
    assert "multipart/form-data" in body["message"] and "application/json" in body["message"]


def test_content_supports_range_and_head(client: TestClient) -> None:
    video = client.post("/v1/videos", headers=AUTH, json={"prompt": "ranges"}).json()
    full = client.get(f"/v1/videos/{video['id']}/content", headers=AUTH)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.headers["content-disposition"].startswith("attachment")
    assert int(full.headers["content-length"]) == len(full.content)
    part = client.get(f"/v1/videos/{video['id']}/content", headers={**AUTH, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == full.content[:100]
    head = client.head(f"/v1/videos/{video['id']}/content", headers=AUTH)
    assert head.status_code == 200 and head.headers["content-length"] == full.headers["content-length"]
    assert error(client.get(f"/v1/videos/{video['id']}/content?variant=poster", headers=AUTH), 400)["param"] == "variant"


def test_the_docs_contract_changes_the_vocabulary_and_the_endpoints() -> None:
    docs = TestClient(create_app(ServerConfig(spec="docs", speed=1)))
    created = docs.post("/v1/videos", headers=AUTH, files={"prompt": (None, "docs")}).json()
    assert created["status"] == "queued"
    assert "prompt" not in created  # the docs page's Video has no prompt field
    app = docs.app
    app.state.server.clock.advance(2.5)
    assert docs.get(f"/v1/videos/{created['id']}", headers=AUTH).json()["status"] == "processing"
    assert docs.get("/v1/videos", headers=AUTH).status_code in (404, 405)  # the page has no list endpoint
