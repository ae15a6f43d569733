from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import RunningServer, serve


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """One real server per module; every test leaves it answering normally (and checks that it does)."""
    with serve("--speed", "0", "--log-level", "warning") as running:
        yield running
