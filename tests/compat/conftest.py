"""Opt-in slow tests: `slow`-marked tests are skipped unless asked for.

Ask with `./scripts/test -m slow tests/compat` (any -m expression naming `slow`) or RUN_SLOW=1.
They install the npm `openai` package and a pinned LiteLLM venv into .bench/ (network, ~1 minute
the first time). Only items marked `slow` are touched, so this hook is safe for the whole session.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUN_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with ./scripts/test -m slow tests/compat (or RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
