"""A log line per kind of trouble per interval, not per request: a store that is down fails every request,
and a line for each would bury the log (and, on a pipe nobody reads fast enough, stall the server)."""

from __future__ import annotations

import threading
import time

INTERVAL_SECONDS = 5.0


class LogThrottle:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """None: say nothing this time. Otherwise log now; the number is how many lines were held back since."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._quiet[kind] = self._quiet.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._quiet.pop(kind, 0)
