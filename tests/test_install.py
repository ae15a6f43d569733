"""The package as a user installs it: a wheel or an sdist in a fresh venv outside the checkout.

Editable installs (./scripts/*, the rest of this suite) read openapi/ and fixtures/ from the
checkout and would hide a build that forgets them. Here the dists are built from a copy of the
project's files, installed (not editable) into new virtual environments, and every command runs
from an empty temporary directory: the server with the official SDK and PyAV, the pytest plugin
in a tiny project of its own, the checker, and `--version`. Every CPython >= 3.11 this machine has
gets the wheel; the sdist is checked on the interpreter running the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mockserver import __version__
from tests.processes import REPO, wait_healthy

PIP_TIMEOUT_S = 600
STEP_TIMEOUT_S = 180
# Where Python versions other than the running one are looked for: pyenv's versions and PATH.
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
MINORS = range(11, 16)


def _interpreter(minor: int) -> Path | None:
    candidates = sorted(PYENV_VERSIONS.glob(f"3.{minor}.*/bin/python3.{minor}"), reverse=True)
    found = shutil.which(f"python3.{minor}")
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        result = subprocess.run(
            [candidate, "-c", "import sys, venv, ensurepip; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if result.returncode == 0 and result.stdout.strip() == f"(3, {minor})":
            return candidate
    return None


def _interpreters() -> dict[str, Path]:
    found = {f"3.{minor}": path for minor in MINORS if (path := _interpreter(minor)) is not None}
    found[f"3.{sys.version_info.minor}"] = Path(sys.executable)
    return dict(sorted(found.items()))


INTERPRETERS = _interpreters()


def _clean_env() -> dict[str, str]:
    """The environment a user's shell has: nothing pointing into this checkout or its venv."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSAFEPATH"}
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float = STEP_TIMEOUT_S, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it, from a copy of the files git would commit."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = work / "dist"
    _run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, source], cwd=work, timeout=PIP_TIMEOUT_S
    )
    (wheel,) = out.glob("mockserver-*.whl")
    (sdist,) = out.glob("mockserver-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@dataclass
class InstalledVenv:
    root: Path
    home: Path  # an empty directory outside the checkout, the cwd of every command

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def mockserver(self) -> Path:
        return self.root / "bin" / "mockserver"

    def run(self, *args: str | Path, timeout: float = STEP_TIMEOUT_S) -> str:
        return _run(list(args), cwd=self.home, timeout=timeout)


def _install(tmp_path: Path, interpreter: Path, dist: Path, extras: str = "conform") -> InstalledVenv:
    root = tmp_path / "venv"
    home = tmp_path / "home"
    home.mkdir()
    _run([interpreter, "-m", "venv", root], cwd=home)
    venv = InstalledVenv(root, home)
    # What a user adds beside the package: the SDK their application uses, pytest, and PyAV to look at the video.
    venv.run(
        venv.python,
        "-m",
        "pip",
        "install",
        "--quiet",
        f"mockserver[{extras}] @ {dist.as_uri()}",
        "openai",
        "pytest",
        "av",
        timeout=PIP_TIMEOUT_S,
    )
    return venv


SDK_FLOW = """
import sys
import av
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key="sk-installed")
video = client.videos.create_and_poll(model="sora-2", prompt="A calico cat playing a piano", seconds="4")
assert video.status == "completed", video
client.videos.download_content(video.id).write_to_file("cat.mp4")
with av.open("cat.mp4") as container:
    stream = container.streams.video[0]
    frames = sum(1 for _ in container.decode(stream))
    size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    print(f"decoded {frames} frames {size} {float(container.duration / av.time_base):.1f}s")
"""

PLUGIN_TESTS = """
from openai import OpenAI


def test_scripted_failure_over_a_socket(mockserver):
    mockserver.outcomes.push("failed:content_policy_violation", duration=0)
    client = OpenAI(base_url=mockserver.base_url, api_key=mockserver.api_key)
    video = client.videos.create_and_poll(model="sora-2", prompt="A calico cat")
    assert video.status == "failed" and video.error.code == "content_policy_violation"


def test_no_socket(mockserver_asgi):
    handle = mockserver_asgi
    client = OpenAI(base_url=handle.base_url, api_key=handle.api_key, http_client=handle.http_client)
    video = client.videos.create(model="sora-2-pro", prompt="A calico cat", size="1280x720")
    mockserver_asgi.clock.advance(600)
    assert client.videos.retrieve(video.id).status == "completed"
    assert client.videos.download_content(video.id).content[4:8] == b"ftyp"
"""


WHERE_FROM = """
import mockserver, mockserver.resources as r
print(mockserver.__file__, r.openapi_dir(), r.fixtures_dir())
"""


def _check_installed_from_site_packages(venv: InstalledVenv) -> None:
    where = venv.run(
        venv.python,
        "-c",
        WHERE_FROM,
    ).split()
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.root.resolve()), f"{path} is not inside the installed venv"
        assert not Path(path).resolve().is_relative_to(REPO), f"{path} is read from the checkout"


