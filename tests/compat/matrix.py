"""Run real clients against every profile and write docs/compat-matrix.md.

    python -m tests.compat.matrix                    # all columns; installs the npm and LiteLLM clients into .bench/
    python -m tests.compat.matrix --columns python   # only the openai Python SDK column (what CI checks)
    python -m tests.compat.matrix --check            # compare with the committed file, write nothing

Rows are the profiles of `mockserver serve --profile`; columns are real, unmodified clients.
Each profile gets its own `mockserver serve` process on a free loopback port with short job
timings (queued 0.5 s, then 1.6 s running), so a client sees every phase in about two seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from mockserver import profiles
from tests.compat import python_sdk, scenario
from tests.processes import REPO, serve

DOC = REPO / "docs" / "compat-matrix.md"
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("COMPAT_CACHE_DIR", REPO / ".bench"))
NPM_DIR = CACHE / "npm-openai"
LITELLM_VENV = CACHE / "litellm-venv"
LITELLM_PIN = "litellm==1.106.2"  # 1.106.3+ need a newer certifi; never 1.107.x (compromised release)
REGENERATE = "python -m tests.compat.matrix"
CLIENT_TIMEOUT_S = 120.0  # one client run, LiteLLM's import included

# Short, fixed phases so every client meets `queued` and the running word before completion.
TIMINGS_YAML = "timings:\n  '*': {queue_seconds: 0.5, render_seconds_per_clip_second: 0.4}\n"


class ClientUnavailable(Exception):
    """The client could not be installed or started (no network, no node, ...)."""


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    prepare: Callable[[], str]  # installs if needed; returns the client's version
    run: Callable[[str], str]  # base URL -> cell


@contextlib.contextmanager
def install_lock() -> Iterator[None]:
    """Parallel test workers must not run `npm install` or `pip install` into the same cache at once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".compat-install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the openai Python SDK: in this process -----------------------------------------------------


def _python_prepare() -> str:
    return python_sdk.client_version()


# -- the openai npm package: node, installed into a cache dir -----------------------------------


def _npm_prepare() -> str:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise ClientUnavailable("node and npm are needed for the npm column")
    package = NPM_DIR / "node_modules" / "openai" / "package.json"
    if not package.exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        if not (NPM_DIR / "package.json").exists():
            (NPM_DIR / "package.json").write_text('{"name": "compat-npm-openai", "private": true}\n')
        result = subprocess.run(
            ["npm", "install", "openai@latest", "--no-audit", "--no-fund"],
            cwd=NPM_DIR, capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise ClientUnavailable(f"npm install openai failed: {result.stderr[-500:]}")
    return str(json.loads(package.read_text())["version"])


def _npm_run(base_url: str) -> str:
    return _json_client(["node", str(HERE / "node_openai.mjs"), base_url], {"OPENAI_NPM_DIR": str(NPM_DIR)})


# -- LiteLLM's SDK: its own venv, pinned ---------------------------------------------------------


def _litellm_python() -> Path:
    return LITELLM_VENV / "bin" / "python"


def _litellm_prepare() -> str:
    python = _litellm_python()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=120)
    check = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"], capture_output=True, text=True)
    if check.returncode != 0 or check.stdout.strip() != LITELLM_PIN.split("==")[1]:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", LITELLM_PIN], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            raise ClientUnavailable(f"pip install {LITELLM_PIN} failed: {result.stderr[-500:]}")
    return LITELLM_PIN.split("==")[1]


def _litellm_run(base_url: str) -> str:
    return _json_client([str(_litellm_python()), str(HERE / "litellm_client.py"), base_url], {"LITELLM_LOCAL_MODEL_COST_MAP": "True"})


def _json_client(command: list[str], env: dict[str, str]) -> str:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env={**os.environ, **env}, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return f"client did not finish within {CLIENT_TIMEOUT_S:.0f}s"
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise ClientUnavailable(f"{command[0]} exited {result.returncode}: {(result.stderr or result.stdout)[-800:]}")
    return scenario.clean(str(json.loads(lines[-1])["cell"]))


COLUMNS: dict[str, Column] = {
    "python": Column("python", "openai Python SDK", _python_prepare, python_sdk.run),
    "npm": Column("npm", "openai npm", _npm_prepare, _npm_run),
    "litellm": Column("litellm", "LiteLLM SDK", _litellm_prepare, _litellm_run),
}


# -- running --------------------------------------------------------------------------------------


