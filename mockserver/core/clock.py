"""Server time: real time, scaled, frozen or advanced, behind one small value object.

Jobs never store their status; they are read through `Clock.now()`, so moving the clock moves every
job at once. The settings are plain data so that a shared store can hold them for many workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any


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


REAL_TIME = ClockSettings(anchor_real=0.0, anchor_virtual=0.0)  # virtual time = real time


class Clock:
    """Reads its settings from the store on every use, so every worker sharing a store shares the time.

    No settings stored means real time. Every change is a read-modify-write through `store.update`,
    atomic across processes, so two workers advancing at once both count.
    """

    KIND, ID = "settings", "clock"

    def __init__(self, store: Any = None, real_time: Callable[[], float] = time.time) -> None:
        if store is None:  # a lone Clock (a unit test) keeps its settings in a store of its own
            from mockserver.store.memory import MemoryStore

            store = MemoryStore()
        self._store = store
        self._shared = bool(getattr(store, "shared", False))
        self._real_time = real_time
        self._cached: tuple[Any, ClockSettings] = (None, REAL_TIME)
        self._pinned: ClockSettings | None = None  # see `for_request`

    @property
    def settings(self) -> ClockSettings:
        pinned = self._pinned
        return self._load() if pinned is None else pinned

    def for_request(self) -> Clock:
        """The clock one request uses: with a shared store, this one with its settings read once.

        There every read of the settings is a query; reading them once also gives the request one
        consistent time base. A change the request makes is seen by the rest of it. A memory store's
        settings are a dict lookup, so its requests use this clock itself.
        """
        if not self._shared:
            return self
        pinned = Clock(self._store, self._real_time)
        pinned._pinned = self._load()
        return pinned

    def _load(self) -> ClockSettings:
        doc = self._store.get_doc(self.KIND, self.ID)
        cached_doc, cached = self._cached
        if doc is cached_doc or doc == cached_doc:  # the same settings as last time: skip rebuilding them
            return cached
        settings = ClockSettings(**doc) if doc else REAL_TIME
        self._cached = (doc, settings)
        return settings

    def now(self) -> float:
        return self.settings.at(self._real_time())

    def reading(self) -> tuple[ClockSettings, float]:
        """The settings and the time they give now, from one read of the settings."""
        settings = self.settings
        return settings, settings.at(self._real_time())

    def _change(self, make: Callable[[ClockSettings, float], ClockSettings | None]) -> ClockSettings:
        real = self._real_time()

        def change(doc: Any) -> tuple[Any, ClockSettings]:
            current = ClockSettings(**doc) if doc else REAL_TIME
            new = make(current, real)
            return (asdict(new) if new is not None else None), (new or REAL_TIME)

        settings: ClockSettings = self._store.update(self.KIND, self.ID, change)
        if self._pinned is not None:
            self._pinned = settings  # the rest of this request sees its own change
        return settings

    def _reanchor(self, *, speed: float | None = None, frozen: bool | None = None) -> ClockSettings:
        # Re-anchoring at "now" keeps virtual time continuous across every change of speed or freeze.
        def reanchored(current: ClockSettings, real: float) -> ClockSettings:
            return replace(
                current,
                anchor_real=real,
                anchor_virtual=current.at(real),
                speed=current.speed if speed is None else speed,
                frozen=current.frozen if frozen is None else frozen,
            )

        return self._change(reanchored)

    def freeze(self) -> ClockSettings:
        return self._reanchor(frozen=True)

    def unfreeze(self) -> ClockSettings:
        return self._reanchor(frozen=False)

    def advance(self, seconds: float) -> ClockSettings:
        if seconds < 0:
            raise ValueError("the clock only moves forward: jobs cannot un-happen")
        return self._change(
            lambda current, real: replace(current, anchor_real=real, anchor_virtual=current.at(real) + seconds)
        )

    def set_speed(self, speed: float) -> ClockSettings:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        return self._reanchor(speed=speed)

    def reset(self) -> ClockSettings:
        """Back to real time. Virtual time may jump backwards; only `reset` is allowed to do that."""
        return self._change(lambda current, real: None)

    def describe(self) -> dict[str, float | bool]:
        settings, real = self.settings, self._real_time()
        now = settings.at(real)
        return {"now": now, "real_now": real, "speed": settings.speed, "frozen": settings.frozen, "offset": now - real}
