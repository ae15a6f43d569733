"""Server time: real time, scaled, frozen or advanced, behind one small value object.

Jobs never store their status; they are read through `Clock.now()`, so moving the clock moves every
job at once. The settings are plain data so that a shared store can hold them for many workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable


@dataclass(frozen=True)
class ClockSettings:
    """Virtual time = `anchor_virtual + (real - anchor_real) * speed`, or `anchor_virtual` when frozen."""

    anchor_real: float
    anchor_virtual: float
    speed: float = 1.0
    frozen: bool = False

    def at(self, real: float) -> float:
        if self.frozen:
            return self.anchor_virtual
        return self.anchor_virtual + (real - self.anchor_real) * self.speed


class Clock:
    def __init__(self, real_time: Callable[[], float] = time.time) -> None:
        self._real_time = real_time
        self.settings = self._real_settings()

    def _real_settings(self) -> ClockSettings:
        now = self._real_time()
        return ClockSettings(anchor_real=now, anchor_virtual=now)

    def now(self) -> float:
        return self.settings.at(self._real_time())

    def _reanchor(self, **changes: float | bool) -> ClockSettings:
        # Re-anchoring at "now" keeps virtual time continuous across every change of speed or freeze.
        real = self._real_time()
        self.settings = replace(self.settings, anchor_real=real, anchor_virtual=self.settings.at(real), **changes)
        return self.settings

    def freeze(self) -> ClockSettings:
        return self._reanchor(frozen=True)

    def unfreeze(self) -> ClockSettings:
        return self._reanchor(frozen=False)

    def advance(self, seconds: float) -> ClockSettings:
        if seconds < 0:
            raise ValueError("the clock only moves forward: jobs cannot un-happen")
        settings = self._reanchor()
        self.settings = replace(settings, anchor_virtual=settings.anchor_virtual + seconds)
        return self.settings

    def set_speed(self, speed: float) -> ClockSettings:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        return self._reanchor(speed=speed)

    def reset(self) -> ClockSettings:
        """Back to real time. Virtual time may jump backwards; only `reset` is allowed to do that."""
        self.settings = self._real_settings()
        return self.settings

    def describe(self) -> dict[str, float | bool]:
        return {
            "now": self.now(),
            "real_now": self._real_time(),
            "speed": self.settings.speed,
            "frozen": self.settings.frozen,
            "offset": self.now() - self._real_time(),
        }
