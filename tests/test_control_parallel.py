"""Two test processes (pytest-xdist workers) sharing one server never see each other's scripted outcomes.

The inner tests are written so that a shared queue, or a reset that wiped another test's state,
would fail them: A queues failures and waits; B queues successes only after A has queued, creates,
and expects only successes (a shared FIFO would hand it A's failures); then A creates and expects
only failures (a shared FIFO would be left with B's successes). A file barrier orders the steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mockserver.pytest_plugin import MockServerHandle
from tests.processes import REPO

BARRIER = '''
import os, time
from pathlib import Path

def signal(name):
    Path(os.environ["MOCK_BARRIER"], name).touch()

def wait_for(name, deadline_s=60.0):
    deadline = time.monotonic() + deadline_s
    while not Path(os.environ["MOCK_BARRIER"], name).exists():
        assert time.monotonic() < deadline, f"the other test never reached {name!r}: did both run in parallel?"
        time.sleep(0.02)
'''

TEST_A = '''
from barrier import signal, wait_for

def test_a_gets_only_its_failures(mockserver):
    mockserver.outcomes.push(*["failed:content_policy_violation"] * 3, duration=0)
    signal("a_pushed")
    wait_for("b_done")
    sdk = mockserver.client(max_retries=0)
    codes = [sdk.videos.create(prompt="a").error for _ in range(3)]
    assert [c and c.code for c in codes] == ["content_policy_violation"] * 3
    assert {e["owner"] for e in mockserver.journal.find()} == {mockserver.owner}
'''

TEST_B = '''
from barrier import signal, wait_for

def test_b_gets_only_its_successes(mockserver):
    wait_for("a_pushed")
    mockserver.outcomes.push("completed", "completed", "completed", duration=0)
    sdk = mockserver.client(max_retries=0)
    statuses = [sdk.videos.create(prompt="b").status for _ in range(3)]
    signal("b_done")
    assert statuses == ["completed"] * 3
    assert mockserver.outcomes.list() == []
'''


def test_parallel_xdist_workers_sharing_one_server_keep_their_own_scripted_outcomes(tmp_path: Path, mockserver: MockServerHandle) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (tmp_path / "barrier").mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "barrier.py").write_text(textwrap.dedent(BARRIER))
    (suite / "test_a.py").write_text(textwrap.dedent(TEST_A))
    (suite / "test_b.py").write_text(textwrap.dedent(TEST_B))
    # The shared server is this test's own in-process one; the inner workers reach it as --mockserver-url.
    env = {
        **os.environ,
        "MOCKSERVER_URL": mockserver.root_url,
        "MOCK_BARRIER": str(tmp_path / "barrier"),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(suite)]),
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    # Only the two plugins the suite needs: autoloading every installed plugin costs seconds per worker.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugins = ["-p", "xdist.plugin", "-p", "mockserver.pytest_plugin", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugins, "-n", "2", "--dist", "loadfile", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # They really shared this server: six creates from two keys, neither of them this test's.
    creates = mockserver.journal.find(path="/v1/videos", method="POST", api_key=None)
    assert len(creates) == 6 and len({entry["owner"] for entry in creates}) == 2
    assert mockserver.owner not in {entry["owner"] for entry in creates}
