"""`conform` as a careful client: 429/503 are waited out and retried within a budget, never judged.

The servers are the real fake behind a rate limiter (tests/deviants.py): one that refuses the first
try of every request (a faithful provider under load), one that refuses everything, and one whose
create answers 503 after it started a job. /__count tells how many creates reached the fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from mockserver.conformance import ConformOptions, LifecycleSettings, RetryPolicy, run_conformance
from mockserver.conformance.retries import GiveUp, Retry, RetryLedger
from tests.deviants import CREATING, serve_deviant
from tests.processes import REPO, RunningServer

KEY = "sk-conform-retries-5150"
FAST = ("--mock-duration", "1.2", "--poll-interval", "0.2", "--deadline", "30")


def conform(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "conform", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": KEY},
    )


def jobs_started(server: RunningServer) -> int:
    """Creates the fake itself accepted (its journal), whatever a rate limiter in front of it refused."""
    entries = httpx.get(f"{server.root}/__mock/journal", params={"method": "POST", "status": 200}).json()["data"]
    return sum(1 for entry in entries if CREATING.match(entry["path"]) and "/characters" not in entry["path"])


def test_a_faithful_server_that_rate_limits_every_first_try_passes_with_the_retries_reported(tmp_path: Path) -> None:
    with serve_deviant("rate_limited") as server:
        result = conform(
            "--base-url", server.base_url, *FAST, "--phases", "lifecycle,examples", "--max-examples", "3",
            "--seed", "3", "--max-creates", "6", "--report", "json", "--report-dir", str(tmp_path),
        )  # fmt: skip
        counts = httpx.get(f"{server.root}/__count").json()
        started = jobs_started(server)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PASSED" in result.stdout and "Failures:" not in result.stdout
    retries_line = next(line for line in result.stdout.splitlines() if line.startswith("Retries: "))
    assert "after 429 x" in retries_line and "after 503 x" in retries_line and "s waited" in retries_line
    data = json.loads((tmp_path / "conform-report.json").read_text())
    # Every request met one refusal first: half of what came on the wire were retries (but for the probe
    # schemathesis sends before its phases, which is not an API request and not retried).
    retried = data["retries"]["429"] + data["retries"]["503"]
    assert counts["requests"] // 2 - 1 <= retried <= counts["requests"] // 2
    assert data["retries_given_up"] == [] and data["errors"] == []
    for name in ("unknown_id_404", "create_accepted", "id_stable", "content_matches_status", "delete_then_404"):
        assert data["checks"][name]["status"] == "pass", name
    # A refused create started nothing, so its retry is not another create: more creates came on the wire than
    # the budget counted, and the jobs the fake started stay within it.
    assert counts["creates"] > data["creates_sent"]
    assert 2 <= started <= data["creates_sent"] <= 6
    assert KEY not in output


def test_a_server_that_never_stops_rate_limiting_fails_no_check_and_says_why_they_were_skipped() -> None:
    policy = RetryPolicy(max_attempts=3, budget_seconds=5)
    fast = LifecycleSettings(poll_interval=0.2, mock_duration=1.2, deadline=30, failed_job=False)
    with serve_deviant("always_rate_limited") as server:
        report = run_conformance(
            ConformOptions(base_url=server.base_url, api_key=KEY, phases=("lifecycle",), lifecycle=fast, retry=policy)
        )
        counts = httpx.get(f"{server.root}/__count").json()
        started = jobs_started(server)
    assert report.failed_checks() == []
    assert not report.passed  # the run could not check anything: an error, not a failure
    assert any("still rate-limited (429)" in error for error in report.errors)
    assert (
        "rate limited: get an unknown id was answered 429 (HTTP 429 on all 3 tries)"
        in report.checks["unknown_id_404"].skip_reasons
    )
    assert any("rate limited" in reason for reason in report.checks["create_accepted"].skip_reasons)
    # Bounded: each of the four requests (two auth probes, the unknown id, the create) tried exactly three times.
    assert counts["requests"] == 4 * 3 and report.retries == {"429": 4 * 2}
    assert len(report.retries_given_up) == 4
    assert counts["creates"] == 3 and started == 0


def test_a_create_that_may_have_been_accepted_is_sent_again_only_when_the_create_budget_allows() -> None:
    fast = LifecycleSettings(poll_interval=0.2, mock_duration=1.2, deadline=30, failed_job=False)
    runs = {}
    for max_creates in (1, 2):
        with serve_deviant("create_503_accepted") as server:
            options = ConformOptions(
                base_url=server.base_url, api_key=KEY, phases=("lifecycle",), lifecycle=fast, max_creates=max_creates
            )
            runs[max_creates] = (run_conformance(options), httpx.get(f"{server.root}/__count").json())
    held, held_counts = runs[1]
    assert held_counts["creates"] == 1 and held.creates_sent == 1  # the 503'd create started a job: not re-sent
    assert "create (POST /videos): HTTP 503: sending it again could start another job" in held.retries_given_up[0]
    assert "create_accepted" in held.failed_checks()  # a 503 after starting the job is the server's fault
    sent, sent_counts = runs[2]
    assert sent_counts["creates"] == 2 and sent.creates_sent == 2  # the retry spent the second create
    assert sent.retries == {"503": 1} and sent.passed


def test_the_wait_is_the_one_the_server_asks_for_and_the_budget_bounds_it() -> None:
    ledger = RetryLedger(RetryPolicy(max_attempts=4, max_wait=60, budget_seconds=10))
    assert ledger.decide(429, {"retry-after-ms": "250", "retry-after": "3"}, 1) == Retry(0.25)  # the SDKs read ms first
    assert ledger.decide(429, {"retry-after": "2"}, 1) == Retry(2.0)
    assert ledger.decide(503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1) == Retry(0.0)  # a date long past
    assert ledger.decide(429, {}, 3) == Retry(2.0)  # no hint: 0.5 s doubled per try
    assert ledger.decide(429, {"retry-after": "2"}, 4) == GiveUp("HTTP 429 on all 4 tries")
    assert ledger.decide(429, {"x-should-retry": "false"}, 1) == GiveUp("HTTP 429 with x-should-retry: false")
    assert "more than the 60s allowed" in str(ledger.decide(429, {"retry-after": "300"}, 1))
    assert ledger.decide(409, {"retry-after": "1"}, 1) is None  # only 429 and 503 are retried
    ledger.sleep = lambda seconds: None
    ledger.retry(429, Retry(9.5))
    assert "retry budget (10s of waiting) is spent" in str(ledger.decide(429, {"retry-after": "1"}, 1))
