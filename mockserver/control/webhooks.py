"""Webhooks: signed `video.completed` / `video.failed` events, delivered when a job finishes.

Job state is derived from the clock, so nothing "happens" when a job finishes. The store keeps the
not-yet-announced jobs by the virtual time they finish (`claim_due`, `next_due`); one asyncio task
(the dispatcher) sleeps until the earliest is due (capped, and woken early after any POST: a job
created, the clock changed), claims the due ones (each once, across workers) and hands each job's
event to one delivery task per matching endpoint. Scanning costs O(log pending), never O(all jobs).

Signing is Standard Webhooks (the `standardwebhooks` package), as the provider does:
`webhook-id`, `webhook-timestamp` (real Unix seconds: receivers reject stale timestamps, and the
virtual clock may be hours ahead) and `webhook-signature: v1,<base64 HMAC-SHA256>`.

Retries: a non-2xx answer or a connection error is retried with exponential backoff, up to
`max_attempts`; every attempt is signed afresh with the same `webhook-id`. Each endpoint has a lane
of its own (control/lanes.py): a few deliveries in flight, a bounded queue, every attempt bounded
by its timeout, so an endpoint that hangs or refuses costs only its own deliveries.

Faults (POST /__mock/webhooks/faults) apply to the next `count` deliveries: `duplicate` sends the
message twice (same `webhook-id`), `late` waits `delay_seconds` first, `bad_signature` signs with
a secret the receiver does not know.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mockserver.control.journal import Entry, Journal
from mockserver.control.lanes import QUEUE_LIMIT, Lanes, bounded
from mockserver.core.clock import Clock
from mockserver.core.errors import APIError, bad_request
from mockserver.core.jobs import Job
from mockserver.core.throttle import LogThrottle
from mockserver.store import Store, StoreError
from mockserver.store.cached import CachedStore

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mockserver.control.webhooks")
_STORE_LOG = LogThrottle()

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_LATE_SECONDS = 2.0
MAX_SLEEP_SECONDS = 0.5  # the dispatcher re-checks at least this often (speed changes, real time)
MAX_DELIVERIES = 1000  # the delivery log is bounded like the journal
FAULT_MODES = ("duplicate", "late", "bad_signature")
# Bounds of what a registration or a webhook fault may ask for: beyond them a value only breaks things.
MAX_ATTEMPTS = 100
MAX_BACKOFF_SECONDS = 3600.0  # also the longest single wait between two attempts
MAX_TIMEOUT_SECONDS = 600.0
MAX_LATE_SECONDS = 3600.0
MAX_FAULT_COUNT = 1_000_000
MAX_URL_CHARS = 2048


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: Any, param: str = "secret") -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of at least 16 bytes."""
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise bad_request("A webhook secret looks like 'whsec_<base64>'; omit it to have one generated.", param=param)
    try:
        raw = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("The webhook secret after 'whsec_' is not valid base64.", param=param) from None
    if len(raw) < 16:
        raise bad_request("The webhook secret is too short: use at least 16 random bytes.", param=param)
    return secret


