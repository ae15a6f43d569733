"""The serve command as a newcomer meets it: a real process, a health endpoint, a clean Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from tests.processes import REPO, serve


def test_serve_answers_health_and_prints_base_url_and_stops_on_ctrl_c() -> None:
    with serve() as server:
        health = httpx.get(f"{server.root}/__mock/health").json()
        assert health["status"] == "ok"
        assert health["version"]
        assert health["uptime_seconds"] >= 0
        code, output = server.stop(signal.SIGINT)
    assert code == 0, output
    assert f"base URL http://127.0.0.1:{server.port}/v1" in output
    # uvicorn's access log: one line per request
    assert '"GET /__mock/health HTTP/1.1" 200' in output
    assert "Traceback" not in output


def test_help_explains_every_subcommand() -> None:
    top = subprocess.run([sys.executable, "-m", "mockserver", "--help"], cwd=REPO, capture_output=True, text=True)
    assert top.returncode == 0
    for command in ("serve", "spec"):
        assert command in top.stdout
    serve_help = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--help"], cwd=REPO, capture_output=True, text=True)
    assert "--port" in serve_help.stdout and "--spec" in serve_help.stdout and "base_url" in serve_help.stdout


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--spec", str(tmp_path / "missing.yaml")],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "spec file not found" in result.stderr
    assert "Traceback" not in result.stderr
