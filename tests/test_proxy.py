"""`mockserver proxy` in front of real server processes: forwarding unchanged, passive validation, reports.

In front of the fake (the reference) the proxy must find nothing in the official SDK's whole flow,
and the fake must receive exactly what the client sent, no more. In front of each dialect
(`serve --profile NAME`) it must find what `conform` finds in that dialect
(EXPECTED_CONFORMANCE_FAILURES, which tests/test_profiles_conform.py holds conform to), as far as
the proxy's checks reach and the traffic exercises them: the traffic below is what conform's
lifecycle phase sends, sent by someone other than the proxy.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import httpx
import openai
import pytest
from openai import OpenAI

from mockserver import profiles
from mockserver.conformance.lifecycle import phase_words
from mockserver.contract.loading import Contract
from mockserver.core.keys import mask
from mockserver.proxy.observe import passive_checks
from mockserver.resources import fixtures_dir
from tests.deviants import serve_deviant
from tests.processes import REPO, free_port, proxy, running, serve
from tests.test_control_api import ControlDocument

KEY = "sk-proxy-test-7f3a9c1e5b"
WORDS = phase_words(Contract.load("reference"))


class Recorder(httpx.HTTPTransport):
    """The SDK's own transport, noting every request it sends (method, path, query) in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.url.query.decode()))
        return super().handle_request(request)


def sdk_flow(base_url: str, transport: httpx.BaseTransport | None = None) -> dict[str, bytes]:
    """The official SDK's whole flow: create_and_poll, each variant, an upload, a remix, list, errors, delete."""
    client = OpenAI(base_url=base_url, api_key=KEY, max_retries=0, http_client=httpx.Client(transport=transport))
    video = client.videos.create_and_poll(model="sora-2", prompt="A calico cat playing a piano", seconds="4")
    assert video.status == "completed"
    media = {
        variant: client.videos.download_content(video.id, variant=variant).read()
        for variant in ("video", "thumbnail", "spritesheet")
    }
    image = fixtures_dir() / "spritesheet_1280x720.jpg"
    uploaded = client.videos.create(
        model="sora-2", prompt="From a picture", size="1280x720", input_reference=image.open("rb")
    )
    remix = client.videos.poll(client.videos.remix(video.id, prompt="The same cat, in the rain").id)
    assert remix.status == "completed"
    assert {v.id for v in client.videos.list()} >= {video.id, remix.id, uploaded.id}
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_0123456789abcdef0123456789abcdef")
    with pytest.raises(openai.BadRequestError):
        client.videos.create(model="sora-2", prompt="x", seconds="7")  # type: ignore[arg-type]
    client.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    media["upload"] = image.read_bytes()
    media["remix_id"] = remix.id.encode()
    return media


def violations(running_proxy) -> dict:
    """GET /__mock/violations, held to its schema in openapi/control.yaml."""
    response = httpx.get(f"{running_proxy.root}/__mock/violations", timeout=10)
    ControlDocument().check("GET", "/__mock/violations", response)
    return response.json()


def test_in_front_of_the_fake_the_sdk_flow_has_no_violations_and_the_fake_gets_exactly_the_clients_requests(
    tmp_path: Path,
) -> None:
    with (
        serve("--speed", "0.1", "--log-level", "warning") as upstream,
        proxy(upstream.base_url, "--report-dir", str(tmp_path)) as front,
    ):
        recorder = Recorder()
        media = sdk_flow(front.base_url, recorder)
        # A ranged download and a HEAD pass through as they are.
        content = f"{front.base_url}/videos/{media['remix_id'].decode()}/content"
        auth = {"Authorization": f"Bearer {KEY}"}
        part = httpx.get(content, headers={**auth, "Range": "bytes=0-99"})
        head = httpx.head(content, headers=auth)
        recorder.sent += [("GET", part.request.url.path, ""), ("HEAD", head.request.url.path, "")]
        seen = violations(front)
        journal = httpx.get(f"{upstream.root}/__mock/journal", params={"limit": 1000}).json()["data"]
        _, output = front.stop(signal.SIGTERM)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 100
    assert (
        part.status_code == 206 and part.headers["content-range"].startswith("bytes 0-99/") and len(part.content) == 100
    )
    assert seen["violations"] == [], seen["violations"]
    assert seen["exchanges"] == len(recorder.sent) and seen["jobs"] == 3
    # What arrived upstream is what the client sent, one for one and in order: the proxy adds no request of its own.
    assert [
        (e["method"], e["path"], "&".join(f"{k}={v[0]}" for k, v in e["query"].items())) for e in journal
    ] == recorder.sent
    assert {e["key"] for e in journal} == {mask(KEY)}  # the client's own key went upstream
    uploads = [e["uploads"] for e in journal if e["uploads"]]
    assert uploads[0]["input_reference"]["sha256"] == hashlib.sha256(media["upload"]).hexdigest()  # streamed whole
    assert "0 violation(s)" in output, output
    report = json.loads((tmp_path / "proxy-report.json").read_text())
    assert report["passed"] and report["violations"] == [] and report["checks"]["forward_transitions"]["passed"] >= 2
    suite = ET.parse(tmp_path / "proxy-junit.xml").getroot()
    assert suite.get("name") == "mockserver proxy" and suite.get("failures") == "0"
    assert KEY not in (tmp_path / "proxy-report.json").read_text() + output


