"""Make the `mockserver` pytest plugin available when running from a source tree.

Installed (`pip install -e .[test]`, as ./scripts/test does), the plugin is loaded from its
pytest11 entry point; with only PYTHONPATH set, it is not, so register it here once.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("mockserver"):
        config.pluginmanager.register(importlib.import_module("mockserver.pytest_plugin"), "mockserver")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server per test process (xdist worker); tests separate by key prefix."""
    from tests.redis_server import redis_server

    with redis_server() as url:
        yield url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests recorded for the reader (e.g. the built wheel's size), from any xdist worker."""
    lines = {
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in report.user_properties
        if name == "summary"
    }
    if lines:
        terminalreporter.section("recorded")
        for line in sorted(lines):
            terminalreporter.write_line(line)


OFFICIAL_SPEC_ENV = "MOCKSERVER_OFFICIAL_SPEC"


@pytest.fixture(scope="session")
def official_spec() -> dict[str, Any]:
    """The official OpenAI spec, for the tests that hold the contract to it. It is reference data this
    repository neither carries nor looks for: a developer with a copy sets MOCKSERVER_OFFICIAL_SPEC=PATH."""
    import yaml

    path = os.environ.get(OFFICIAL_SPEC_ENV)
    if not path:
        pytest.skip(f"set {OFFICIAL_SPEC_ENV}=PATH to the official OpenAI spec to hold the contract to it as well")
    document: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return document
