"""Who may drive the fake, and what --seed makes reproducible: real `mockserver serve` processes."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from starlette.testclient import TestClient

from mockserver.http.app import create_app
from mockserver.client import MockControl, MockControlError
from mockserver.config import ServerConfig
from tests.processes import serve

ADMIN = "adm-very-secret-token-5150"


def test_with_an_admin_token_the_control_api_needs_it_and_the_video_api_refuses_it() -> None:
    with serve("--admin-token", ADMIN) as server:
        # health stays open, so process supervisors and the plugin can wait on it
        assert httpx.get(f"{server.root}/__mock/health").status_code == 200
        missing = httpx.get(f"{server.root}/__mock/journal")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "missing_admin_token"
        wrong = httpx.post(f"{server.root}/__mock/reset", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 401 and set(wrong.json()["error"]) == {"message", "type", "param", "code"}
        with pytest.raises(MockControlError) as err:
            MockControl(server.root).clock.freeze()
        assert err.value.status == 401

        control = MockControl(server.root, admin_token=ADMIN)
        assert control.clock.freeze()["frozen"] is True

        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.base_url, api_key=ADMIN, max_retries=0).videos.list()
        # ... and the journal that recorded that attempt does not show the token, not even in part
        journal = json.dumps(control.journal.find())
        assert ADMIN[:6] not in journal and ADMIN[-4:] not in journal
        assert control.journal.find()[0]["headers"]["authorization"] == "Bearer ***"


def test_on_a_non_loopback_address_without_a_token_the_control_api_refuses_and_says_what_to_do() -> None:
    app = create_app(ServerConfig(loopback_only=False))
    with TestClient(app) as http:
        assert http.get("/__mock/health").status_code == 200
        refused = http.post("/__mock/clock/advance", json={"seconds": 10})
        assert refused.status_code == 403
        assert "--admin-token" in refused.json()["error"]["message"]
    with TestClient(create_app(ServerConfig(loopback_only=False, admin_token=ADMIN))) as http:
        ok = http.post("/__mock/clock/advance", json={"seconds": 10}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert ok.status_code == 200 and ok.json()["offset"] >= 9.9


def _session(server, key: str = "sk-seeded-key-0001") -> list[str]:
    """Create jobs through a route with a 50% fault: the sequence of ids and injected failures."""
    sdk = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    seen = []
    for n in range(12):
        try:
            seen.append(sdk.videos.create(prompt=f"job {n}").id)
        except openai.InternalServerError as exc:
            seen.append(f"fault {exc.status_code}")
    return seen


def test_seed_makes_ids_and_injected_faults_reproducible_across_runs_and_resets() -> None:
    flags = ("--seed", "42", "--fault", "POST /v1/videos status=503 probability=0.5")
    with serve(*flags) as server:
        first = _session(server)
        MockControl(server.root).reset()
        after_reset = _session(server)
    with serve(*flags) as server:
        second = _session(server)
    assert first == second == after_reset
    # Both happened; without the seed, ids (128 random bits) could not repeat across processes.
    assert any(s.startswith("video_") for s in first) and "fault 503" in first


def test_startup_faults_from_flags_and_config_file_are_listed_and_restored_by_reset(tmp_path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text(
        "faults:\n"
        "  rate_limit: 100/60\n"
        "  rules:\n"
        "    - {method: GET, path: \"/v1/videos/{video_id}/content\", status: 502, probability: 0.25}\n"
        "journal_size: 3\n"
    )
    with serve("--config", str(config), "--fault", "DELETE /v1/videos/* latency_ms=5") as server:
        control = MockControl(server.root)
        listed = control.faults.list()
        assert [(f["method"], f["path"], f["status"], f["latency_ms"]) for f in listed] == [
            ("GET", "/v1/videos/{video_id}/content", 502, 0),
            ("*", "*", None, 0),
            ("DELETE", "/v1/videos/*", None, 5),
        ]
        assert listed[1]["rate_limit"] == {"requests": 100, "seconds": 60.0}
        control.faults.clear()
        assert control.faults.list() == []
        control.reset()
        assert len(control.faults.list()) == 3

        sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-journal-size", max_retries=0)
        for _ in range(5):
            sdk.videos.list()
        assert len(control.journal.find()) == 3  # --journal-size / journal_size keeps the last N


def test_a_bad_fault_flag_is_a_clear_error_not_a_traceback() -> None:
    import subprocess
    import sys

    from tests.processes import REPO

    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--fault", "POST /v1/videos status=418"],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "status" in result.stderr and "429" in result.stderr
    assert "Traceback" not in result.stderr
