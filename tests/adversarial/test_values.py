"""Values that parse but cannot be stored or answered are refused before anything is stored
(#23 items 2, 3, 6, 9, 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adversarial.helpers import KEYS, assert_answers_normally, assert_envelope, auth, create, http
from tests.processes import RunningServer, serve

LONE_SURROGATE = b'"a\\ud800"'
HUGE_FLOAT = b"1e400"
HUGE_INT = b"9" * 5000
BIG_INT = b"9" * 4000  # under Python's int-parsing limit: parses, then breaks whatever uses it


def post_raw(client: httpx.Client, path: str, body: bytes, key: str = KEYS[0]) -> httpx.Response:
    return client.post(path, content=body, headers={**auth(key), "content-type": "application/json"})


def jobs_of(client: httpx.Client, key: str) -> list[str]:
    listed = client.get("/v1/videos", params={"limit": 100}, headers=auth(key))
    assert listed.status_code == 200, listed.text
    return [v["id"] for v in listed.json()["data"]]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"prompt": ' + LONE_SURROGATE + b"}", "prompt"),
        (b'{"prompt": "a lake", "x": ' + HUGE_FLOAT + b"}", "x"),
        (b'{"prompt": "a lake", "x": -' + HUGE_FLOAT + b"}", "x"),
        (b'{"prompt": "a lake", "x": ' + BIG_INT + b"}", "x"),
        (b'{"prompt": "a lake", "x": ' + HUGE_INT + b"}", "x"),
        (b'{"prompt": "a lake", "x": {"y": [' + LONE_SURROGATE + b"]}}", "x"),
        (b'{"prompt": "a lake", ' + LONE_SURROGATE + b": 1}", None),
        (b'{"prompt": "a lake", "x": ' + b"[" * 100 + b"]" * 100 + b"}", "x"),
    ],
    ids=[
        "lone-surrogate",
        "1e400",
        "-1e400",
        "4000-digit-int",
        "5000-digit-int",
        "nested-surrogate",
        "surrogate-key",
        "deep-100",
    ],
)
def test_a_create_with_a_value_that_cannot_be_stored_is_refused_and_nothing_is_stored(
    server: RunningServer, body: bytes, param: str | None
) -> None:
    with http(server) as client:
        before = jobs_of(client, KEYS[0])
        assert_envelope(post_raw(client, "/v1/videos", body), 400, param)
        assert jobs_of(client, KEYS[0]) == before
    assert_answers_normally(server)


def test_json_nested_a_hundred_thousand_deep_is_a_400(server: RunningServer) -> None:
    with http(server) as client:
        body = b'{"prompt": "a lake", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        assert_envelope(post_raw(client, "/v1/videos", body), 400, None, "invalid_json")
        assert_envelope(post_raw(client, "/__mock/faults", b"[" * 100_000 + b"]" * 100_000), 400, None, "invalid_json")
    assert_answers_normally(server)


def test_remix_edits_and_extensions_refuse_what_cannot_be_stored(server: RunningServer) -> None:
    with http(server) as client:
        source = create(client, KEYS[0]).json()["id"]
        before = jobs_of(client, KEYS[0])
        bad = b'{"prompt": ' + LONE_SURROGATE + b', "video": {"id": "' + source.encode() + b'"}}'
        for path in (f"/v1/videos/{source}/remix", "/v1/videos/edits", "/v1/videos/extensions"):
            assert_envelope(post_raw(client, path, bad), 400, "prompt")
            huge = b'{"prompt": "more", "video": {"id": "' + source.encode() + b'"}, "x": 1e400}'
            assert_envelope(post_raw(client, path, huge), 400, "x")
        assert jobs_of(client, KEYS[0]) == before
    assert_answers_normally(server)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/__mock/faults", b'{"rate_limit": "10/1e400"}', "rate_limit.seconds"),
        ("/__mock/faults", b'{"rate_limit": {"requests": 10, "seconds": 1e300}}', "rate_limit.seconds"),
        ("/__mock/faults", b'{"rate_limit": "' + BIG_INT + b'/60"}', "rate_limit.requests"),
        ("/__mock/faults", b'{"status": 503, "probability": 1e400}', "probability"),
        ("/__mock/faults", b'{"status": 503, "times": ' + BIG_INT + b"}", "times"),
        ("/__mock/faults", b'{"status": 503, "times": 1e400}', "times"),
        ("/__mock/faults", b'{"latency_ms": 1e400}', "latency_ms"),
        ("/__mock/faults", b'{"status": 503, "retry_after": 1e400}', "retry_after"),
        ("/__mock/faults", b'{"status": 503, "api_key": ' + LONE_SURROGATE + b"}", "api_key"),
        ("/__mock/faults", b'{"faults": [{"status": 503}, {"rate_limit": "10/1e400"}]}', "rate_limit.seconds"),
        ("/__mock/clock/advance", b'{"seconds": 1e400}', "seconds"),
        ("/__mock/clock/advance", b'{"seconds": 1e300}', "seconds"),
        ("/__mock/clock/speed", b'{"speed": 1e400}', "speed"),
        ("/__mock/clock/speed", b'{"speed": 1e300}', "speed"),
        ("/__mock/outcomes", b'{"outcomes": ["completed"], "api_key": ' + LONE_SURROGATE + b"}", "api_key"),
        ("/__mock/outcomes", b'{"outcomes": ["completed"], "duration": 1e400}', "duration"),
        ("/__mock/reset", b'{"api_key": ' + LONE_SURROGATE + b"}", "api_key"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "backoff_seconds": 1e400}', "backoff_seconds"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "backoff_seconds": 1e300}', "backoff_seconds"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "timeout_seconds": 1e400}', "timeout_seconds"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "timeout_seconds": 0}', "timeout_seconds"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "max_attempts": 1e400}', "max_attempts"),
        ("/__mock/webhooks", b'{"url": "http://127.0.0.1:9/hook", "max_attempts": ' + BIG_INT + b"}", "max_attempts"),
        ("/__mock/webhooks", b'{"url": "http://\\ud800/"}', "url"),
        ("/__mock/webhooks", b'{"url": "http://exa mple/"}', "url"),
        ("/__mock/webhooks", b'{"url": "http:///nohost"}', "url"),
        ("/__mock/webhooks/faults", b'{"mode": "late", "delay_seconds": 1e400}', "delay_seconds"),
        ("/__mock/webhooks/faults", b'{"mode": "late", "delay_seconds": 1e300}', "delay_seconds"),
        ("/__mock/webhooks/faults", b'{"mode": "duplicate", "count": 1e400}', "count"),
        ("/__mock/webhooks/faults", b'{"mode": "duplicate", "count": ' + BIG_INT + b"}", "count"),
    ],
)
def test_a_control_write_that_cannot_work_is_refused_and_changes_nothing(
    server: RunningServer, path: str, body: bytes, param: str
) -> None:
    with http(server) as client:
        listings = {
            p: client.get(p).json()
            for p in ("/__mock/faults", "/__mock/outcomes", "/__mock/webhooks", "/__mock/webhooks/faults")
        }
        clock = client.get("/__mock/clock").json()
        assert_envelope(post_raw(client, path, body), 400, param)
        assert {p: client.get(p).json() for p in listings} == listings
        after = client.get("/__mock/clock").json()
        assert (after["speed"], after["frozen"]) == (clock["speed"], clock["frozen"])
        assert after["offset"] - clock["offset"] < 60  # not moved by the refused advance
    assert_answers_normally(server)


@pytest.mark.parametrize("value", ["%C2%B2", "9" * 5000, "%EF%BC%91", "-1", "1.5", "0x10"])
def test_a_bad_integer_in_the_query_is_a_400_naming_it(server: RunningServer, value: str) -> None:
    with http(server) as client:
        for path in ("/v1/videos", "/__mock/journal"):
            answer = client.get(f"{path}?limit={value}", headers=auth(KEYS[0]))
            assert_envelope(answer, 400, "limit")
        assert_envelope(client.get(f"/__mock/journal?status={value}"), 400, "status")
    assert_answers_normally(server)


def test_an_empty_after_cursor_means_the_first_page(server: RunningServer) -> None:
    with http(server) as client:
        made = create(client, KEYS[1]).json()["id"]
        answer = client.get("/v1/videos?after=&limit=100", headers=auth(KEYS[1]))
        assert answer.status_code == 200, answer.text
        assert made in [v["id"] for v in answer.json()["data"]]
    assert_answers_normally(server)


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("model", "m" * 5000, "model"),
        ("prompt", "p" * 32_001, "prompt"),
        ("size", "9" * 5000, "size"),
        ("seconds", "4" * 5000, "seconds"),
    ],
)
def test_an_overlong_field_is_refused(server: RunningServer, field: str, value: str, param: str) -> None:
    with http(server) as client:
        before = jobs_of(client, KEYS[0])
        assert_envelope(create(client, KEYS[0], **{field: value}), 400, param)
        assert jobs_of(client, KEYS[0]) == before
    assert_answers_normally(server)


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    boundary = "adversarialboundary"
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        kind = "image/png" if filename else "text/plain"
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        (
            [
                ("prompt", None, b"a lake"),
                ("input_reference", "a.png", b"\x89PNG1"),
                ("input_reference", "b.png", b"\x89PNG2"),
            ],
            "input_reference",
        ),
        (
            [
                ("prompt", None, b"a lake"),
                ("input_reference[image_url]", None, b"https://a.example/1.png"),
                ("input_reference[image_url]", None, b"https://a.example/2.png"),
            ],
            "input_reference[image_url]",
        ),
    ],
    ids=["file-twice", "bracket-field-twice"],
)
def test_a_part_sent_twice_is_refused_not_silently_replaced(
    server: RunningServer, parts: list[Any], param: str
) -> None:
    body, content_type = _multipart(parts)
    with http(server) as client:
        before = jobs_of(client, KEYS[0])
        answer = client.post("/v1/videos", content=body, headers={**auth(KEYS[0]), "content-type": content_type})
        assert_envelope(answer, 400, param, "duplicate_field")
        assert jobs_of(client, KEYS[0]) == before
    assert_answers_normally(server)


def test_unknown_fields_are_not_kept_with_the_job(server: RunningServer) -> None:
    """40 creates with a 1 MB field the contract does not know add (far) less than 40 MB to the server."""
    pid = httpx.get(f"{server.root}/__mock/health").json()["pid"]

    def rss_kb() -> int:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    with http(server) as client:
        for _ in range(3):  # warm up: the allocator's arenas, the journal's ring
            assert create(client, KEYS[1], junk="j" * 1_000_000).status_code == 200
        before = rss_kb()
        for _ in range(40):
            assert create(client, KEYS[1], junk="j" * 1_000_000).status_code == 200
        grown_mb = (rss_kb() - before) / 1024
        page = client.get("/v1/videos", params={"limit": 100}, headers=auth(KEYS[1]))
        assert len(page.content) < 1_000_000
        journal = client.get("/__mock/journal", params={"limit": 50})
        assert len(journal.content) < 5_000_000
    assert grown_mb < 20, f"the server grew by {grown_mb:.0f} MB"
    assert_answers_normally(server)


def test_a_non_ascii_bearer_value_is_a_401_with_an_admin_token() -> None:
    admin = "tok-adversarial-admin-123456"
    with serve("--speed", "0", "--admin-token", admin, "--log-level", "warning") as running, http(running) as client:
        odd = {"authorization": b"Bearer sk-\xe9\xe9"}
        assert client.get("/v1/videos", headers=odd).status_code == 200  # any sk- key is a key
        assert_envelope(client.get("/__mock/journal", headers=odd), 401, None, "invalid_admin_token")
        assert client.get("/__mock/journal", headers=auth(admin)).status_code == 200
        for key in KEYS:
            assert create(client, key).status_code == 200


def test_the_memory_store_forgets_its_oldest_jobs_past_its_bound() -> None:
    with (
        serve("--speed", "0", "--store", "memory:?max_jobs=5", "--log-level", "warning") as running,
        http(running) as client,
    ):
        made = [create(client, KEYS[i % 2]).json()["id"] for i in range(7)]
        for index, video_id in enumerate(made):
            got = client.get(f"/v1/videos/{video_id}", headers=auth(KEYS[index % 2]))
            if index < 2:
                assert_envelope(got, 404, "video_id", "video_not_found")
            else:
                assert got.status_code == 200, got.text
        assert len(jobs_of(client, KEYS[0])) + len(jobs_of(client, KEYS[1])) == 5


@pytest.mark.parametrize(
    "flag", [["--rate-limit", "1/1e400"], ["--rate-limit", "9" * 5000 + "/60"], ["--fault", "status=503 times=1e400"]]
)
def test_serve_refuses_a_start_up_fault_that_cannot_work(flag: list[str]) -> None:
    import subprocess
    import sys

    from tests.processes import REPO

    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", *flag],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "mockserver serve:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "flag", [["--speed", "nan"], ["--speed", "1e400"], ["--max-upload-mb", "inf"], ["--max-upload-mb", "nan"]]
)
def test_serve_refuses_a_speed_or_size_that_is_no_number(flag: list[str]) -> None:
    import subprocess
    import sys

    from tests.processes import REPO

    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", *flag],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "mockserver serve:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "section",
    ["max_attempts: 1.0e+400", "timeout_seconds: .nan", "timeout_seconds: 0", "backoff_seconds: 1.0e+9"],
)
def test_serve_refuses_webhook_settings_that_cannot_work(tmp_path: Path, section: str) -> None:
    """The config file's `webhooks:` numbers have the bounds a registration through the control API has."""
    import subprocess
    import sys

    from tests.processes import REPO

    config = tmp_path / "mock.yaml"
    config.write_text(f"webhooks:\n  urls: [http://127.0.0.1:9/hook]\n  {section}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "webhooks:" in result.stderr and "Traceback" not in result.stderr
