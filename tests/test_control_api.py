"""The control API's own surface: its spec, clear errors on bad input, clock moves, and the no-socket fixture."""

from __future__ import annotations

import asyncio

import openai
import pytest
import yaml
from openapi_spec_validator import validate
from starlette.routing import Route

from mockserver.client import MockControlError
from mockserver.control import control_routes
from mockserver.pytest_plugin import MockServerHandle


def test_the_served_control_spec_is_valid_openapi_31_and_documents_every_control_route(mockserver: MockServerHandle) -> None:
    import httpx

    response = httpx.get(f"{mockserver.root_url}/__mock/openapi.yaml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    validate(document)
    assert document["openapi"].startswith("3.1")
    app = mockserver_app_routes()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    for path, methods in app:
        if path == "/__mock/clock/{action}":
            assert {p for _, p in documented if p.startswith("/__mock/clock/")} == {
                f"/__mock/clock/{a}" for a in ("freeze", "unfreeze", "advance", "speed", "real")
            }
            continue
        for method in methods - {"HEAD"}:
            assert (method, path) in documented, f"{method} {path} is served but not in openapi/control.yaml"


def mockserver_app_routes() -> list[tuple[str, set[str]]]:
    from mockserver.app import Server
    from mockserver.config import ServerConfig

    routes = control_routes(Server(ServerConfig()))
    return [(r.path, set(r.methods or ())) for r in routes if isinstance(r, Route)]


@pytest.mark.parametrize(
    "call, param",
    [
        (lambda m: m.outcomes.push("exploded"), "outcomes"),
        (lambda m: m.outcomes.push("failed:NOT OK"), "outcomes"),
        (lambda m: m.outcomes.push("completed", duration=-1), "duration"),
        (lambda m: m.clock.advance(-5), "seconds"),
        (lambda m: m.clock.set_speed(-1), "speed"),
        (lambda m: m.control.call("POST", "/__mock/clock/advance", {"seconds": "soon"}), "seconds"),
        (lambda m: m.faults.add(path="/v1/videos", status=418), "status"),
        (lambda m: m.faults.add(path="/v1/videos", status=500, probability=2), "probability"),
        (lambda m: m.faults.add(path="/v1/videos"), "faults"),  # a rule that does nothing
        (lambda m: m.faults.add(path="/__mock/reset", status=500), "path"),
        (lambda m: m.faults.add(path="/v1/videos", status=429, retry_after=0), "retry_after"),
        (lambda m: m.faults.add(path="/v1/videos", colour="red"), "colour"),
        (lambda m: m.faults.add(rate_limit="ten per minute"), "rate_limit.requests"),
        (lambda m: m.journal.find(status="teapot"), "status"),  # type: ignore[arg-type]
    ],
)
def test_bad_control_input_is_a_400_in_the_openai_envelope_naming_the_field(mockserver: MockServerHandle, call, param) -> None:
    with pytest.raises(MockControlError) as err:
        call(mockserver)
    assert err.value.status == 400
    assert set(err.value.error) == {"message", "type", "param", "code"}
    assert err.value.error["param"] == param
    assert err.value.error["message"]


def test_malformed_json_and_unknown_control_paths_are_clear_errors(mockserver: MockServerHandle) -> None:
    import httpx

    bad = httpx.post(f"{mockserver.root_url}/__mock/outcomes", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    unknown = httpx.post(f"{mockserver.root_url}/__mock/clock/rewind")
    assert unknown.status_code == 404 and "advance" in unknown.json()["error"]["message"]
    missing = httpx.delete(f"{mockserver.root_url}/__mock/faults/fault_999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "fault_not_found"


def test_freeze_speed_and_real_time(mockserver: MockServerHandle) -> None:
    clock = mockserver.clock
    frozen = clock.describe()
    assert frozen["frozen"] is True  # the fixture froze it
    assert clock.now() == frozen["now"]  # frozen means frozen
    assert clock.advance(90)["now"] == pytest.approx(frozen["now"] + 90)
    assert clock.set_speed(10)["speed"] == 10
    assert clock.unfreeze()["frozen"] is False
    real = clock.real()
    assert (real["frozen"], real["speed"]) == (False, 1.0) and abs(real["offset"]) < 1


def test_faults_can_be_listed_replaced_and_removed_one_by_one(mockserver: MockServerHandle) -> None:
    first, second = mockserver.faults.add({"path": "/v1/videos", "status": 500}, {"path": "/v1/videos/*", "latency_ms": 1})
    assert [f["id"] for f in mockserver.faults.list()] == [first["id"], second["id"]]
    assert first["owner"] == mockserver.owner  # scoped to this test's key by the fixture's client
    mockserver.faults.remove(first["id"])
    assert [f["id"] for f in mockserver.faults.list()] == [second["id"]]
    (replacement,) = mockserver.faults.set(path="/v1/videos", status=503, times=1)
    assert [f["id"] for f in mockserver.faults.list()] == [replacement["id"]]
    with pytest.raises(openai.InternalServerError):
        mockserver.client(max_retries=0).videos.list()
    mockserver.client(max_retries=0).videos.list()  # times=1: spent
    entries = mockserver.journal.find(path="/v1/videos")
    assert [(e["status"], e["fault"]) for e in entries] == [(503, replacement["id"]), (200, None)]


def test_latency_fault_delays_and_is_journaled_with_its_id(mockserver: MockServerHandle) -> None:
    (rule,) = mockserver.faults.add(method="GET", path="/v1/videos", latency_ms=20)
    mockserver.client().videos.list()
    (entry,) = mockserver.journal.find(path="/v1/videos")
    assert (entry["status"], entry["fault"]) == (200, rule["id"])


def test_a_key_scoped_reset_keeps_other_keys_jobs(mockserver: MockServerHandle) -> None:
    from mockserver.client import MockControl

    other_key = "sk-test-neighbour-suite"
    neighbour = openai.OpenAI(base_url=mockserver.base_url, api_key=other_key)
    theirs = neighbour.videos.create(prompt="theirs")
    mine = mockserver.client().videos.create(prompt="mine")
    assert mockserver.control.reset()["reset"] == "owner"  # a client with a key resets that key only
    with pytest.raises(openai.NotFoundError):
        mockserver.client(max_retries=0).videos.retrieve(mine.id)
    assert neighbour.videos.retrieve(theirs.id).id == theirs.id
    assert len(MockControl(mockserver.root_url, api_key=other_key).journal.find()) == 2


def test_mockserver_asgi_serves_the_sync_sdk_with_no_socket(mockserver_asgi: MockServerHandle) -> None:
    sdk = mockserver_asgi.client()
    video = sdk.videos.create(model="sora-2", prompt="in process", size="1280x720", seconds="4")
    mockserver_asgi.clock.advance(60)
    assert sdk.videos.retrieve(video.id).status == "completed"
    assert sdk.videos.download_content(video.id).content[4:8] == b"ftyp"
    (sent,) = mockserver_asgi.journal.find(method="POST")
    assert sent["body"]["size"] == "1280x720"
    assert mockserver_asgi.base_url == "http://testserver/v1"


def test_mockserver_asgi_serves_the_async_sdk_too(mockserver_asgi: MockServerHandle) -> None:
    mockserver_asgi.outcomes.push("failed:content_policy_violation", duration=0)

    async def run() -> openai.types.Video:
        async with mockserver_asgi.async_client() as sdk:
            return await sdk.videos.create_and_poll(prompt="async, no socket")

    video = asyncio.run(run())
    assert video.status == "failed" and video.error is not None and video.error.code == "content_policy_violation"
