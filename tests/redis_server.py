"""A real `redis-server` on a free loopback port, for the tests of the Redis store.

`.ci/run` installs redis-server when it is missing; where it cannot be installed or started the
tests that need it are skipped with a message saying so, never silently passed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest

from mockserver.store.local_redis import RedisUnavailable, local_redis


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields `redis://127.0.0.1:PORT/0` for a private redis-server, stopped afterwards."""
    try:
        with local_redis() as url:
            yield url
    except RedisUnavailable as exc:  # raised only while starting: the block itself never raises it
        pytest.skip(str(exc))
