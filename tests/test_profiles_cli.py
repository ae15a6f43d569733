"""`mockserver profiles` and `serve --profile` as a user meets them: real processes."""

from __future__ import annotations

import subprocess
import sys

import httpx

from mockserver import profiles
from tests.processes import REPO, serve


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_profiles_lists_every_profile_with_one_line_on_what_it_changes() -> None:
    result = run_cli("profiles")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    listed = {line.split()[0]: line for line in lines if line.split()[0] in profiles.NAMES}
    assert list(listed) == list(profiles.NAMES)
    assert "processing" in listed["docs"] and "task_" in listed["newapi"] and "succeeded" in listed["omnimaas"]


def test_profiles_verbose_shows_each_deviation_its_options_and_source() -> None:
    result = run_cli("profiles", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "option kling_ms_timestamps" in result.stdout
    assert "contract: --spec docs" in result.stdout
    assert "dto/openai_video.go" in result.stdout


def test_serve_with_a_profile_speaks_it_and_says_so_in_health() -> None:
    with serve("--profile", "docs", "--speed", "0") as server:
        health = httpx.get(f"{server.root}/__mock/health").json()
        assert health["profile"] == "docs"
        assert health["spec"].endswith("docs.yaml")  # the docs dialect implies its own contract
        headers = {"Authorization": "Bearer sk-cli-profile"}
        created = httpx.post(f"{server.base_url}/videos", headers=headers, files={"prompt": (None, "a cat")}).json()
        assert created["quality"] == "standard" and created["url"].startswith(server.base_url)


def test_serve_rejects_an_unknown_profile_or_option_without_a_traceback() -> None:
    unknown = run_cli("serve", "--profile", "sora-official")
    assert unknown.returncode == 2 and "invalid choice: 'sora-official'" in unknown.stderr
    option = run_cli("serve", "--profile", "newapi", "--profile-option", "bogus=1", "--port", "0")
    assert option.returncode == 2
    assert "profile 'newapi' has no option bogus" in option.stderr and "Traceback" not in option.stderr
