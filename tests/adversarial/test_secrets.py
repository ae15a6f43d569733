"""Credentials never appear in the journal, the 401, conform's terminal output or its reports (#23 item 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.adversarial.helpers import KEYS, assert_answers_normally, assert_envelope, auth, create, http
from tests.processes import REPO, RunningServer, serve

CREDENTIAL_HEADERS = {
    "openai-api-key": "sk-secret-openai-api-key-000111",
    "x-goog-api-key": "AIzaSecretGoogKey0001112223334",
    "x-openai-key": "sk-secret-x-openai-key-4445556",
    "api-key": "azure-secret-api-key-77788899",
    "x-api-key": "anthropic-secret-key-0009998",
    "proxy-authorization": "Basic c2VjcmV0OnNlY3JldA==",
    "cookie": "session=secret-cookie-value-123",
    "x-auth-token": "secret-auth-token-value-456",
}


def test_the_journal_masks_every_credential_like_header(server: RunningServer) -> None:
    with http(server) as client:
        answer = client.post("/v1/videos", json={"prompt": "masked"}, headers={**auth(KEYS[0]), **CREDENTIAL_HEADERS})
        assert answer.status_code == 200
        journal = client.get("/__mock/journal", params={"limit": 5}).text
    for name, value in CREDENTIAL_HEADERS.items():
        assert value not in journal, name
        assert value[-6:] not in journal, name  # not even a long tail of it
    assert KEYS[0] not in journal
    assert_answers_normally(server)


def test_a_short_key_is_masked_to_almost_nothing(server: RunningServer) -> None:
    short = "sk-abcdefgh9"  # 12 characters
    with http(server) as client:
        assert create(client, short).status_code == 200
        entry = client.get("/__mock/journal", params={"limit": 1}).json()["data"][-1]
    shown = entry["key"].replace(".", "").replace("*", "")
    assert len([c for c in shown if c in short]) <= 3, entry["key"]
    assert entry["headers"]["authorization"].count("abcdefgh") == 0


def test_the_401_never_echoes_the_admin_token() -> None:
    token = "sk-admin-token-that-looks-like-a-key-9876"
    with serve("--admin-token", token, "--log-level", "warning") as running, http(running) as client:
        answer = client.get("/v1/videos", headers=auth(token))
        error = assert_envelope(answer, 401, None)
        for piece in (token, token[:6], token[-4:], token[-6:]):
            assert piece not in error["message"], error["message"]
        wrong = client.get("/__mock/journal", headers=auth(token + "x"))
        assert token[-4:] not in assert_envelope(wrong, 401, None)["message"]
        logs = client.get("/__mock/journal", headers=auth(token)).text
        assert token not in logs and token[-4:] not in logs


def test_key_fingerprints_are_salted_per_server() -> None:
    """The same key is a different fingerprint on two servers: a journal cannot be matched against a table of keys."""
    import hashlib

    owners = []
    for _ in range(2):
        with serve("--log-level", "warning") as running, http(running) as client:
            assert create(client, KEYS[0]).status_code == 200
            owners.append(client.get("/__mock/journal", params={"limit": 1}).json()["data"][-1]["owner"])
            # A client that knows the server's salt (its health says it) finds its own jobs by owner.
            listed = client.get("/__mock/journal", params={"owner": owners[-1]}).json()["data"]
            assert listed and all(entry["owner"] == owners[-1] for entry in listed)
    assert owners[0] != owners[1]
    assert hashlib.sha256(KEYS[0].encode()).hexdigest()[:24] not in owners


def test_the_salt_survives_a_restart_and_a_reset_on_a_shared_store(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/fake.db"
    with serve("--store", store, "--log-level", "warning") as running, http(running) as client:
        video = create(client, KEYS[0]).json()["id"]
        salt = client.get("/__mock/health").json()["key_salt"]
    with serve("--store", store, "--log-level", "warning") as running, http(running) as client:
        assert client.get("/__mock/health").json()["key_salt"] == salt
        assert client.get(f"/v1/videos/{video}", headers=auth(KEYS[0])).status_code == 200  # still its key's
        assert client.post("/__mock/reset", json={}).status_code == 200
        assert client.get("/__mock/health").json()["key_salt"] == salt


def test_conform_never_prints_or_reports_header_values(tmp_path: Path) -> None:
    secret = "hdr-secret-value-0123456789abcdef"
    with serve("--speed", "0", "--log-level", "warning") as running:
        # A server that fails every list: the findings carry reproduction lines, where headers used to be written out.
        fault = httpx.post(f"{running.root}/__mock/faults", json={"method": "GET", "path": "/v1/videos", "status": 500})
        assert fault.status_code == 201
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mockserver",
                "conform",
                "--base-url",
                running.base_url,
                "--api-key",
                KEYS[0],
                "--phases",
                "lifecycle",
                "--deadline",
                "5",
                "--max-polls",
                "5",
                "--report",
                "json,junit",
                "--report-dir",
                str(tmp_path),
                "--header",
                f"api-key: {secret}",
                "--header",
                "X-Trace: visible-trace-id",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1, result.stdout + result.stderr  # the injected 500s are findings
    outputs = {"terminal": result.stdout + result.stderr}
    outputs.update({path.name: path.read_text() for path in tmp_path.iterdir()})
    assert set(outputs) == {"terminal", "conform-report.json", "conform-junit.xml"}
    for where, text in outputs.items():
        assert secret not in text and secret[-8:] not in text, where
        assert KEYS[0] not in text, where
        assert "reproduce" in text or where != "terminal"
        assert "api-key: $OPENAI_API_KEY" not in text, where  # another header is not the API key
    assert "visible-trace-id" in outputs["terminal"]  # a header that is no credential stays readable


def test_the_server_log_never_shows_a_credential() -> None:
    # The default log level: uvicorn's access log and every warning the fake writes, for good and bad requests.
    with serve("--admin-token", "admin-secret-token-31337", "--api-key", KEYS[0]) as running:
        with http(running) as client:
            headers = {**auth(KEYS[0]), **CREDENTIAL_HEADERS}
            assert client.post("/v1/videos", json={"prompt": "logged"}, headers=headers).status_code == 200
            assert client.get("/v1/videos", headers={"authorization": "Bearer sk-wrong-key-1234567890"}).status_code == 401
            assert client.get("/__mock/journal", headers={"authorization": "Bearer wrong-admin-token"}).status_code == 401
            assert client.post("/v1/videos", content=b"{", headers=headers).status_code == 400
        _, output = running.stop()
    assert "POST /v1/videos" in output  # the access log was written
    for secret in (*CREDENTIAL_HEADERS.values(), KEYS[0], "sk-wrong-key-1234567890", "admin-secret-token-31337"):
        assert secret not in output, secret
