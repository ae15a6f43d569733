"""Job and character ids: random by default, reproducible with a seed.

With a seed, the n-th id of a kind is a hash of (seed, kind, n), and n comes from the store's
counter: every worker sharing a store draws from one sequence, so none repeats another's ids,
and a reset (which clears the counters) replays the same ids.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Protocol


class IdSource(Protocol):
    """What needs new ids asks this: the factory below, or a dialect's format over it (profiles.ProfileIds)."""

    def new(self, prefix: str) -> str: ...


class IdFactory:
    def __init__(self, seed: int | None, counter: Callable[[str], int]) -> None:
        self.seed = seed
        self._counter = counter  # the store's: see the module's docstring

    def new(self, prefix: str) -> str:
        # 32 hex digits, the length of the official `video_68d7512d07848190b3e45da0ecbebcde` ids.
        if self.seed is None:
            return f"{prefix}_{secrets.token_hex(16)}"
        n = self._counter(f"id:{prefix}")
        return f"{prefix}_{hashlib.sha256(f'{self.seed}:{prefix}:{n}'.encode()).hexdigest()[:32]}"
