"""The control API's own surface: its spec, clear errors on bad input, clock moves, and the no-socket fixture."""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from openapi_spec_validator import validate
from starlette.routing import Route

from mockserver.client import MockControlError
from mockserver.control.routes import control_routes
from mockserver.pytest_plugin import MockServerHandle


CONTROL_YAML = Path(__file__).resolve().parent.parent / "openapi" / "control.yaml"
DEADLINE_SECONDS = 10.0


def test_the_served_control_spec_is_valid_openapi_31_and_documents_every_control_route(mockserver: MockServerHandle) -> None:
    import httpx

    response = httpx.get(f"{mockserver.root_url}/__mock/openapi.yaml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    validate(document)
    assert document["openapi"].startswith("3.1")
    app = mockserver_app_routes()
    # `mockserver proxy` serves the paths marked x-served-by: proxy (tests/test_proxy.py holds it to them).
    documented = {
        (method.upper(), path)
        for path, ops in document["paths"].items()
        if ops.get("x-served-by") != "proxy"
        for method in ops
        if not method.startswith("x-")
    }
    served = set()
    for path, methods in app:
        if path == "/__mock/clock/{action}":
            assert {p for _, p in documented if p.startswith("/__mock/clock/")} == {
                f"/__mock/clock/{a}" for a in ("freeze", "unfreeze", "advance", "speed", "real")
            }
            served |= {(m, p) for m, p in documented if p.startswith("/__mock/clock/")}
            continue
        for method in methods - {"HEAD"}:
            assert (method, path) in documented, f"{method} {path} is served but not in openapi/control.yaml"
            served.add((method, path))
    assert documented <= served, f"documented but not served: {sorted(documented - served)}"


def mockserver_app_routes() -> list[tuple[str, set[str]]]:
    """Every /__mock route the app mounts (control_routes, webhook_routes, whatever app.py adds next)."""
    from mockserver.http.app import create_app
    from mockserver.config import ServerConfig

    app = create_app(ServerConfig())
    mounted = [(r.path, set(r.methods or ())) for r in app.routes if isinstance(r, Route) and r.path.startswith("/__mock/")]
    # Both route tables must be among them, so a change in how the app is put together cannot empty this list.
    server = app.state.server
    tables = {r.path for r in control_routes(server.control) if isinstance(r, Route)}
    assert tables <= {path for path, _ in mounted}, sorted(tables - {path for path, _ in mounted})
    return mounted


def _closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others, so that a field the
    server sends but the document does not declare fails validation instead of passing unnoticed."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict) and "additionalProperties" not in schema:
        closed["unevaluatedProperties"] = False
    return closed


class ControlDocument:
    """Checks real answers against the response schemas of openapi/control.yaml, #/components refs resolved."""

    URI = "urn:mockserver:control"

    def __init__(self) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = yaml.safe_load(CONTROL_YAML.read_text(encoding="utf-8"))
        resource = Resource.from_contents(_closed(copy.deepcopy(self.document)), default_specification=DRAFT202012)
        self.registry = Registry().with_resource(self.URI, resource)

    def check(self, method: str, path: str, response: Any) -> None:
        from jsonschema import Draft202012Validator

        assert method.lower() in self.document["paths"].get(path, {}), f"{method} {path} is not in openapi/control.yaml"
        documented = self.document["paths"][path][method.lower()]["responses"]
        assert str(response.status_code) in documented, f"{method} {path} answered {response.status_code}, which the document does not list"
        answer = documented[str(response.status_code)]
        pointer = ["paths", path, method.lower(), "responses", str(response.status_code)]
        if "$ref" in answer:  # a shared response under #/components/responses
            pointer = answer["$ref"].removeprefix("#/").split("/")
            answer = self.document[pointer[0]][pointer[1]][pointer[2]]
        assert "application/json" in answer["content"] and response.headers["content-type"].startswith("application/json")
        escaped = "/".join(part.replace("~", "~0").replace("/", "~1") for part in [*pointer, "content", "application/json", "schema"])
        validator = Draft202012Validator({"$ref": f"{self.URI}#/{escaped}"}, registry=self.registry)
        errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(response.json())]
        assert not errors, f"{method} {path} {response.status_code} does not match openapi/control.yaml: {errors}"