def run_profile(profile: str, columns: list[Column]) -> dict[str, str]:
    """One `serve --profile` process; every client in turn against it."""
    with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
        config = Path(tmp) / "timings.yaml"
        config.write_text(TIMINGS_YAML)
        with serve("--profile", profile, "--config", str(config), "--log-level", "warning") as server:
            return {column.key: column.run(server.base_url) for column in columns}


def run_matrix(column_keys: list[str], names: tuple[str, ...] = profiles.NAMES) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    columns = [COLUMNS[key] for key in column_keys]
    with install_lock():
        versions = {column.key: column.prepare() for column in columns}
    with ThreadPoolExecutor(max_workers=min(len(names), 6)) as pool:
        rows = dict(zip(names, pool.map(lambda name: run_profile(name, columns), names)))
    return rows, versions


# -- the document ---------------------------------------------------------------------------------


def render(rows: dict[str, dict[str, str]], versions: dict[str, str], command: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    keys = [key for key in COLUMNS if key in versions]
    titles = [f"{COLUMNS[key].title} {versions[key]}" for key in keys]
    node = _node_version()
    lines = [
        "# Client compatibility matrix",
        "",
        f"<!-- GENERATED: do not edit by hand. Regenerated by `{command}` on {now}. -->",
        f"Generated by `{command}` on {now} (Python {sys.version.split()[0]}"
        + (f", node {node}" if node and "npm" in keys else "")
        + "). Regenerate all columns with `python -m tests.compat.matrix` (installs the npm and LiteLLM clients "
        "into `.bench/`); `./scripts/test -m slow tests/compat` checks the committed file against a fresh run, "
        "and the normal test suite checks the Python SDK column.",
        "",
        "Rows are `mockserver serve --profile NAME`; columns are real, unmodified clients doing the same thing: "
        f"create a {scenario.SECONDS}-second `{scenario.MODEL}` video, wait for it the way the client's docs do "
        "(Python: `create_and_poll`; npm and LiteLLM: `retrieve`/`video_status` while the status is "
        "`queued` or `in_progress`), download it, and check the bytes are an MP4. "
        "A cell says `works`, or the first thing a user of that client would notice going wrong.",
        "",
        "| profile | " + " | ".join(titles) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, cells in rows.items():
        lines.append(f"| `{name}` | " + " | ".join(cells[key] for key in keys) + " |")
    lines += ["", "## What each profile changes", ""]
    for name in rows:
        cls = profiles.profile_class(name)
        lines.append(f"- `{name}`: {cls.summary}.")
    lines += ["", "`mockserver profiles --verbose` lists every deviation with its source.", ""]
    return "\n".join(lines)


def parse(text: str) -> dict[str, dict[str, str]]:
    """The committed table back into {profile: {column key: cell}}."""
    rows: dict[str, dict[str, str]] = {}
    keys: list[str] = []
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "profile":
            keys = [next(k for k, c in COLUMNS.items() if title.startswith(c.title)) for title in cells[1:]]
            continue
        rows[cells[0].strip("`")] = dict(zip(keys, cells[1:]))
    return rows


def _node_version() -> str | None:
    if shutil.which("node") is None:
        return None
    result = subprocess.run(["node", "--version"], capture_output=True, text=True)
    return result.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.compat.matrix", description=__doc__.splitlines()[0])
    p.add_argument("--columns", default=",".join(COLUMNS), help=f"comma-separated, from {', '.join(COLUMNS)} (default: all)")
    p.add_argument("--check", action="store_true", help="compare a fresh run with the committed file; write nothing")
    p.add_argument("--output", type=Path, default=DOC, help=f"where to write (default: {DOC.relative_to(REPO)})")
    args = p.parse_args(argv)
    keys = [key.strip() for key in args.columns.split(",") if key.strip()]
    unknown = [key for key in keys if key not in COLUMNS]
    if unknown:
        p.error(f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(COLUMNS)}")
    try:
        rows, versions = run_matrix(keys)
    except ClientUnavailable as exc:
        print(f"cannot run the matrix: {exc}", file=sys.stderr)
        return 2
    if args.check:
        committed = parse(args.output.read_text(encoding="utf-8")) if args.output.exists() else {}
        drift = [
            f"{name} / {key}: committed {committed.get(name, {}).get(key)!r}, observed {cell!r}"
            for name, cells in rows.items() for key, cell in cells.items()
            if committed.get(name, {}).get(key) != cell
        ]
        print("\n".join(drift) or "the committed matrix matches this run")
        return 1 if drift else 0
    command = REGENERATE if args.columns == ",".join(COLUMNS) else f"{REGENERATE} --columns {args.columns}"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(rows, versions, command), encoding="utf-8")
    for name, cells in rows.items():
        print(f"{name:<10} " + " | ".join(cells[key] for key in keys))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
