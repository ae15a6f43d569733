"""How a test chooses a job's fate when it creates it.

Three ways, first match wins, all decided at creation so parallel tests never share state:
1. the request headers `X-Mock-Outcome` / `X-Mock-Duration`;
2. a marker in the prompt, for clients that cannot set headers: `[mock:failed:content_policy_violation]`,
   `[mock:duration=3]` (several markers may be combined);
3. the next entry of the scripted FIFO queue set over the control API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.core.errors import APIError
from mockserver.core.jobs import Outcome
from mockserver.store import Store
from mockserver.store.base import outcome_to_json

OUTCOME_HEADER = "x-mock-outcome"
DURATION_HEADER = "x-mock-duration"
# Only well-formed markers count: a prompt is user text, and "[mock:anything]" in it is just text.
_MARKER = re.compile(r"\[mock:(completed|failed(?::[a-z0-9_.\-]{1,64})?|duration=\d{1,5}(?:\.\d+)?)\]")
_CODE = re.compile(r"^[a-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class ScriptedOutcome:
    """What a test asked for; None means "the server's default"."""

    outcome: Outcome | None = None
    duration: float | None = None  # total seconds from creation to a terminal state

    def merged_over(self, other: ScriptedOutcome) -> ScriptedOutcome:
        return ScriptedOutcome(
            self.outcome or other.outcome, self.duration if self.duration is not None else other.duration
        )

    def to_json(self) -> dict[str, object]:
        return {"outcome": self.outcome.describe() if self.outcome else None, "duration": self.duration}

    def to_record(self, owner: str | None) -> dict[str, Any]:
        """For the store: plain JSON, with the queue's owner so a listing can group by key."""
        outcome = self.outcome
        return {
            "outcome": None if outcome is None else outcome_to_json(outcome),
            "duration": self.duration,
            "owner": owner,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScriptedOutcome:
        outcome = record.get("outcome")
        return cls(Outcome(**outcome) if outcome else None, record.get("duration"))


def parse_outcome(text: str, *, param: str = OUTCOME_HEADER) -> Outcome:
    text = text.strip()
    if text == "completed":
        return Outcome.completed()
    if text.startswith("failed"):
        _, _, code = text.partition(":")
        code = code.strip() or "internal_error"
        if not _CODE.match(code):
            raise APIError(
                400,
                f"Invalid failure code in {param}: {code!r} (use letters, digits, _ . -).",
                param=param,
                code="invalid_value",
            )
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
        raise APIError(
            400, f"Invalid {param}: {text!r}. Give seconds between 0 and 86400.", param=param, code="invalid_value"
        )
    return value


def from_headers(headers: Mapping[str, str]) -> ScriptedOutcome:
    outcome = headers.get(OUTCOME_HEADER)
    duration = headers.get(DURATION_HEADER)
    return ScriptedOutcome(
        parse_outcome(outcome) if outcome else None,
        parse_duration(duration) if duration else None,
    )


def from_prompt(prompt: str | None) -> ScriptedOutcome:
    script = ScriptedOutcome()
    for marker in _MARKER.findall(prompt or ""):
        marker = marker.strip()
        if marker.startswith("duration="):
            script = ScriptedOutcome(script.outcome, parse_duration(marker.removeprefix("duration="), param="prompt"))
        else:
            script = ScriptedOutcome(parse_outcome(marker, param="prompt"), script.duration)
    return script


class OutcomeQueue:
    """FIFO queues of scripts for the next creates that did not choose their own, kept in the store.

    One queue per API key (by fingerprint) plus a shared one. A create takes from its own key's
    queue first and only then from the shared queue, so parallel tests that each script their own
    key never consume each other's outcomes. Each queue is one document changed atomically, so
    workers sharing a store hand out every scripted outcome exactly once.
    """

    KIND = "scripts"
    SHARED = "*"  # not a fingerprint (those are hex), so no key's queue can collide with it

    def __init__(self, store: Store) -> None:
        self._store = store

    def push(self, *scripts: ScriptedOutcome, owner: str | None = None) -> int:
        items = [s.to_record(owner) for s in scripts]
        return self._store.update(
            self.KIND, owner or self.SHARED, lambda queue: ([*(queue or []), *items], len(queue or []) + len(items))
        )

    def _pop_from(self, name: str) -> ScriptedOutcome | None:
        # Every create without a script asks two queues, usually empty: a read says so without the
        # atomic read-modify-write (on Redis, a read and a compare-and-set each). Nothing can be
        # taken from an empty queue, so skipping then is safe however workers race.
        if not self._store.get_doc(self.KIND, name):
            return None

        def take(queue: Any) -> tuple[Any, Any]:
            if not queue:
                return None, None
            return (queue[1:] or None), queue[0]  # an emptied queue is deleted, not kept as []

        record = self._store.update(self.KIND, name, take)
        return ScriptedOutcome.from_record(record) if record is not None else None

    def pop(self, owner: str | None = None) -> ScriptedOutcome | None:
        own = self._pop_from(owner) if owner is not None else None
        return own or self._pop_from(self.SHARED)

    def pending(self, owner: str | None = None) -> list[ScriptedOutcome]:
        """The shared queue (owner None), or one key's own queue."""
        return [ScriptedOutcome.from_record(r) for r in self._store.get_doc(self.KIND, owner or self.SHARED) or []]

    def pending_by_owner(self) -> dict[str, list[ScriptedOutcome]]:
        # `docs` returns documents without their ids, so each record carries its queue's owner.
        by_owner: dict[str, list[ScriptedOutcome]] = {}
        for queue in self._store.docs(self.KIND):
            for record in queue:
                if record["owner"] is not None:
                    by_owner.setdefault(record["owner"], []).append(ScriptedOutcome.from_record(record))
        return by_owner

    def clear(self, owner: str | None = None) -> None:
        """Everything (owner None), or one key's queue only."""
        if owner is None:
            self._store.delete_docs(self.KIND)
        else:
            self._store.delete_docs(self.KIND, [owner])
