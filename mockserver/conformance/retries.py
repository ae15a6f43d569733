"""The careful client: a 429 or 503 is waited out and retried, within a budget, as the SDKs do.

Every provider rate-limits, and the official SDKs retry a 429 (and 5xx) after the wait the server
asks for (`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date; an `x-should-retry`
header is obeyed first). A checker that judged the first answer would call a correct provider
broken, so every request of the run (the lifecycle phase's and schemathesis') goes through
`RetryLedger.decide`, and only the answer after the retries is judged.

The budget (`RetryPolicy`): at most `max_attempts` tries of one request, no single wait longer
than `max_wait` seconds (a longer `Retry-After` is not waited out: the SDKs give up on those too),
and at most `budget_seconds` of waiting in the whole run. A request still rate-limited when the
budget says stop is "given up": what it was needed for is skipped, never failed.

A create (any job-creating request) answered 429 was refused, so sending it again starts at most
the one job the budget already counted. A create answered 503 may have been accepted behind a
gateway; its retry is a new create and is sent only if `--max-creates` still allows one.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

RATE_LIMITED = 429
RETRY_STATUSES = frozenset({RATE_LIMITED, 503})
BACKOFF_START = 0.5  # seconds; doubled per try up to BACKOFF_MAX when the server names no wait
BACKOFF_MAX = 8.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # tries of one request: the first and three retries (the SDKs: 1 + 2)
    max_wait: float = 60.0  # longest single wait honoured (openai-node and openai-python 2.x: 60 s)
    budget_seconds: float = 120.0  # all the waiting of one run

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("--max-attempts must be >= 1")
        if self.budget_seconds < 0 or self.max_wait < 0:
            raise ValueError("--retry-budget must be >= 0")

    def describe(self) -> str:
        return (
            f"up to {self.max_attempts} tries a request, waits of at most {self.max_wait:g}s, "
            f"{self.budget_seconds:g}s of waiting a run"
        )


def requested_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asks for, in seconds: `retry-after-ms` first, then `Retry-After` (lower-cased names)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    after = headers.get("retry-after")
    if not after:
        return None
    try:
        return max(0.0, float(after))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RateLimited(Exception):
    """Raised instead of handing schemathesis a 429 the retry budget no longer covers: it judges nothing."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"not judged: {operation} was still rate-limited ({reason})")


@dataclass(frozen=True)
class Retry:
    wait: float


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass
class RetryLedger:
    """Decides each retry against the shared budget and counts them for the summary (thread-safe)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    retries: Counter[int] = field(default_factory=Counter)  # status -> retries sent after it
    waited: float = 0.0
    given_up: list[tuple[int, str]] = field(default_factory=list)  # (status, what) per request still 429/503 in the end
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def decide(self, status: int | None, headers: Mapping[str, str], attempt: int) -> Retry | GiveUp | None:
        """After try number `attempt` answered `status`: None (nothing to retry), a `Retry`, or why not."""
        if status not in RETRY_STATUSES:
            return None
        should = headers.get("x-should-retry", "").strip().lower()
        if should == "false":
            return GiveUp(f"HTTP {status} with x-should-retry: false")
        if attempt >= self.policy.max_attempts:
            return GiveUp(f"HTTP {status} on all {attempt} tries")
        asked = requested_wait(headers)
        wait = asked if asked is not None else min(BACKOFF_START * 2 ** (attempt - 1), BACKOFF_MAX)
        if wait > self.policy.max_wait:
            return GiveUp(f"HTTP {status} asking to wait {wait:g}s, more than the {self.policy.max_wait:g}s allowed")
        with self._lock:
            if self.waited + wait > self.policy.budget_seconds:
                return GiveUp(f"HTTP {status}: the retry budget ({self.policy.budget_seconds:g}s of waiting) is spent")
        return Retry(wait)

    def retry(self, status: int, decision: Retry) -> None:
        """Wait as decided and count the retry that follows."""
        with self._lock:
            self.retries[status] += 1
            self.waited += decision.wait
        self.sleep(decision.wait)  # bounded by max_wait and the run's budget_seconds (decide)

    def give_up(self, status: int, what: str, reason: str) -> None:
        with self._lock:
            self.given_up.append((status, f"{what}: {reason}"))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.retries.values())


Answer = TypeVar("Answer")


def may_resend_create(spend: Callable[[], bool]) -> Callable[[int], bool]:
    """A create answered 429 was refused, so sending it again starts at most the job already counted; after any
    other answer it may have started one, and it is sent again only if `spend` takes another create from the budget."""
    return lambda status: status == RATE_LIMITED or spend()


def send_carefully(
    ledger: RetryLedger,
    what: str,
    send_once: Callable[[], Answer],
    answered: Callable[[Answer], tuple[int | None, Mapping[str, str]]],
    may_resend: Callable[[int], bool] = lambda status: True,
) -> tuple[Answer, int, GiveUp | None]:
    """Send, and again while the answer is 429/503 and the budgets allow: (last answer, tries, why it stopped early)."""
    attempt = 1
    while True:  # bounded: decide() gives up after policy.max_attempts tries
        answer = send_once()
        status, headers = answered(answer)
        decision = ledger.decide(status, headers, attempt)
        if decision is None:
            return answer, attempt, None
        assert status is not None  # decide() retries only answered requests
        if isinstance(decision, Retry) and not may_resend(status):
            decision = GiveUp(
                f"HTTP {status}: sending it again could start another job, and --max-creates allows no other"
            )
        if isinstance(decision, GiveUp):
            ledger.give_up(status, what, decision.reason)
            return answer, attempt, decision
        ledger.retry(status, decision)
        attempt += 1
