"""How a test chooses a job's fate when it creates it.

Three ways, first match wins, all decided at creation so parallel tests never share state:
1. the request headers `X-Mock-Outcome` / `X-Mock-Duration`;
2. a marker in the prompt, for clients that cannot set headers: `[mock:failed:content_policy_violation]`,
   `[mock:duration=3]` (several markers may be combined);
3. the next entry of the scripted FIFO queue set over the control API.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Mapping

from mockserver.errors import APIError
from mockserver.jobs import Outcome

OUTCOME_HEADER = "x-mock-outcome"
DURATION_HEADER = "x-mock-duration"
# Only well-formed markers count: a prompt is user text, and "[mock:anything]" in it is just text.
_MARKER = re.compile(r"\[mock:(completed|failed(?::[a-z0-9_.\-]{1,64})?|duration=\d{1,5}(?:\.\d+)?)\]")
_CODE = re.compile(r"^[a-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class Script:
    """What a test asked for; None means "the server's default"."""

    outcome: Outcome | None = None
    duration: float | None = None  # total seconds from creation to a terminal state

    def merged_over(self, other: Script) -> Script:
        return Script(self.outcome or other.outcome, self.duration if self.duration is not None else other.duration)

    def to_json(self) -> dict[str, object]:
        return {"outcome": self.outcome.describe() if self.outcome else None, "duration": self.duration}


def parse_outcome(text: str, *, param: str = OUTCOME_HEADER) -> Outcome:
    text = text.strip()
    if text == "completed":
        return Outcome.completed()
    if text.startswith("failed"):
        _, _, code = text.partition(":")
        code = code.strip() or "internal_error"
        if not _CODE.match(code):
            raise APIError(400, f"Invalid failure code in {param}: {code!r} (use letters, digits, _ . -).", param=param, code="invalid_value")
        return Outcome.failure(code)
    raise APIError(
        400,
        f"Invalid {param}: {text!r}. Use 'completed' or 'failed:<code>' (e.g. failed:content_policy_violation).",
        param=param,
        code="invalid_value",
    )


def parse_duration(text: str, *, param: str = DURATION_HEADER) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise APIError(400, f"Invalid {param}: {text!r}. Give seconds between 0 and 86400.", param=param, code="invalid_value")
    return value


def from_headers(headers: Mapping[str, str]) -> Script:
    outcome = headers.get(OUTCOME_HEADER)
    duration = headers.get(DURATION_HEADER)
    return Script(
        parse_outcome(outcome) if outcome else None,
        parse_duration(duration) if duration else None,
    )


def from_prompt(prompt: str | None) -> Script:
    script = Script()
    for marker in _MARKER.findall(prompt or ""):
        marker = marker.strip()
        if marker.startswith("duration="):
            script = Script(script.outcome, parse_duration(marker.removeprefix("duration="), param="prompt"))
        else:
            script = Script(parse_outcome(marker, param="prompt"), script.duration)
    return script


class ScriptQueue:
    """FIFO queues of scripts for the next creates that did not choose their own.

    One queue per API key (by fingerprint) plus a shared one. A create takes from its own key's
    queue first and only then from the shared queue, so parallel tests that each script their own
    key never consume each other's outcomes.
    """

    def __init__(self) -> None:
        self._shared: deque[Script] = deque()
        self._by_owner: dict[str, deque[Script]] = {}
        self._lock = threading.Lock()

    def push(self, *scripts: Script, owner: str | None = None) -> int:
        with self._lock:
            queue = self._shared if owner is None else self._by_owner.setdefault(owner, deque())
            queue.extend(scripts)
            return len(queue)

    def pop(self, owner: str | None = None) -> Script | None:
        with self._lock:
            own = self._by_owner.get(owner) if owner is not None else None
            if own:
                script = own.popleft()
                if not own:
                    del self._by_owner[owner]  # type: ignore[arg-type]
                return script
            return self._shared.popleft() if self._shared else None

    def pending(self, owner: str | None = None) -> list[Script]:
        """The shared queue (owner None), or one key's own queue."""
        with self._lock:
            return list(self._shared if owner is None else self._by_owner.get(owner, ()))

    def pending_by_owner(self) -> dict[str, list[Script]]:
        with self._lock:
            return {owner: list(queue) for owner, queue in self._by_owner.items()}

    def clear(self, owner: str | None = None) -> None:
        """Everything (owner None), or one key's queue only."""
        with self._lock:
            if owner is None:
                self._shared.clear()
                self._by_owner.clear()
            else:
                self._by_owner.pop(owner, None)
