"""Job and character ids: random by default, reproducible with a seed."""

from __future__ import annotations

import random
import secrets
import threading


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._random = random.Random(seed) if seed is not None else None
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        # 32 hex digits, the length of the official `video_68d7512d07848190b3e45da0ecbebcde` ids.
        if self._random is None:
            return f"{prefix}_{secrets.token_hex(16)}"
        with self._lock:
            return f"{prefix}_{self._random.getrandbits(128):032x}"

    def reset(self) -> None:
        if self.seed is not None:
            with self._lock:
                self._random = random.Random(self.seed)