@dataclass(frozen=True)
class WebhookSettings:
    """`serve --webhook-url/--webhook-secret` and the config file's `webhooks:` section."""

    urls: tuple[str, ...] = ()  # start-up endpoints: every job's event goes to each
    secret: str | None = None  # None: generated at start (and printed by `serve`)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def parse(cls, section: Any, urls: Iterable[str] = (), secret: str | None = None) -> WebhookSettings:
        """The config file's mapping (urls, secret, max_attempts, backoff_seconds, timeout_seconds), flags on top.

        Raises ValueError naming what is wrong.
        """
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise ValueError(
                "webhooks: must be a mapping (urls, secret, max_attempts, backoff_seconds, timeout_seconds)"
            )
        secret = secret or section.get("secret")
        if secret is not None:
            try:
                check_secret(secret)
            except APIError as exc:
                raise ValueError(f"--webhook-secret: {exc.message}") from None
        try:
            settings = cls(
                urls=(*(str(url) for url in section.get("urls") or ()), *urls),
                secret=secret,
                max_attempts=int(section.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
                backoff_seconds=float(section.get("backoff_seconds", DEFAULT_BACKOFF_SECONDS)),
                timeout_seconds=float(section.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
            )
        except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
            raise ValueError("webhooks: max_attempts, backoff_seconds and timeout_seconds must be numbers") from None
        # The bounds a registration through the control API has (`not a <= x` is also true for NaN).
        if not 1 <= settings.max_attempts <= MAX_ATTEMPTS:
            raise ValueError(f"webhooks: max_attempts must be between 1 and {MAX_ATTEMPTS}")
        if not 0 <= settings.backoff_seconds <= MAX_BACKOFF_SECONDS:
            raise ValueError(f"webhooks: backoff_seconds must be between 0 and {MAX_BACKOFF_SECONDS:g}")
        if not 0 < settings.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"webhooks: timeout_seconds must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g}")
        return settings


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


_CLAIM_BATCH = 100  # due jobs claimed from the store at a time


@dataclass
class Registration:
    id: str
    url: str
    secret: str
    owner: str | None  # None: every job; otherwise only jobs made with that key (its fingerprint)
    startup: bool  # start-up endpoints survive a reset
    max_attempts: int
    backoff_seconds: float
    timeout_seconds: float

    def matches(self, job: Job) -> bool:
        return self.owner is None or self.owner == job.owner

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Registration:
        return cls(
            record["id"],
            record["url"],
            record["secret"],
            record["owner"],
            record["source"] == "startup",
            record["max_attempts"],
            record["backoff_seconds"],
            record["timeout_seconds"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "secret": self.secret,
            "owner": self.owner,
            "source": "startup" if self.startup else "runtime",
            "max_attempts": self.max_attempts,
            "backoff_seconds": self.backoff_seconds,
            "timeout_seconds": self.timeout_seconds,
        }


@dataclass
class Fault:
    id: str
    mode: str
    remaining: int
    delay_seconds: float
    endpoint: str | None  # a registration id, or None for any

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "remaining": self.remaining,
            "delay_seconds": self.delay_seconds,
            "endpoint": self.endpoint,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Fault:
        return cls(record["id"], record["mode"], record["remaining"], record["delay_seconds"], record["endpoint"])


@dataclass
class Delivery:
    webhook_id: str
    event: dict[str, Any]
    registration: Registration
    owner: str  # the job's owner, for key-scoped reset and listing
    fault: str | None = None
    copy: int = 1  # 2 for the second send of a `duplicate` fault
    status: str = "pending"  # pending -> delivered | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "event_id": self.event["id"],
            "type": self.event["type"],
            "video_id": self.event["data"]["id"],
            "endpoint": self.registration.id,
            "url": self.registration.url,
            "fault": self.fault,
            "copy": self.copy,
            "status": self.status,
            "attempts": list(self.attempts),
            "owner": self.owner,
        }

    @property
    def key(self) -> str:
        return f"{self.webhook_id}:{self.copy}"


class WebhookDispatcher:
    """Announces finished jobs. Registrations, faults and deliveries live in the store; each process
    sharing it runs a dispatcher, and `store.claim_due` hands each finished job to exactly one of them."""

    REGISTRATIONS, FAULTS, DELIVERIES = "webhooks", "webhook_faults", "deliveries"

    def __init__(self, store: Store, clock: Clock, journal: Journal, settings: WebhookSettings) -> None:
        self.store = store
        self.clock = clock
        self.journal = journal
        self.max_attempts = settings.max_attempts
        self.backoff_seconds = settings.backoff_seconds
        self.timeout_seconds = settings.timeout_seconds
        self.startup_urls = list(settings.urls)
        # `serve` puts a generated secret into the configuration its workers get, so all sign alike.
        self.secret: str | None = settings.secret or (generate_secret() if self.startup_urls else None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._lanes = Lanes()  # one per endpoint, on the dispatcher's loop (see control/lanes.py)
        # True while the app's lifespan runs: it started the dispatcher on the serving loop. Without
        # one (the pytest plugin's server) the request pipeline starts it on the first request.
        self.lifespan_running = False

    # -- registrations and faults --------------------------------------------------------

    @property
    def registrations(self) -> dict[str, Registration]:
        return {doc["id"]: Registration.from_record(doc) for doc in self.store.docs(self.REGISTRATIONS)}

    def register(
        self,
        url: str,
        secret: str,
        *,
        owner: str | None,
        startup: bool = False,
        max_attempts: int | None = None,
        backoff_seconds: float | None = None,
        timeout_seconds: float | None = None,
    ) -> Registration:
        reg = Registration(
            new_id("we"),
            url,
            secret,
            owner,
            startup,
            self.max_attempts if max_attempts is None else max_attempts,
            self.backoff_seconds if backoff_seconds is None else backoff_seconds,
            self.timeout_seconds if timeout_seconds is None else timeout_seconds,
        )
        self.store.put_doc(self.REGISTRATIONS, reg.id, reg.to_json())
        return reg

    def unregister(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        self._on_loop(lambda: self._lanes.close(ids))  # deliveries under way to a removed endpoint stop
        return self.store.delete_docs(self.REGISTRATIONS, ids)

    def _on_loop(self, call: Callable[[], object]) -> None:
        """Run `call` on the dispatcher's loop: now when this is it, else as soon as it can (a test thread's reset)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            call()
        else:
            loop.call_soon_threadsafe(call)

    def install_startup(self) -> None:
        """Replace the start-up endpoints kept in the store with this configuration's (at boot and on reset)."""
        self.unregister([reg.id for reg in self.registrations.values() if reg.startup])
        for url in self.startup_urls:
            assert self.secret is not None
            self.register(url, self.secret, owner=None, startup=True)

    def reset(self, owner: str | None = None) -> None:
        """Drop run-time registrations, deliveries and faults (all, or one key's); start-up endpoints stay."""
        self.unregister(
            [r.id for r in self.registrations.values() if not r.startup and (owner is None or r.owner == owner)]
        )
        if owner is None:
            self.store.delete_docs(self.DELIVERIES)
            self.store.delete_docs(self.FAULTS)
            # A retry left over from before the reset must not reach a later test, and an endpoint that
            # hung must not hold anything past it: every lane's workers and client go.
            self._on_loop(self._lanes.close)
        else:
            self.store.delete_docs(
                self.DELIVERIES,
                [f"{d['webhook_id']}:{d['copy']}" for d in self.store.docs(self.DELIVERIES) if d["owner"] == owner],
            )

    @property
    def faults(self) -> list[Fault]:
        return [Fault.from_record(doc) for doc in self.store.docs(self.FAULTS)]

    def add_fault(self, fault: Fault) -> None:
        self.store.put_doc(self.FAULTS, fault.id, fault.to_json())

    def clear_faults(self) -> None:
        self.store.delete_docs(self.FAULTS)

    def _take_fault(self, reg: Registration) -> Fault | None:
        for fault in self.faults:
            if fault.remaining <= 0 or fault.endpoint not in (None, reg.id):
                continue

            def take(doc: Any) -> tuple[Any, bool]:
                if not doc or doc["remaining"] <= 0:
                    return doc, False  # another worker took the last one meanwhile
                left = doc["remaining"] - 1
                return ({**doc, "remaining": left} if left else None), True

            if self.store.update(self.FAULTS, fault.id, take):
                return fault
        return None

    # -- the dispatcher task -------------------------------------------------------------

    def wake(self) -> None:
        """Re-check now (a job was created or the clock changed). Safe from any thread."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def ensure_started(self) -> None:
        """Start on the running loop (from the lifespan, or the first request when lifespan is off)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        # A new loop (a test client's, after the last one closed without a lifespan) starts afresh.
        self._loop = loop
        self._lanes = Lanes()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="mockserver-webhooks")

    async def stop(self) -> None:
        # Only what runs on this loop can be stopped here; tasks of a loop that has since closed
        # (an in-process ASGI client's) are already gone with it.
        if self._loop is asyncio.get_running_loop():
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            await self._lanes.aclose()
        self._task = self._loop = self._wake = None
        self._lanes = Lanes()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                if isinstance(self.store, CachedStore):  # its copies (the clock's settings) checked first
                    self.store.refresh()
                self._announce_due()
            except StoreError as error:  # the store is down: every request says so; a line now and then here
                held_back = _STORE_LOG.allow("dispatcher")
                if held_back is not None:
                    log.error(
                        "webhook dispatcher cannot read the store: %s (%d more since the last line)", error, held_back
                    )
            except Exception:  # a bug here must not end webhooks for the rest of the run
                if _STORE_LOG.allow("dispatcher-bug") is not None:
                    log.exception("webhook dispatcher failed; continuing")
            await self._sleep(self._seconds_to_next())

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):  # woken early or not: either way, look again
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))

    def _seconds_to_next(self) -> float:
        try:
            finish = self.store.next_due()
        except Exception:
            return MAX_SLEEP_SECONDS
        if finish is None:
            return MAX_SLEEP_SECONDS
        settings = self.clock.settings
        if settings.frozen or settings.speed == 0:
            return MAX_SLEEP_SECONDS  # only an advance (which wakes us) can move time
        return min(MAX_SLEEP_SECONDS, (finish - self.clock.now()) / settings.speed)

    def _announce_due(self) -> None:
        now = self.clock.now()
        while True:
            due = self.store.claim_due(now, limit=_CLAIM_BATCH)
            regs = list(self.registrations.values()) if due else []
            for job_id in due:
                job = self.store.get(job_id)
                if job is not None:  # deleted or reset before it finished: nothing to announce
                    self._announce(job, now, regs)
            if len(due) < _CLAIM_BATCH:  # a short batch: nothing more is due
                return

    def _announce(self, job: Job, now: float, registrations: list[Registration]) -> None:
        regs = [r for r in registrations if r.matches(job)]
        if not regs:
            return
        event = {
            "id": new_id("evt"),
            "object": "event",
            "created_at": int(now),
            "type": "video.failed" if job.outcome.failed else "video.completed",
            "data": {"id": job.id},
        }
        for reg in regs:
            fault = self._take_fault(reg)
            delivery = Delivery(new_id("wh"), event, reg, job.owner, fault.mode if fault else None)
            self._send(delivery, delay=fault.delay_seconds if fault and fault.mode == "late" else 0.0)
            if fault and fault.mode == "duplicate":
                self._send(
                    Delivery(delivery.webhook_id, event, reg, job.owner, "duplicate", copy=2), delay=0.0, after=delivery
                )

    def _send(self, delivery: Delivery, *, delay: float, after: Delivery | None = None) -> None:
        assert self._loop is not None
        reg = delivery.registration

        async def job(client: httpx.AsyncClient) -> None:
            await self._deliver(client, delivery, delay, after)

        if self._lanes.submit(reg.id, reg.timeout_seconds, job):
            self._record(delivery)
            return
        # The endpoint is not taking what it has: this one is not sent at all, and says why.
        delivery.attempts.append(
            {
                "attempt": 0,
                "at": time.time(),
                "status_code": None,
                "error": f"not sent: {QUEUE_LIMIT} deliveries to this endpoint are already waiting (its queue is full)",
            }
        )
        delivery.status = "failed"
        self._record(delivery)
        if self._lanes.should_log(reg.id, "dropped"):
            log.warning("webhooks to %s dropped: its queue is full (such lines: the 1st, 10th, 100th, ...)", reg.url)

    # -- delivery ------------------------------------------------------------------------

    async def _deliver(
        self, client: httpx.AsyncClient, delivery: Delivery, delay: float, after: Delivery | None
    ) -> None:
        # httpx and standardwebhooks are imported by the first delivery, not at start-up: most fakes
        # never send a webhook, and importing the two would slow every start-up.
        import httpx
        from standardwebhooks import Webhook

        reg = delivery.registration
        body = json.dumps(delivery.event, separators=(",", ":"))
        if delay:
            await asyncio.sleep(delay)
        # A duplicate follows its original, which its lane took first (a FIFO), within a bounded wait.
        waited_until = time.monotonic() + reg.max_attempts * (reg.timeout_seconds + MAX_BACKOFF_SECONDS)
        while after is not None and after.status == "pending" and time.monotonic() < waited_until:
            await asyncio.sleep(0.01)
        # A bad-signature fault signs with a secret nobody else has.
        signer = Webhook(generate_secret() if delivery.fault == "bad_signature" else reg.secret)
        for attempt in range(1, reg.max_attempts + 1):
            timestamp = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "user-agent": "mockserver-webhooks",
                "webhook-id": delivery.webhook_id,
                "webhook-timestamp": str(int(timestamp.timestamp())),
                "webhook-signature": signer.sign(delivery.webhook_id, timestamp, body),
            }
            record: dict[str, Any] = {"attempt": attempt, "at": time.time(), "status_code": None, "error": None}
            try:
                # Twice the timeout around the whole attempt: httpx's own timeouts bound each read,
                # not a receiver that answers one byte at a time.
                response = await bounded(2 * reg.timeout_seconds, client.post(reg.url, content=body, headers=headers))
                record["status_code"] = response.status_code
                ok = 200 <= response.status_code < 300
            except (httpx.HTTPError, TimeoutError) as exc:
                name = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                record["error"] = f"{name}: {exc}" if str(exc) else name
                ok = False
            delivery.attempts.append(record)
            if ok:
                delivery.status = "delivered"
            self._record(delivery)
            self._journal(delivery, headers, record)
            if ok:
                return
            if attempt < reg.max_attempts:
                await asyncio.sleep(min(MAX_BACKOFF_SECONDS, reg.backoff_seconds * 2 ** (attempt - 1)))
        delivery.status = "failed"
        self._record(delivery)
        if self._lanes.should_log(reg.id, "failed"):
            log.warning(
                "webhook %s to %s failed after %d attempts (such lines: the 1st, 10th, 100th, ...)",
                delivery.webhook_id,
                reg.url,
                reg.max_attempts,
            )

    def _journal(self, delivery: Delivery, headers: dict[str, str], record: dict[str, Any]) -> None:
        # Outgoing calls are journaled beside incoming ones; the absolute URL as `path` tells them apart.
        journal = self.journal
        journal.append(
            Entry(
                seq=0,  # numbered by the journal
                time=record["at"],
                virtual_time=self.clock.now(),
                method="POST",
                path=delivery.registration.url,
                query={},
                headers={k: v for k, v in headers.items() if k.startswith("webhook-")},
                body=delivery.event,
                uploads={},
                status=record["status_code"] or 0,
                owner=delivery.owner,
                key=None,
                request_id=None,
                fault=delivery.fault,
            )
        )

    def _record(self, delivery: Delivery) -> None:
        self.store.put_doc(self.DELIVERIES, delivery.key, delivery.to_json(), keep=MAX_DELIVERIES)

    def find(
        self, *, endpoint: str | None = None, video_id: str | None = None, owner: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            d
            for d in self.store.docs(self.DELIVERIES)
            if (endpoint is None or d["endpoint"] == endpoint)
            and (video_id is None or d["video_id"] == video_id)
            and (owner is None or d["owner"] == owner)
        ]


# -- ASGI hooks ---------------------------------------------------------------------------


def lifespan(dispatcher: WebhookDispatcher) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(app: Any) -> Any:
        dispatcher.ensure_started()
        # Started on the loop that serves every request: requests skip the check, which asks for
        # the running loop (a getpid() system call each time).
        dispatcher.lifespan_running = True
        try:
            yield
        finally:
            dispatcher.lifespan_running = False
            await dispatcher.stop()

    return run