def _serve_and_use(venv: InstalledVenv, media: str = "fixtures") -> None:
    """`media`: what health must say the downloads are ("rendered" with the media extra installed)."""
    process = subprocess.Popen(
        [venv.mockserver, "serve", "--port", "0", "--speed", "0", "--media-cache", venv.home / "media-cache"],
        cwd=venv.home,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for _ in range(50):  # serve announces the port it bound among uvicorn's first log lines
            seen.append(process.stdout.readline())
            if match := re.search(r"base URL (http://[\d.]+:\d+)/v1", seen[-1]):
                break
        assert match, f"no address in {seen!r}"
        # uvicorn logs every request: keep reading so that a full pipe never stalls the server.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        root = match.group(1)
        health = wait_healthy(f"{root}/__mock/health", process)
        assert health["status"] == "ok", health
        assert health["media"] == media, health
        dashboard = httpx.get(f"{root}/__mock/ui/app.js", timeout=10)
        assert dashboard.status_code == 200 and "/__mock/jobs" in dashboard.text, dashboard.text[:200]
        assert Path(health["spec"]).resolve().is_relative_to(venv.root.resolve()), (
            f"the contract was read from {health['spec']}"
        )
        (venv.home / "flow.py").write_text(SDK_FLOW)
        decoded = venv.run(venv.python, "flow.py", root + "/v1")
        frames = re.search(r"decoded (\d+) frames 720x1280 (\d+\.\d)s", decoded)
        assert frames and int(frames.group(1)) > 0 and frames.group(2) == "4.0", decoded
        conform = subprocess.run(
            [
                venv.mockserver,
                "conform",
                "--base-url",
                root + "/v1",
                "--api-key",
                "sk-conform",
                "--phases",
                "lifecycle,examples",
                "--max-examples",
                "3",
                "--quiet",
                "--report",
                "json,html",
                "--report-dir",
                venv.home / "reports",
            ],
            cwd=venv.home,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )
        assert conform.returncode == 0, (
            f"conform failed against the installed fake:\n{conform.stdout[-4000:]}\n{conform.stderr[-2000:]}"
        )
        assert (venv.home / "reports" / "conform-report.html").is_file(), sorted(
            p.name for p in (venv.home / "reports").iterdir()
        )
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _use_the_plugin(venv: InstalledVenv) -> None:
    project = venv.home / "app"
    project.mkdir()
    (project / "test_app.py").write_text(textwrap.dedent(PLUGIN_TESTS))
    output = _run([venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert "2 passed" in output, output


def test_wheel_carries_the_contracts_and_media_and_nothing_of_the_checkout(
    dists: dict[str, Path], record_property: Callable[[str, object], None]
) -> None:
    wheel, sdist = dists["wheel"], dists["sdist"]
    record_property(
        "summary",
        f"{wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB; {sdist.name}: {sdist.stat().st_size / 1e6:.2f} MB",
    )
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "openapi/reference.yaml",
        "openapi/docs.yaml",
        "openapi/control.yaml",
        "openapi/overlays/reference.overlay.yaml",
        "openapi/source/openai-video-format.zh.md",
        "fixtures/README.md",
        "fixtures/video_720x1280_4s.mp4",
        "fixtures/thumbnail_1280x720.webp",
        "fixtures/spritesheet_1792x1024.jpg",
        "render/source.py",
        "render/encode.py",
        "ui/static/index.html",
        "ui/static/app.js",
        "ui/static/style.css",
    ):
        assert f"mockserver/{needed}" in names, f"mockserver/{needed} missing from the wheel"
    top = {name.split("/")[0] for name in names}
    assert top == {"mockserver", f"mockserver-{__version__}.dist-info"}, top
    assert not [n for n in names if re.search(r"(^|/)(tests|benchmarks|shared|scripts)/", n)], (
        "test, benchmark or shared files in the wheel"
    )
    assert not [n for n in names if "openai-videos.official" in n or "gateways.md" in n]


@pytest.mark.parametrize("python", INTERPRETERS, ids=lambda v: f"py{v}")
def test_wheel_installed_outside_the_checkout_serves_plugs_in_and_conforms(
    dists: dict[str, Path], python: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    # On the interpreter running the suite the wheel gets the media extra too: the video the SDK
    # downloads and PyAV decodes is then the one drawn for the job; elsewhere the committed fixture.
    with_media = python == f"3.{sys.version_info.minor}"
    record_property(
        "summary",
        f"wheel installed and used on CPython {python} ({INTERPRETERS[python]})"
        + (" with [media]" if with_media else ""),
    )
    venv = _install(tmp_path, INTERPRETERS[python], dists["wheel"], "conform,media" if with_media else "conform")
    assert venv.run(venv.python, "-m", "mockserver", "--version").strip() == f"mockserver {__version__}"
    _check_installed_from_site_packages(venv)
    _serve_and_use(venv, "rendered" if with_media else "fixtures")
    _use_the_plugin(venv)


def test_sdist_installed_outside_the_checkout_serves_plugs_in_and_conforms(
    dists: dict[str, Path], tmp_path: Path
) -> None:
    venv = _install(tmp_path, Path(sys.executable), dists["sdist"])
    assert venv.run(venv.mockserver, "--version").strip() == f"mockserver {__version__}"
    _check_installed_from_site_packages(venv)
    _serve_and_use(venv)
    _use_the_plugin(venv)