def test_an_answer_passes_back_unchanged_with_only_an_x_request_id_added_when_missing(tmp_path: Path) -> None:
    with serve("--log-level", "warning") as upstream, proxy(upstream.base_url) as front:
        auth = {"Authorization": f"Bearer {KEY}"}
        direct = httpx.get(f"{upstream.base_url}/videos/video_missing", headers=auth)
        through = httpx.get(f"{front.base_url}/videos/video_missing", headers=auth)
    assert through.status_code == direct.status_code == 404 and through.content == direct.content
    assert through.headers["x-request-id"].startswith("req_")  # the fake's own, passed on
    drop = {"date", "x-request-id", "openai-processing-ms"}
    assert {k: v for k, v in through.headers.items() if k not in drop} == {
        k: v for k, v in direct.headers.items() if k not in drop
    }
    # An upstream that sends no x-request-id (Python's own file server): the proxy adds one, and nothing else.
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "note.txt").write_text("served as is\n")
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as files:
        try:
            plain = wait_for(f"http://127.0.0.1:{port}/v1/note.txt")
            with proxy(f"http://127.0.0.1:{port}/v1") as front:
                passed = httpx.get(f"{front.base_url}/note.txt")
        finally:
            files.terminate()
    assert "x-request-id" not in plain.headers and passed.headers["x-request-id"].startswith("req_")
    assert passed.content == plain.content == b"served as is\n"
    assert {k: v for k, v in passed.headers.items() if k not in drop} == {
        k: v for k, v in plain.headers.items() if k not in drop
    }


def wait_for(url: str, deadline_s: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # a poll interval, bounded by the deadline


def conform_traffic(base_url: str, duration: float = 0.6) -> None:
    """What conform's lifecycle phase sends (mockserver/conformance/lifecycle.py), sent by a client of the proxy."""
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.get("/videos")  # without a key
        client.get("/videos/video_conform_missing_0a1b2c", headers=auth)
        for role in ("completed", "failed"):
            headers = {**auth, "X-Mock-Duration": f"{duration:g}"}
            prompt = "A calico cat playing a piano on stage"
            if role == "failed":
                headers["X-Mock-Outcome"] = "failed:internal_error"
                prompt += " [mock:failed:internal_error]"
            form = {
                "model": (None, "sora-2"),
                "prompt": (None, prompt),
                "seconds": (None, "4"),
                "size": (None, "720x1280"),
            }
            created = client.post("/videos", headers=headers, files=form)
            path = f"/videos/{quote(created.json()['id'], safe='')}"
            if role == "completed":
                client.get(f"{path}/content", headers=auth)  # before it can be done
            deadline = time.monotonic() + 30
            for _ in range(300):
                status = client.get(path, headers=auth).json().get("status")
                phase = WORDS.get(status) if isinstance(status, str) else None
                if (phase is not None and phase.terminal) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)  # a poll interval, bounded by the loop and the deadline
            client.get(path, headers=auth)  # it stays terminal
            if role == "completed":
                for variant in ("video", "thumbnail", "spritesheet"):
                    client.get(f"{path}/content", params={"variant": variant}, headers=auth)
                client.get("/videos", headers=auth)
                client.delete(path, headers=auth)
                client.get(path, headers=auth)
            else:
                client.get(f"{path}/content", headers=auth)


