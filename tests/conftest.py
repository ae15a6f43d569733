"""Make the `mockserver` pytest plugin available when running from a source tree.

Installed (`pip install -e .[test]`, as ./scripts/test does), the plugin is loaded from its
pytest11 entry point; with only PYTHONPATH set, it is not, so register it here once.
"""

from __future__ import annotations

import importlib
from typing import Iterator

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
