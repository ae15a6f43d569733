"""Print the results as a table (medians and ratios, target met or not) and save them as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_COLUMNS = (("requests_per_s", "req/s", "{:.0f}"), ("p50_ms", "p50 ms", "{:.2f}"), ("p99_ms", "p99 ms", "{:.2f}"), ("mb_per_s", "MB/s", "{:.1f}"))


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "-"}[met]


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    s = results["settings"]
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}, Python {machine['python']} "
        f"(starlette {machine['starlette']}, uvicorn {machine['uvicorn']}). Load: {s['load_generator']}, "
        f"{s['connections']} connections, {s['seconds_per_run']:g} s per run, median of {s['repeats']} runs; "
        f"mock and baselines with {s['workers']} worker(s), store {s['store']}.",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | MB/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for scenario in results["scenarios"]:
        if "error" in scenario:
            continue
        for side, data in scenario["sides"].items():
            median = data.get("median")
            if median is None:
                lines.append(f"| {scenario['name']} | {side} | skipped | | | |")
            elif any(key in median for key, _, _ in _COLUMNS):
                cells = " | ".join(_cell(median.get(key), fmt) for key, _, fmt in _COLUMNS)
                lines.append(f"| {scenario['name']} | {side} | {cells} |")
    lines += ["", "| scenario | measure | value | target | |", "|---|---|---:|---|---|"]
    for scenario in results["scenarios"]:
        if "error" in scenario:
            lines.append(f"| {scenario['name']} | failed to run | | | {scenario['error'].splitlines()[0][:120]} |")
            continue
        for side, data in scenario["sides"].items():
            for key, value in (data.get("median") or {}).items():
                if not any(key == column for column, _, _ in _COLUMNS):
                    lines.append(f"| {scenario['name']} | {side}: {key} | {value:g} | | |")
        for item in scenario["checks"]:
            value = "-" if item["value"] is None else f"{item['value']:.2f}"
            lines.append(f"| {scenario['name']} | {item['name']} | {value} | {item['target']} | {_verdict(item['met'])} |")
    notes = [f"- {scenario['name']}: {note}" for scenario in results["scenarios"] for note in scenario.get("notes", [])]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
