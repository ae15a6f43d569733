"""`conform` against Steady, the stateless mock openai-python's own generated tests run against.

Steady (npm `@stdy/cli`, pinned) validates requests but keeps no state and invents every value
from the schema: each answer is valid on its own and the answers together are nonsense (a job whose
`error` is set while it is not failed, `seconds` a random string, content of two bytes labelled
video/mp4). `conform` must fail it, naming the lifecycle and content checks that catch each of
those, and run to completion.

Steady is given the project's own contract with its examples taken out: with examples Steady answers
them (they are coherent), while the official spec openai-python feeds it has none, so Steady invents
values there. Steady serves the paths at the root whatever `servers` says, so the base URL has no
`/v1`. The install goes into the ignored .cache/ of the checkout; only a registry npm cannot reach
(or no npm at all) skips the test.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockserver.contract.loading import resolve_spec_path
from tests.processes import REPO, RunningServer, free_port, running

STEADY = "@stdy/cli@0.22.2"
CACHE = REPO / ".cache" / "steady"
KEY = "sk-conform-steady-7788"
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH")


def _installed() -> Path | None:
    binary = CACHE / "node_modules" / ".bin" / "steady"
    package = CACHE / "node_modules" / "@stdy" / "cli" / "package.json"
    if binary.exists() and package.exists() and json.loads(package.read_text())["version"] == STEADY.rsplit("@", 1)[1]:
        return binary
    return None


@pytest.fixture(scope="session")
def steady_binary() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so {STEADY} cannot be installed (apt-get install -y nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".install.lock", "w") as lock:  # test workers must not install into the same place at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = _installed()
        if binary is None:
            result = subprocess.run(
                [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", STEADY],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            output = result.stdout + result.stderr
            unreachable = [code for code in NETWORK_ERRORS if code in output]
            if result.returncode != 0 and unreachable:
                pytest.skip(f"the npm registry is unreachable ({unreachable[0]}), so {STEADY} cannot be installed")
            assert result.returncode == 0, f"npm install {STEADY} failed:\n{output[-2000:]}"
            binary = _installed()
            assert binary is not None, f"npm install {STEADY} left no steady binary in {CACHE}"
    return binary


def without_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: without_examples(value) for key, value in node.items() if key not in ("example", "examples")}
    if isinstance(node, list):
        return [without_examples(item) for item in node]
    return node


@pytest.fixture(scope="module")
def steady(steady_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    spec = tmp_path_factory.mktemp("steady") / "openapi.yaml"
    document = yaml.safe_load(resolve_spec_path("reference").read_text(encoding="utf-8"))  # what conform checks against
    spec.write_text(yaml.safe_dump(without_examples(document), allow_unicode=True, sort_keys=False), encoding="utf-8")
    port = free_port()
    # Steady has no health endpoint: the list answering 200 means it is serving.
    command = [str(steady_binary), "-p", str(port), "--host", "127.0.0.1", "-q", str(spec)]
    with running(command, port, health_path="/videos") as server:
        yield server


def test_steady_is_failed_on_each_piece_of_nonsense_by_the_check_that_catches_it(
    steady: RunningServer, tmp_path: Path
) -> None:
    # What Steady says of any job, as a client sees it: valid against the schema, impossible as a whole.
    video = httpx.get(f"{steady.root}/videos/video_123", headers={"Authorization": f"Bearer {KEY}"}).json()
    content = httpx.get(f"{steady.root}/videos/video_123/content", headers={"Authorization": f"Bearer {KEY}"})
    assert video["status"] != "failed" and video["error"] is not None
    assert video["seconds"] not in ("4", "8", "12")
    assert content.headers["content-type"] == "video/mp4" and len(content.content) == 2

    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable, "-m", "mockserver", "conform", "--base-url", steady.root,
            "--max-examples", "3", "--seed", "1", "--max-creates", "10",
            "--report", "json", "--report-dir", str(tmp_path),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": KEY},
    )  # fmt: skip
    print(f"conform against Steady took {time.monotonic() - started:.1f}s")  # measured, not asserted
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads((tmp_path / "conform-report.json").read_text())
    assert data["errors"] == []  # it ran to the end: every phase, nothing it could not do
    assert [phase["name"] for phase in data["phases"]] == ["lifecycle", "examples", "coverage", "fuzzing", "stateful"]

    def actual(check: str) -> list[str]:
        assert data["checks"][check]["status"] == "fail", (check, data["checks"][check])
        return [finding["actual"] for finding in data["checks"][check]["findings"]]

    # An error on a job that did not fail: the consistency pass.
    assert any(f"status {video['status']!r} with error {video['error']!r}" in text for text in actual("status_fields"))
    # seconds is whatever Steady made up, not the "4" the create asked for.
    assert any(f"seconds {video['seconds']!r}" in text for text in actual("job_matches_request"))
    # Two bytes labelled video/mp4 are not an MP4; the other variants are not even labelled as theirs.
    assert any(text.startswith("2 bytes starting") for text in actual("content_format"))
    assert any("Content-Type 'video/mp4'" in text for text in actual("content_media_type"))
    # Nothing is stored: the unknown id, the deleted job and the list all answer for a job that is not there.
    for check in ("unknown_id_404", "delete_then_404", "listed_after_create", "auth_required"):
        assert actual(check), check
    assert "FAILED" in result.stdout and KEY not in result.stdout + result.stderr
