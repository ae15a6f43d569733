"""Opt-in slow tests: `slow`-marked tests are skipped unless asked for.

Ask with `./scripts/test -m slow tests/compat` (any -m expression naming `slow`) or RUN_SLOW=1.
They install the npm `openai` package and a pinned LiteLLM venv into .bench/ (network, ~1 minute
the first time). The hook sees the whole session's items but touches only slow items under
tests/compat; other slow tests (e.g. tests/test_conform_litellm.py) keep their own skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUN_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with ./scripts/test -m slow tests/compat (or RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords and HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)
