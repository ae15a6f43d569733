"""The benchmark harness works end to end at a tiny scale: it starts the mock and the bare app,
drives both, and saves results a reader (or the README table) can rely on. No timing is asserted:
the numbers depend on the machine; only that each side was measured and answered without errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.processes import REPO


def test_benchmark_runs_poll_startup_and_scale_and_saves_the_expected_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [
        sys.executable, "-m", "benchmarks", "poll", "startup", "scale",
        "--seconds", "0.5", "--repeats", "1", "--warmup", "0", "--connections", "4",
        "--startup-repeats", "1", "--scale-jobs", "300", "--scale-small", "100", "--without", "prism",
        "--out", str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads(out.read_text())
    assert {"cpu", "cores", "python"} <= set(results["machine"])
    assert results["settings"]["connections"] == 4
    by_name = {scenario["name"]: scenario for scenario in results["scenarios"]}
    assert list(by_name) == ["poll", "startup", "scale"]

    poll = by_name["poll"]
    for side in ("mock", "bare"):
        data = poll["sides"][side]
        assert data["errors"] == 0, poll["notes"]
        assert data["runs"] and data["runs"][0]["requests"] > 0
        assert set(data["median"]) == {"requests_per_s", "mb_per_s", "p50_ms", "p99_ms"}
    assert "--without prism" in poll["sides"]["prism"]["skipped"]
    checks = {item["name"]: item for item in poll["checks"]}
    assert checks["throughput vs bare"]["met"] in (True, False)
    assert checks["throughput vs Prism"]["met"] is None  # skipped, so neither met nor missed

    assert set(by_name["startup"]["sides"]) == {"mock", "bare"}
    assert by_name["startup"]["sides"]["mock"]["median"]["startup_s"] > 0

    scale = by_name["scale"]
    assert set(scale["sides"]) == {"100 jobs", "300 jobs"}
    assert [item["name"] for item in scale["checks"]] == [
        "memory per job (bytes)", "first page at 300 vs 100 jobs", "middle page at 300 vs 100 jobs",
    ]

    # The printed table has a row per measured side and says whether each target was met.
    assert "| poll | mock |" in done.stdout and "| poll | bare |" in done.stdout
    assert "throughput vs bare" in done.stdout


def test_benchmark_compares_poll_and_create_throughput_across_stores_and_worker_counts(tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "stores.json"
    command = [
        sys.executable, "-m", "benchmarks", "poll-stores", "create-stores",
        "--seconds", "0.5", "--repeats", "1", "--warmup", "0", "--connections", "4", "--out", str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    scenarios = json.loads(out.read_text())["scenarios"]
    assert [scenario["name"] for scenario in scenarios] == ["poll-stores", "create-stores"]
    expected = {"memory, 1 worker", "sqlite, 1 worker", "sqlite, 2 workers"}
    if shutil.which("redis-server"):
        expected |= {"redis, 1 worker", "redis, 2 workers"}
    for scenario in scenarios:
        if "redis, 1 worker" not in expected:
            assert any("Redis skipped" in note for note in scenario["notes"])
        assert set(scenario["sides"]) == expected
        for side, data in scenario["sides"].items():
            assert data["errors"] == 0 and data["runs"][0]["requests"] > 0, (scenario["name"], side)
        checks = {item["name"]: item for item in scenario["checks"]}
        # The targets are checked, not only reported: each has a limit and a verdict.
        two_vs_one = checks["throughput sqlite, 2 workers vs sqlite, 1 worker"]
        assert two_vs_one["target"] == ">= 1.00" and two_vs_one["met"] in (True, False)
        assert checks["throughput sqlite, 1 worker vs memory, 1 worker"]["target"] == ">= 0.50"
        assert f"| {scenario['name']} | sqlite, 2 workers |" in done.stdout


def test_benchmark_render_reports_render_time_per_size_and_downloads_from_the_cache(tmp_path: Path) -> None:
    out = tmp_path / "render.json"
    command = [
        sys.executable, "-m", "benchmarks", "render", "--render-size", "64x64", "--render-size", "128x72",
        "--render-seconds", "1", "--seconds", "0.5", "--repeats", "1", "--warmup", "0", "--connections", "2",
        "--out", str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    (scenario,) = json.loads(out.read_text())["scenarios"]
    assert "error" not in scenario, scenario.get("error")
    for size in ("64x64", "128x72"):
        median = scenario["sides"][f"render {size}"]["median"]
        assert median["render_s_per_video_s"] > 0 and median["video_kb"] > 0
    for side in ("mock (rendered, from cache)", "mock (fixture path, same file)", "bare (same file)"):
        data = scenario["sides"][side]
        assert data["errors"] == 0 and data["runs"][0]["requests"] > 0, side
    names = [item["name"] for item in scenario["checks"]]
    assert "render 64x64: seconds per second of video" in names
    assert "download from the cache vs the fixture path, MB/s" in names
    assert "| render | mock (rendered, from cache) |" in done.stdout
