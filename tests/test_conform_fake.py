"""`mockserver conform` against live fakes: a clean pass, the cost guard, the dry run, the key kept secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.deviants import serve_deviant
from tests.processes import REPO, RunningServer, free_port, serve

KEY = "sk-conform-SECRET-7q9z3x5v1b"  # distinctive, so that any leak is easy to find
SECOND_KEY = "sk-conform-OTHER-4m8n2b6v0c"  # the isolation checks' second key, kept as secret

def conform(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "conform", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningServer]:
    # Without access lines: nobody reads the server's output pipe, and the tests of this module send
    # enough requests between them to fill it, after which the server blocks on its next log line.
    with serve("--speed", "0", "--log-level", "warning") as running:
        yield running


def test_conform_passes_against_the_fake_with_every_phase_and_keeps_the_key_secret(fake: RunningServer, tmp_path: Path) -> None:
    started = time.monotonic()
    result = conform(
        "--base-url", fake.base_url,
        "--max-creates", "400", "--max-examples", "5", "--seed", "7",
        "--report", "junit,json", "--report-dir", str(tmp_path),
        env={"OPENAI_API_KEY": KEY, "OPENAI_API_KEY_2": SECOND_KEY},
    )
    elapsed = time.monotonic() - started
    print(f"conform against the fake took {elapsed:.1f}s")  # measured, not asserted
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PASSED" in result.stdout and "0 failed" in result.stdout
    for phase in ("lifecycle phase", "schemathesis examples phase", "schemathesis coverage phase", "schemathesis fuzzing phase", "schemathesis stateful phase"):
        assert phase in result.stderr  # progress lines
    data = json.loads((tmp_path / "conform-report.json").read_text())
    assert data["passed"] is True and data["failed_checks"] == []
    assert {
        "status_vocabulary", "terminal_is_final", "content_format", "delete_then_404", "failed_job_error",
        "key_isolation", "list_pagination", "list_page_ids", "remix_lineage", "prompt_matches_request",
        "video_matches_job",
    } <= {name for name, check in data["checks"].items() if check["status"] == "pass"}
    assert {"response_schema_conformance", "status_code_conformance"} <= set(data["checks"])  # schemathesis ran too
    junit = ET.parse(tmp_path / "conform-junit.xml").getroot()
    assert junit.get("failures") == "0" and int(junit.get("tests")) >= 23
    for text in (output, *(p.read_text() for p in tmp_path.iterdir())):
        for key in (KEY, SECOND_KEY):
            assert key not in text
            assert key[3:-4] not in text  # not even the middle of it


def test_the_summary_names_each_new_check_it_skipped_and_why(fake: RunningServer) -> None:
    # No second key, and a budget of one create: the remix for lineage is not made.
    result = conform(
        "--base-url", fake.base_url, "--api-key", KEY, "--phases", "lifecycle", "--quiet",
        "--max-creates", "1", "--mock-duration", "0.3",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("  SKIP  ")}
    assert "(no second API key (--second-api-key or $OPENAI_API_KEY_2))" in lines["key_isolation"]
    assert "(create budget spent (--max-creates 1): no remix was made)" in lines["remix_lineage"]
    assert "Creates: 1 sent of at most 1" in result.stdout


def test_the_same_key_twice_is_a_usage_error_not_an_isolation_check() -> None:
    result = conform("--base-url", "http://127.0.0.1:1/v1", "--api-key", KEY, "--second-api-key", KEY, "--dry-run")
    assert result.returncode == 2
    assert "--second-api-key is the same key as --api-key" in result.stderr
    assert KEY not in result.stdout + result.stderr


def test_fuzzed_multipart_forms_are_judged_as_sent_not_as_generated(fake: RunningServer) -> None:
    # Seed 2 makes schemathesis (4.32) generate what used to be false findings against a correct server:
    # a `video/mp4` part holding an object ("Serialization not possible", a run error) and type changes of
    # text fields (`name=-1521`) that are valid text on the wire (negative_data_rejection failures).
    result = conform(
        "--base-url", fake.base_url, "--api-key", KEY, "--phases", "fuzzing",
        "--max-creates", "1000", "--max-examples", "20", "--seed", "2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Serialization not possible" not in result.stdout
    assert "negative_data_rejection" in result.stdout  # the check ran


def test_the_cost_guard_caps_every_job_creating_request_counted_by_the_server(tmp_path: Path) -> None:
    with serve_deviant("counting") as server:
        result = conform(
            "--base-url", server.base_url, "--api-key", KEY, "--max-creates", "3", "--max-examples", "5", "--seed", "3",
            env={"OPENAI_API_KEY_2": SECOND_KEY},  # the second key's remix is a job-creating request too
        )
        counts = httpx.get(f"{server.root}/__count").json()
    assert counts["creates"] <= 3, counts
    assert counts["requests"] > 20  # the run really talked to the server
    assert "Creates: 3 sent of at most 3" in result.stdout
    assert "not sent" in result.stdout  # and says how many it held back
    assert KEY not in result.stdout + result.stderr


def test_dry_run_prints_the_plan_and_sends_nothing() -> None:
    with serve_deviant("counting") as server:
        result = conform("--base-url", server.base_url, "--api-key", KEY, "--dry-run", "--max-creates", "2")
        counts = httpx.get(f"{server.root}/__count").json()
    assert result.returncode == 0, result.stderr
    assert counts.get("requests", 0) == 0
    assert "$ POST /videos" in result.stdout and "  GET /videos/{video_id}" in result.stdout
    assert "at most 2 job-creating request(s)" in result.stdout
    # What each create is for, in the order the budget serves them: the remix for lineage comes third.
    uses = "uses up to 2 (a job that should complete, one that should fail, a remix (lineage); in this order"
    assert uses in result.stdout
    assert "stateful" in result.stdout and "Nothing was sent" in result.stdout


def test_dry_run_needs_no_server_at_all() -> None:
    result = conform("--base-url", f"http://127.0.0.1:{free_port()}/v1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Plan: check" in result.stdout


def test_a_server_nobody_listens_on_is_an_error_not_a_pass() -> None:
    result = conform("--base-url", f"http://127.0.0.1:{free_port()}/v1", "--api-key", KEY, "--phases", "lifecycle", "--quiet")
    assert result.returncode == 1
    assert "got no response" in result.stdout
    assert KEY not in result.stdout + result.stderr


def test_bad_options_get_a_clear_usage_error() -> None:
    result = conform("--base-url", "http://127.0.0.1:1/v1", "--phases", "lifecycle,smoke", "--dry-run")
    assert result.returncode == 2
    assert "unknown phase(s) smoke" in result.stderr


def test_without_the_conform_extra_it_says_what_to_install_instead_of_a_traceback() -> None:
    # `./scripts/serve` installs the server alone; requests/schemathesis come with the `conform` extra.
    # A None in sys.modules makes the import fail as an uninstalled package does.
    code = "import sys; sys.modules['requests'] = None; from mockserver.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, "conform", "--base-url", "http://127.0.0.1:1/v1", "--dry-run"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "needs the 'conform' extra" in result.stderr and "pip install" in result.stderr
    assert "Traceback" not in result.stderr


def test_deviations_are_reported_under_their_own_heading_and_fail_the_run_only_with_strict(tmp_path: Path) -> None:
    # aihubmix's base64-JSON ids and extra fields are what the schema permits but the official API never sends.
    args = ("--phases", "lifecycle", "--mock-duration", "0.6", "--no-failed-job", "--quiet", "--report", "json,junit")
    with serve("--profile", "aihubmix", "--speed", "0") as server:
        result = conform("--base-url", server.base_url, *args, "--report-dir", str(tmp_path), env={"OPENAI_API_KEY": KEY})
        strict = conform("--base-url", server.base_url, *args, "--report-dir", str(tmp_path / "strict"), "--strict", env={"OPENAI_API_KEY": KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DEVN  id_format" in result.stdout and "Failures:" not in result.stdout
    deviations = result.stdout.split("Deviations (", 1)[1]
    assert "[undeclared_fields]" in deviations and "undeclared field(s) `duration`, `width`, `height`" in deviations
    assert "id 'eyJ" in deviations and "`video_` followed by hex digits" in deviations
    assert "PASSED" in result.stdout and "0 failed, 2 with deviations" in result.stdout
    data = json.loads((tmp_path / "conform-report.json").read_text())
    assert data["passed"] is True and data["failed_checks"] == []
    assert data["deviation_checks"] == ["id_format", "undeclared_fields"]
    assert data["checks"]["id_format"]["severity"] == "deviation" and data["checks"]["id_format"]["status"] == "deviation"
    assert data["checks"]["status_vocabulary"]["severity"] == "error"
    junit = ET.parse(tmp_path / "conform-junit.xml").getroot()
    assert junit.get("failures") == "0"
    case = junit.find("testcase[@name='id_format']")
    assert case is not None and case.find("failure") is None and "deviation" in (case.findtext("system-out") or "")
    assert strict.returncode == 1 and "--strict: deviations fail the run (id_format, undeclared_fields)" in strict.stdout