def test_real_control_answers_match_the_documented_schemas(mockserver: MockServerHandle) -> None:
    """Health, a webhook registration and the deliveries it leads to (one delivered, one given up),
    the journal that recorded them, and the webhook errors, as a running fake sends them."""
    import httpx

    from tests.test_webhooks import Receiver

    doc = ControlDocument()
    root = mockserver.root_url
    receiver = Receiver()
    with socket.socket() as probe:  # a loopback port with nobody listening: every attempt fails
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    try:
        with httpx.Client(base_url=root, timeout=10) as http:
            health = http.get("/__mock/health")
            doc.check("GET", "/__mock/health", health)
            assert health.json()["store"] == "memory:" and health.json()["pid"] > 0

            registered = http.post("/__mock/webhooks", json={"url": receiver.url, "api_key": mockserver.api_key})
            doc.check("POST", "/__mock/webhooks", registered)
            endpoint = registered.json()
            assert (endpoint["owner"], endpoint["source"]) == (mockserver.owner, "runtime")
            dead = http.post("/__mock/webhooks", json={"url": dead_url, "api_key": mockserver.api_key, "max_attempts": 1, "secret": endpoint["secret"]})
            doc.check("POST", "/__mock/webhooks", dead)
            doc.check("GET", "/__mock/webhooks", http.get("/__mock/webhooks", params={"owner": mockserver.owner}))

            fault = http.post("/__mock/webhooks/faults", json={"mode": "late", "delay_seconds": 0, "endpoint": endpoint["id"]})
            doc.check("POST", "/__mock/webhooks/faults", fault)
            doc.check("GET", "/__mock/webhooks/faults", http.get("/__mock/webhooks/faults"))

            video = mockserver.client().videos.create(model="sora-2", prompt="documented", extra_headers={"X-Mock-Duration": "0"})
            deadline = time.monotonic() + DEADLINE_SECONDS
            while True:
                deliveries = http.get("/__mock/webhooks/deliveries", params={"video_id": video.id})
                settled = [d for d in deliveries.json()["data"] if d["status"] != "pending"]
                if len(settled) == 2:
                    break
                assert time.monotonic() < deadline, deliveries.json()
                time.sleep(0.02)  # a poll interval, bounded by the deadline above
            doc.check("GET", "/__mock/webhooks/deliveries", deliveries)
            by_url = {d["url"]: d for d in deliveries.json()["data"]}
            assert (by_url[receiver.url]["status"], by_url[receiver.url]["fault"]) == ("delivered", "late")
            assert by_url[dead_url]["status"] == "failed" and by_url[dead_url]["attempts"][0]["status_code"] is None

            journal = http.get("/__mock/journal", params={"owner": mockserver.owner})
            doc.check("GET", "/__mock/journal", journal)
            assert {e["path"] for e in journal.json()["data"]} >= {"/v1/videos", receiver.url, dead_url}

            for method, path, call in [
                ("POST", "/__mock/webhooks", lambda: http.post("/__mock/webhooks", json={"url": "ftp://example.invalid"})),
                ("POST", "/__mock/webhooks/faults", lambda: http.post("/__mock/webhooks/faults", json={"mode": "late", "endpoint": "we_missing"})),
                ("DELETE", "/__mock/webhooks/{endpoint_id}", lambda: http.delete("/__mock/webhooks/we_missing")),
                ("DELETE", "/__mock/webhooks/{endpoint_id}", lambda: http.delete(f"/__mock/webhooks/{dead.json()['id']}")),
                ("DELETE", "/__mock/webhooks", lambda: http.delete("/__mock/webhooks", params={"owner": mockserver.owner})),
            ]:
                doc.check(method, path, call())
    finally:
        receiver.close()


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


def test_nan_and_infinity_are_refused_and_leave_the_fake_working(mockserver: MockServerHandle) -> None:
    import httpx

    root = mockserver.root_url
    for path, body in [
        ("/__mock/clock/advance", b'{"seconds": NaN}'),
        ("/__mock/clock/speed", b'{"speed": Infinity}'),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "backoff_seconds": NaN}'),
        ("/v1/videos", b'{"prompt": "x", "seconds": -Infinity}'),
    ]:
        answer = httpx.post(f"{root}{path}", content=body, headers={"content-type": "application/json", "authorization": "Bearer sk-nan"})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["code"] == "invalid_json"
    # Nothing was half-accepted: the clock reads, and no endpoint was saved.
    assert httpx.get(f"{root}/__mock/clock").status_code == 200
    listed = httpx.get(f"{root}/__mock/webhooks")
    assert listed.status_code == 200 and all(e["url"] != "http://127.0.0.1:9/hook" for e in listed.json()["data"])


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
