"""Which answer a request gets for each path and method: the API's operations, HEAD, 404, 405, redirects.

The request pipeline (mockserver/http/pipeline.py) answers the contract's operations itself and hands
everything else to Starlette's Router; these tests hold both to what a client sees, and hold the
pipeline's steps (headers, faults, journal, error rendering) to applying the same way to either.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from mockserver.http.app import create_app
from mockserver.config import ServerConfig
from mockserver.store import StoreError

AUTH = {"Authorization": "Bearer sk-routing"}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(ServerConfig(seed=3)), raise_server_exceptions=False) as client:
        yield client


def pending_video(client: TestClient) -> str:
    response = client.post("/v1/videos", headers={**AUTH, "X-Mock-Duration": "3600"}, json={"prompt": "routing"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["code"] == code
    assert response.headers["x-request-id"].startswith("req_")  # every answer, a bug's 500 too
    assert response.headers["openai-version"] == "2020-10-01"
    return body


def journaled(client: TestClient, method: str, path: str) -> list[Any]:
    return client.app.state.server.journal.find(method=method, path=path)  # type: ignore[attr-defined]


def test_head_on_a_poll_has_the_get_headers_and_no_body(client: TestClient) -> None:
    video_id = pending_video(client)
    got = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    head = client.head(f"/v1/videos/{video_id}", headers=AUTH)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "openai-poll-after-ms", "openai-version"):
        assert head.headers[name] == got.headers[name]
    assert head.headers["x-request-id"] != got.headers["x-request-id"]
    assert [entry.status for entry in journaled(client, "HEAD", f"/v1/videos/{video_id}")] == [200]


def test_a_wrong_method_on_an_operation_is_405_naming_the_allowed_ones(client: TestClient) -> None:
    video_id = pending_video(client)
    response = client.put(f"/v1/videos/{video_id}", headers=AUTH)
    body = error(response, 405, "method_not_allowed")
    assert "PUT" in body["message"]
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    listing = client.patch("/v1/videos", headers=AUTH)
    error(listing, 405, "method_not_allowed")
    assert set(listing.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert [entry.status for entry in journaled(client, "PUT", f"/v1/videos/{video_id}")] == [405]


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/videos/video_1/content/extra", "/v2/videos", "/"])
def test_an_unknown_path_is_404_saying_where_the_api_is(client: TestClient, path: str) -> None:
    body = error(client.get(path, headers=AUTH), 404, "unknown_url")
    assert path in body["message"] and "/v1/videos" in body["message"]
    assert [entry.status for entry in journaled(client, "GET", path)] == [404]


def test_a_trailing_slash_redirects_to_the_operation(client: TestClient) -> None:
    video_id = pending_video(client)
    response = client.get(f"/v1/videos/{video_id}/", headers=AUTH, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith(f"/v1/videos/{video_id}")
    assert client.get(f"/v1/videos/{video_id}/", headers=AUTH).json()["id"] == video_id


def test_a_literal_path_wins_over_a_template(client: TestClient) -> None:
    # POST /v1/videos/characters creates a character; it is not a remix-like call on a video "characters".
    upload = {"name": (None, "Ada"), "video": ("ada.mp4", b"\0" * 16, "video/mp4")}
    created = client.post("/v1/videos/characters", headers=AUTH, files=upload)
    assert created.status_code == 200 and created.json()["id"].startswith("char_")
    fetched = client.get(f"/v1/videos/characters/{created.json()['id']}", headers=AUTH)
    assert fetched.json()["name"] == "Ada"


def test_an_injected_error_on_a_poll_is_answered_in_the_envelope_and_journaled(client: TestClient) -> None:
    video_id = pending_video(client)
    added = client.post("/__mock/faults", json={"method": "GET", "path": "/v1/videos/{id}", "status": 503, "times": 1})
    fault_id = added.json()["faults"][0]["id"]
    error(client.get(f"/v1/videos/{video_id}", headers=AUTH), 503, "service_unavailable")
    assert client.get(f"/v1/videos/{video_id}", headers=AUTH).status_code == 200
    entries = journaled(client, "GET", f"/v1/videos/{video_id}")
    assert [(e.status, e.fault) for e in entries] == [(503, fault_id), (200, None)]


def test_a_rate_limit_on_polls_adds_headers_then_refuses_and_every_poll_is_journaled(client: TestClient) -> None:
    video_id = pending_video(client)
    client.post("/__mock/faults", json={"path": "/v1/videos/*", "rate_limit": "2/60"})
    first = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["openai-poll-after-ms"].isdigit()
    assert client.get(f"/v1/videos/{video_id}", headers=AUTH).headers["x-ratelimit-remaining-requests"] == "0"
    refused = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    error(refused, 429, "rate_limit_exceeded")
    assert int(refused.headers["retry-after"]) >= 1
    assert [e.status for e in journaled(client, "GET", f"/v1/videos/{video_id}")] == [200, 200, 429]


def test_a_failing_store_during_a_poll_is_503_and_a_bug_is_500_both_journaled(client: TestClient) -> None:
    server = client.app.state.server  # type: ignore[attr-defined]

    def store_gone(owner: str, video_id: str) -> Any:
        raise StoreError("connection refused")

    def bug(owner: str, video_id: str) -> Any:
        raise RuntimeError("a bug")

    server.service.get = store_gone
    body = error(client.get("/v1/videos/video_a", headers=AUTH), 503, "store_unavailable")
    assert "connection refused" in body["message"]
    server.service.get = bug
    error(client.get("/v1/videos/video_b", headers=AUTH), 500, "internal_error")
    assert [e.status for e in journaled(client, "GET", "/v1/videos/video_a")] == [503]
    assert [e.status for e in journaled(client, "GET", "/v1/videos/video_b")] == [500]


def test_a_store_failing_before_the_handler_runs_is_503_and_journaled(client: TestClient) -> None:
    # The pipeline reads the fault rules from the store before any handler runs: a store that
    # fails there is the same 503 as one failing in a handler, not uvicorn's bare 500.
    server = client.app.state.server  # type: ignore[attr-defined]

    def store_gone(method: str, path: str, headers: Any) -> Any:
        raise StoreError("connection reset")

    server.faults.decide = store_gone
    body = error(client.get("/v1/videos/video_c", headers=AUTH), 503, "store_unavailable")
    assert "connection reset" in body["message"]
    error(client.get("/v1/nothing-here", headers=AUTH), 503, "store_unavailable")  # a path the Router answers
    assert [e.status for e in journaled(client, "GET", "/v1/videos/video_c")] == [503]


def test_a_bug_in_the_control_api_is_a_500_envelope_with_a_request_id_and_not_journaled(client: TestClient) -> None:
    server = client.app.state.server  # type: ignore[attr-defined]

    def bug() -> Any:
        raise RuntimeError("a bug in health")

    server.health = bug
    error(client.get("/__mock/health"), 500, "internal_error")
    assert journaled(client, "GET", "/__mock/health") == []  # the control API is never journaled


def test_a_poll_answers_each_state_of_the_job_as_the_clock_moves(client: TestClient) -> None:
    # Poll answers are remembered per job and state: each change of state must still show.
    video_id = pending_video(client)  # 3600 s: 900 queued, then 2700 rendering
    client.post("/__mock/clock/freeze")
    seen = []
    for step in (0, 1000, 1000, 1000, 1000):
        client.post("/__mock/clock/advance", json={"seconds": step})
        for _ in range(2):  # the second poll of a state gets the same answer as the first
            body = client.get(f"/v1/videos/{video_id}", headers=AUTH).json()
            seen.append((body["status"], body["progress"]))
    assert seen == [
        ("queued", 0), ("queued", 0), ("in_progress", 3), ("in_progress", 3), ("in_progress", 40), ("in_progress", 40),
        ("in_progress", 77), ("in_progress", 77), ("completed", 100), ("completed", 100),
    ]


def test_after_a_reset_a_seeded_server_reuses_an_id_and_polls_show_the_new_job(client: TestClient) -> None:
    # The same seed gives the same ids after a reset; an answer remembered for the old job must
    # never be given for the new one with the same id.
    first = client.post("/v1/videos", headers=AUTH, json={"prompt": "the first job"}).json()
    assert client.get(f"/v1/videos/{first['id']}", headers=AUTH).json()["prompt"] == "the first job"
    assert client.post("/__mock/reset").status_code == 200
    second = client.post("/v1/videos", headers=AUTH, json={"prompt": "the second job", "seconds": "8"}).json()
    assert second["id"] == first["id"]
    polled = client.get(f"/v1/videos/{second['id']}", headers=AUTH).json()
    assert (polled["prompt"], polled["seconds"]) == ("the second job", "8")


def test_the_journal_numbers_requests_from_one_again_after_a_reset_and_clears_by_key(client: TestClient) -> None:
    other = {"Authorization": "Bearer sk-routing-other"}
    client.get("/v1/videos", headers=AUTH)
    client.get("/v1/videos", headers=other)
    entries = client.get("/__mock/journal").json()["data"]
    assert [e["seq"] for e in entries] == [1, 2]
    other_owner = entries[1]["owner"]
    assert client.delete(f"/__mock/journal?owner={other_owner}").json()["removed"] == 1
    assert [e["key"] for e in client.get("/__mock/journal").json()["data"]] == ["sk-***"]
    client.post("/__mock/reset")
    client.get("/v1/videos", headers=AUTH)
    assert [e["seq"] for e in client.get("/__mock/journal").json()["data"]] == [1]
