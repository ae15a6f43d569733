"""python -m benchmarks: run the scenarios, print the table, save the JSON."""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import load, machine, report
from benchmarks.scenarios import SCENARIOS, Settings
from benchmarks.servers import REPO, MockSpec

DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.json"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the mock against a bare Starlette app, Prism and nginx on loopback; print a table and save JSON.",
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"which to run (default: all): {', '.join(SCENARIOS)}")
    p.add_argument("--connections", type=int, default=32, help="keep-alive connections per run, the same for every side (default: 32)")
    p.add_argument("--seconds", type=float, default=4.0, help="length of one measured run (default: 4)")
    p.add_argument("--repeats", type=int, default=3, help="measured runs per side; medians are reported (default: 3)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per side before measuring (default: 1)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers for the mock and the bare app (default: 1)")
    p.add_argument("--store", default=None, help="store URL for the mock (servers with store back-ends; default: memory)")
    # A start takes a fifth of a second and one busy moment moves it by a third: take more of them.
    p.add_argument("--startup-repeats", type=int, default=11, help="start-up measurements per side (default: 11)")
    p.add_argument("--scale-jobs", type=int, default=100_000, help="jobs for the scale-of-state scenario (default: 100000)")
    p.add_argument("--scale-small", type=int, default=100, help="the small store it is compared with (default: 100)")
    p.add_argument("--render-seconds", default="4", help="clip length the render scenario draws (default: 4)")
    p.add_argument(
        "--render-size", action="append", default=None, metavar="WxH",
        help="a size for the render scenario (repeatable; default: the four official sizes)",
    )
    p.add_argument("--without", action="append", default=[], choices=["prism", "nginx"], help="leave out this third-party baseline (repeatable)")
    p.add_argument("--python-load", action="store_true", help="use the built-in Python load generator even when wrk is installed")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to save the JSON (default: {DEFAULT_OUT.relative_to(REPO)})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser().error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    settings = Settings(
        load=load.Load(connections=args.connections, seconds=args.seconds),
        repeats=args.repeats, warmup_s=args.warmup, mock=MockSpec(workers=args.workers, store=args.store),
        prefer_wrk=not args.python_load, startup_repeats=args.startup_repeats,
        scale_jobs=args.scale_jobs, scale_small=args.scale_small, without=frozenset(args.without),
        render_seconds=args.render_seconds,
        **({"render_sizes": tuple(args.render_size)} if args.render_size else {}),
    )
    if settings.prefer_wrk and not load.wrk_available():
        print("wrk is not installed (apt-get install -y wrk); using the slower built-in Python load generator", file=sys.stderr)
    results: dict[str, Any] = {
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "settings": settings.to_json(),
        "scenarios": [],
    }
    try:
        for name in chosen:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                outcome = SCENARIOS[name](settings)
            except Exception as exc:  # one broken scenario must not lose the others' results
                traceback.print_exc()
                outcome = {"name": name, "error": f"{type(exc).__name__}: {exc}", "sides": {}, "checks": [], "notes": []}
            for item in outcome if isinstance(outcome, list) else [outcome]:
                item["wall_s"] = round(time.monotonic() - started, 1)
                results["scenarios"].append(item)
    finally:
        shutil.rmtree(settings.workdir, ignore_errors=True)
    results["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report.save(results, args.out)
    print(report.markdown(results))
    print(f"\nsaved {args.out}", file=sys.stderr)
    failed = [item["name"] for item in results["scenarios"] if "error" in item]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
