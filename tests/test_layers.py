"""The package layout's rules hold: each plane imports only what docs/ARCHITECTURE.md says it may.

A newcomer relies on these rules to know where to look and what is safe to import; this keeps them
true as the code changes. Imports are read with `ast` (inside functions and TYPE_CHECKING blocks too).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mockserver"

# plane -> the planes its modules may import (its own always, and the package's version and the files
# it ships, `mockserver.resources`, everywhere but in the client). Start-up modules at the top (cli,
# config, workers, pytest_plugin, __main__) assemble everything and may import anything.
SHARED = {"__version__", "resources"}
ALLOWED: dict[str, set[str]] = {
    "core": {"store"},
    "store": {"core"},
    "contract": {"core"},
    "profiles": {"core", "contract"},
    "render": {"core"},
    "control": {"core", "store", "contract"},
    "http": {"core", "store", "contract", "profiles", "control", "render", "ui", "config"},
    "ui": {"core"},
    "conformance": {"core", "contract"},
    "proxy": {"core", "contract", "conformance", "http"},
    "specgen": set(),
    "client": {"core.keys"},
    "resources": set(),
}


def _plane(module: str) -> str:
    """`mockserver.http.app` -> "http"; a top-level module is its own plane (`mockserver.client` -> "client")."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("mockserver.")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _violations(plane: str) -> list[str]:
    allowed = {plane, *ALLOWED[plane], *(SHARED if plane != "client" else ())}
    single = PACKAGE / f"{plane}.py"
    paths = [single] if single.exists() else sorted((PACKAGE / plane).rglob("*.py"))
    wrong = []
    for path in paths:
        for imported in sorted(_imports(path)):
            target = imported.removeprefix("mockserver.")
            if not any(target == a or target.startswith(f"{a}.") for a in allowed):
                wrong.append(f"{_module_name(path)} imports {imported}")
    return wrong


@pytest.mark.parametrize("plane", sorted(ALLOWED))
def test_each_plane_imports_only_the_planes_it_may(plane: str) -> None:
    assert _violations(plane) == []


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.relative_to(PACKAGE.parent)} has no docstring"
        assert "import" in doc.lower(), f"{init.relative_to(PACKAGE.parent)} does not say what it may import"


def test_importing_the_control_client_loads_no_server_module() -> None:
    code = (
        "import json, sys, mockserver.client\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('mockserver', 'starlette'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    # core.keys is the API key's fingerprint, standard library only; the client filters by it.
    assert json.loads(loaded.stdout) == ["mockserver", "mockserver.client", "mockserver.core", "mockserver.core.keys"]
