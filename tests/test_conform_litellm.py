"""Optional, slow: `conform` pointed at a real third-party gateway, the LiteLLM proxy, in front of the fake.

Skipped by default. Run it with one command (installs litellm[proxy]==1.106.2, ~740 MB, into
.bench/litellm-proxy-venv on first use; needs network for that):

    RUN_SLOW=1 .venv/bin/python -m pytest tests/test_conform_litellm.py -m slow -s

(`./scripts/test -m slow` runs it as well.) It asserts the deviations LiteLLM 1.106.2 is known to
have (../shared/reference/gateways.md §4.3): no DELETE route, ids re-wrapped on retrieve, and
ids that are `video_` + base64 rather than hex (a deviation: reported, not a failure).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.processes import REPO, RunningServer, free_port, serve, wait_healthy

LITELLM = "litellm[proxy]==1.106.2"
VENV = REPO / ".bench" / "litellm-proxy-venv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def only_when_asked(request: pytest.FixtureRequest) -> None:
    # A module fixture that the others depend on, so nothing is installed or started when skipped.
    asked = "slow" in (request.config.getoption("markexpr") or "") or os.environ.get("RUN_SLOW") == "1"
    if not asked:
        pytest.skip("slow: run with RUN_SLOW=1 or -m slow")


def litellm_binary() -> Path:
    binary = VENV / "bin" / "litellm"
    python = VENV / "bin" / "python"
    if binary.exists() and subprocess.run([str(python), "-c", "import fastapi, litellm.proxy.proxy_server"], capture_output=True, timeout=120).returncode == 0:
        return binary
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
    subprocess.run([str(python), "-m", "pip", "install", "-q", LITELLM], check=True, timeout=1200)
    return binary


@pytest.fixture(scope="module")
def fake(only_when_asked: None) -> Iterator[RunningServer]:
    # LiteLLM does not forward X-Mock-Duration, so the fake's own clock decides: a sora-2 4 s clip takes ~1.2 s.
    with serve("--speed", "0.2") as running:
        yield running


@pytest.fixture(scope="module")
def gateway(only_when_asked: None, fake: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    binary = litellm_binary()
    master_key = "sk-" + secrets.token_hex(24)  # the proxy refuses well-known weak keys
    config = tmp_path_factory.mktemp("litellm") / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: sora-2\n"
        f"    litellm_params: {{model: openai/sora-2, api_base: {fake.base_url}, api_key: sk-mock-upstream}}\n"
        "general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}\n"
    )
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": master_key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen(
        [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    proxy = RunningServer(process, port)
    try:
        wait_healthy(f"{proxy.root}/health/liveliness", process, deadline_s=120)
        yield proxy.base_url, master_key
    finally:
        proxy.stop(signal.SIGTERM, timeout=15)


def test_conform_names_litellms_known_deviations(gateway: tuple[str, str], tmp_path: Path) -> None:
    base_url, master_key = gateway
    result = subprocess.run(
        [
            sys.executable, "-m", "mockserver", "conform", "--base-url", base_url,
            "--max-creates", "3", "--phases", "lifecycle,examples", "--max-examples", "3", "--seed", "1",
            "--deadline", "90", "--report", "json,junit", "--report-dir", str(tmp_path),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": master_key},
    )
    print(result.stdout)
    report = json.loads((tmp_path / "conform-report.json").read_text())
    assert result.returncode == 1
    failed = set(report["failed_checks"])
    assert "delete_then_404" in failed  # the proxy has no DELETE route
    assert "id_stable" in failed  # retrieve re-wraps the upstream id with an empty model_id
    assert "id_format" in report["deviation_checks"]  # video_ + base64 of "litellm:custom_llm_provider:..."
    assert report["checks"]["id_format"]["severity"] == "deviation"
    assert "undeclared_fields" in report["deviation_checks"]  # its VideoObject serialises `usage`
    assert report["creates_sent"] <= 3
    assert master_key not in result.stdout + result.stderr
    assert all(master_key not in p.read_text() for p in tmp_path.iterdir())