@pytest.mark.parametrize("name", [name for name in profiles.NAMES if name != "reference"])
def test_in_front_of_each_dialect_the_proxy_reports_what_conform_reports(name: str, tmp_path: Path) -> None:
    with (
        serve("--profile", name, "--speed", "0", "--log-level", "warning") as upstream,
        proxy(upstream.base_url, "--report-dir", str(tmp_path)) as front,
    ):
        conform_traffic(front.base_url)
        seen = violations(front)
        _, output = front.stop(signal.SIGINT)
    expected = {check for check in profiles.expected_conformance_failures(name) if check in passive_checks()}
    flagged = set(seen["failed_checks"]) | set(seen["deviation_checks"])
    assert expected, f"{name}: nothing the proxy can check; the test would prove nothing"
    assert flagged == expected, {
        "unexplained": {v["check"]: v["actual"] for v in seen["violations"] if v["check"] not in expected},
        "missed": expected - flagged,
    }
    for violation in seen["violations"]:
        assert violation["request_id"] and violation["expected"] and violation["actual"]
        assert f"{violation['check']} [{violation['request_id']}]" in output  # printed live, one line each
    # The reports written on stop say the same: JUnit fails exactly the error checks, JSON lists every violation.
    report = json.loads((tmp_path / "proxy-report.json").read_text())
    assert report["violations"] == seen["violations"] and set(report["failed_checks"]) == set(seen["failed_checks"])
    failing = {
        case.get("name")
        for case in ET.parse(tmp_path / "proxy-junit.xml").getroot()
        if case.find("failure") is not None
    }
    assert failing == set(seen["failed_checks"]) and report["passed"] is (not seen["failed_checks"])


# The deviants whose check the proxy runs (tests/test_conform_deviants.py has conform's own list, which
# also holds deviations only conform's active probing can find).
@pytest.mark.parametrize(
    ("deviant", "check_name", "words"),
    [
        ("status_word", "status_vocabulary", "'processing'"),
        ("missing_field", "required_fields", "missing model"),
        ("seconds_int", "seconds_is_string", "seconds 4 (int)"),
        ("progress_backwards", "progress_monotonic", "progress"),
        ("completed_regresses", "terminal_is_final", "'completed' then 'in_progress'"),
        ("content_type", "content_media_type", "application/octet-stream"),
        ("content_early", "content_before_completion", "HTTP 200 video/mp4"),
        ("bare_errors", "error_envelope", 'not an {"error": {...}} object'),
        ("no_auth", "auth_required", "HTTP 200"),
    ],
)
def test_each_lifecycle_rule_is_caught_on_traffic_the_proxy_only_watches(
    deviant: str, check_name: str, words: str
) -> None:
    """The deviants of tests/test_conform_deviants.py, each behind the proxy: the same check trips, passively."""
    with serve_deviant(deviant) as upstream, proxy(upstream.base_url) as front:
        conform_traffic(front.base_url, duration=1.2)  # long enough to be polled while it runs
        seen = violations(front)
    found = [v for v in seen["violations"] if v["check"] == check_name]
    assert found, (check_name, [v["check"] for v in seen["violations"]])
    assert words in found[0]["actual"] and found[0]["request_id"].startswith("req_")
    assert KEY not in json.dumps(seen) and found[0]["curl"].startswith("curl ")


def test_answers_a_gateway_compresses_are_judged_and_recorded_decoded(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.gzip_fake:app", "--port", str(port), "--log-level", "warning"]
    cassette = tmp_path / "cassette"
    with (
        running(command, port, env={"PYTHONPATH": str(REPO)}) as upstream,
        proxy(upstream.base_url, "--record", str(cassette)) as front,
    ):
        media = sdk_flow(front.base_url)
        seen = violations(front)
        auth = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": "gzip"}
        download = httpx.get(f"{front.base_url}/videos/{media['remix_id'].decode()}/content", headers=auth)
    assert download.headers["content-encoding"] == "gzip"  # passed on as the upstream encoded it
    assert seen["violations"] == [] and seen["jobs"] == 3  # every JSON answer was read, decoded
    stored = {path.read_bytes() for path in (cassette / "media").iterdir()}
    assert {media["video"], media["thumbnail"], media["spritesheet"], download.content} <= stored  # decoded
