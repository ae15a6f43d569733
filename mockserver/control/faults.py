"""Injected trouble for retry tests: per-key rate limits, error statuses and latency, by route.

A `FaultRule` says which requests it hits (method, path pattern, optionally one API key) and what
it does to them (a rate limit, an error status, a delay), with a probability and an optional
budget (`times`). Rules are compiled once when they are set; the request pipeline only matches.
Randomness comes from one `random.Random(seed)`, so the same requests in the same order meet the
same faults on every run with the same `--seed`.

The control API (`/__mock/...`) is never subject to faults: a test must always be able to clear them.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mockserver.control.access import CONTROL_PREFIX
from mockserver.core.errors import APIError
from mockserver.core.keys import owner_of, owner_of_request
from mockserver.store import Store

ERROR_STATUSES = frozenset({429, 500, 502, 503, 504})

_MESSAGES = {
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}
_CODES = {
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class FaultError(ValueError):
    """A fault description that cannot work; the message names the field and what to write."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class RateLimit:
    requests: int
    seconds: float

    def describe(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


@dataclass(frozen=True)
class FaultRule:
    method: str = "*"
    path: str = "*"
    status: int | None = None
    probability: float = 1.0
    latency_ms: int = 0
    times: int | None = None  # fire at most this many times, then stay quiet
    retry_after: int | None = None  # seconds, for 429/503
    rate_limit: RateLimit | None = None
    owner: str | None = None  # fingerprint of the one API key this rule is for (never the key itself)
    id: str = ""
    startup: bool = False  # from flags or the config file: a reset restores it, a restart replaces it
    # A start-up rule's key, until the store's salt turns it into `owner` (FaultBook.install_startup);
    # never written to the store.
    api_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "probability": self.probability,
            "latency_ms": self.latency_ms,
            "times": self.times,
            "retry_after": self.retry_after,
            "rate_limit": {"requests": self.rate_limit.requests, "seconds": self.rate_limit.seconds}
            if self.rate_limit
            else None,
            "owner": self.owner,
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.to_json(), "startup": self.startup}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FaultRule:
        rate_limit = record.get("rate_limit")
        fields = {k: v for k, v in record.items() if k != "nonce"}
        return cls(**{**fields, "rate_limit": RateLimit(**rate_limit) if rate_limit else None})


_MAX_NUMBER_TEXT = 32  # "10/60" is how rate limits are written; nothing longer is a number anyone means
MAX_COUNT = 1_000_000_000  # rate-limit requests, `times`: beyond it a fault would never end anyway
MAX_WINDOW_SECONDS = 86_400.0  # a rate-limit window of a day at most


def _field_number(
    value: Any, name: str, kind: type = float, low: float | None = None, high: float | None = None
) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
            raise ValueError
        number = kind(value)
        if kind is int and float(value) != number:
            raise ValueError
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400), float(a 400-digit integer)
        raise FaultError(
            f"fault field '{name}' must be {'an integer' if kind is int else 'a number'}, got {value!r}.", name
        ) from None
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise FaultError(f"fault field '{name}' must be {bounds}, got {value!r}.", name)
    return number


def parse_rate_limit(value: Any) -> RateLimit:
    """`"10/60"` (10 requests per 60 s), `{"requests": 10, "seconds": 60}`, or a bare count per minute."""
    if isinstance(value, Mapping):
        requests, seconds = value.get("requests"), value.get("seconds", 60)
    elif isinstance(value, str) and "/" in value:
        requests, _, seconds = value.partition("/")
    else:
        requests, seconds = value, 60
    return RateLimit(
        _field_number(requests, "rate_limit.requests", int, 1, MAX_COUNT),
        _field_number(seconds, "rate_limit.seconds", float, 0.001, MAX_WINDOW_SECONDS),
    )


_KNOWN_FIELDS = {
    "method",
    "path",
    "status",
    "probability",
    "latency_ms",
    "times",
    "retry_after",
    "rate_limit",
    "api_key",
    "owner",
}


def parse_rule(data: Mapping[str, Any], salt: str | None = None) -> FaultRule:
    """A rule from JSON / the config file. `api_key` is turned into a fingerprint with `salt` and dropped;
    without a salt (start-up rules, read before any store is open) the rule keeps it until
    FaultBook.install_startup fingerprints it."""
    if not isinstance(data, Mapping):
        raise FaultError('a fault must be an object such as {"path": "/v1/videos", "status": 503}.')
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        raise FaultError(
            f"unknown fault field(s) {', '.join(unknown)}; use {', '.join(sorted(_KNOWN_FIELDS - {'owner'}))}.",
            unknown[0],
        )
    method = str(data.get("method") or "*").upper()
    if not re.fullmatch(r"\*|[A-Z]+", method):
        raise FaultError(f"fault field 'method' must be an HTTP method or '*', got {method!r}.", "method")
    path = str(data.get("path") or "*")
    if path != "*" and not path.startswith("/"):
        raise FaultError(f"fault field 'path' must start with '/' (or be '*'), got {path!r}.", "path")
    if path.startswith(CONTROL_PREFIX):
        raise FaultError("faults cannot target the control API (/__mock/...).", "path")
    status = data.get("status")
    if status is not None:
        status = _field_number(status, "status", int)
        if status not in ERROR_STATUSES:
            raise FaultError(f"fault field 'status' must be one of {sorted(ERROR_STATUSES)}, got {status}.", "status")
    rate_limit = parse_rate_limit(data["rate_limit"]) if data.get("rate_limit") is not None else None
    latency_ms = _field_number(data.get("latency_ms", 0), "latency_ms", int, 0, 60_000)
    if status is None and rate_limit is None and latency_ms == 0:
        raise FaultError("a fault needs at least one of 'status', 'rate_limit' or 'latency_ms'.")
    retry_after = data.get("retry_after")
    if retry_after is not None:
        # Integer seconds >= 1: what HTTP allows and what the SDKs honour without rounding to zero.
        retry_after = _field_number(retry_after, "retry_after", int, 1, 3600)
    times = data.get("times")
    owner = data.get("owner")
    api_key = str(data["api_key"]) if data.get("api_key") else None
    if api_key is not None and salt is not None:
        owner, api_key = owner_of(api_key, salt), None
    return FaultRule(
        method=method,
        path=path,
        status=status,
        probability=_field_number(data.get("probability", 1.0), "probability", float, 0, 1),
        latency_ms=latency_ms,
        times=_field_number(times, "times", int, 1, MAX_COUNT) if times is not None else None,
        retry_after=retry_after,
        rate_limit=rate_limit,
        owner=str(owner) if owner else None,
        api_key=api_key,
    )


def parse_flag(text: str) -> FaultRule:
    """`--fault 'POST /v1/videos status=503 probability=0.2'`: optional method, optional path, key=value pairs."""
    data: dict[str, Any] = {}
    for token in text.split():
        if "=" in token:
            key, _, value = token.partition("=")
            key = {"p": "probability", "latency": "latency_ms"}.get(key, key)
            data[key] = value
        elif token.startswith("/") or (token == "*" and "method" in data):  # a lone first `*` is the method
            data["path"] = token
        elif token.isdigit():
            data["status"] = token
        else:
            data["method"] = token
    try:
        return parse_rule(data)
    except FaultError as exc:
        raise FaultError(f"--fault {text!r}: {exc}") from None


def _path_regex(pattern: str) -> re.Pattern[str]:
    """`*` matches anything (slashes too), `{name}` one path segment; everything else is literal."""
    if pattern == "*":
        return re.compile(r".*")
    parts = re.split(r"(\*|\{[^}/]*\})", pattern)
    regex = "".join(
        ".*" if p == "*" else "[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts
    )
    return re.compile(regex + "/?")


@dataclass(frozen=True)
class _Compiled:
    rule: FaultRule
    path: re.Pattern[str]

    def matches(self, method: str, path: str, owner: str) -> bool:
        rule = self.rule
        if rule.owner is not None and rule.owner != owner:
            return False
        if rule.method != "*" and rule.method != method and not (rule.method == "GET" and method == "HEAD"):
            return False
        return self.path.fullmatch(path) is not None


@dataclass(frozen=True)
class Decision:
    """What the fault injector does to one request: delay it, answer it with an error, add headers."""

    latency_ms: int = 0
    status: int | None = None
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # on the error, or added to the normal response
    rule_id: str | None = None

    def error(self) -> APIError | None:
        """The error that answers the request instead of the server, if the fault answers it."""
        if self.status is None:
            return None
        return APIError(self.status, self.message, code=_CODES[self.status], headers=dict(self.headers))

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers added to the server's own answer (rate-limit counters)."""
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]


def _duration(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* format: `1s`, `6m0s`, `250ms`."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.0f}s"


class FaultBook:
    """The rules in force and their counters, kept in the store; shared by the request pipeline and the control API.

    Rules are documents (kind `faults`), compiled once per rule id in each process. The budget of a
    rule with `times` and the window of a rate limit are counted through `store.update`, so workers
    sharing a store count every request once. The seeded randomness of `probability` is each
    process's own: with one worker a seed replays the same faults; with several, which request a
    probabilistic fault hits depends on which worker served it.
    """

    RULES, FIRED, WINDOWS = "faults", "fault_fired", "rate_windows"

    def __init__(
        self,
        store: Store,
        startup: Iterable[FaultRule] = (),
        seed: int | None = None,
        wall_time: Callable[[], float] = time.time,
        *,
        salt: str,
    ) -> None:
        self.store = store
        self.salt = salt  # of key fingerprints (core/keys.owner_of)
        self.startup = tuple(startup)
        self.seed = seed
        self._wall_time = wall_time  # wall time, not monotonic: windows are shared between processes
        self._random_lock = threading.Lock()
        self._random = random.Random(seed)
        self._compiled: dict[str, _Compiled] = {}

    def install_startup(self) -> None:
        """Replace the start-up rules kept in the store with this configuration's (at boot and on reset)."""
        stale = [rule.id for rule in self._all() if rule.startup]
        self.store.delete_docs(self.RULES, stale)
        self.add(*(replace(rule, startup=True, **self._fingerprinted(rule)) for rule in self.startup))

    def _fingerprinted(self, rule: FaultRule) -> dict[str, Any]:
        if rule.api_key is None:
            return {}
        return {"owner": owner_of(rule.api_key, self.salt), "api_key": None}

    def reset(self) -> None:
        """Back to the start-up rules (flags and config file), fresh counters, re-seeded randomness."""
        for kind in (self.RULES, self.FIRED, self.WINDOWS):
            self.store.delete_docs(kind)
        with self._random_lock:
            self._random = random.Random(self.seed)
        self.install_startup()

    def add(self, *rules: FaultRule) -> list[FaultRule]:
        added = []
        for rule in rules:
            rule = replace(rule, id=f"fault_{self.store.next_number('fault')}")
            # Ids start again at fault_1 after a reset; the nonce tells a new fault_1 from a cached old one.
            self.store.put_doc(self.RULES, rule.id, {**rule.to_record(), "nonce": secrets.token_hex(8)})
            added.append(rule)
        return added

    def _all(self) -> list[FaultRule]:
        return [FaultRule.from_record(doc) for doc in self.store.docs(self.RULES)]

    def rules(self, owner: str | None = None) -> list[FaultRule]:
        return [rule for rule in self._all() if owner is None or rule.owner in (None, owner)]

    def remove(self, *, rule_id: str | None = None, owner: str | None = None) -> int:
        """Remove one rule, or every rule for one key, or (neither given) every rule."""
        rules = self._all()
        if rule_id is not None:
            gone = [r.id for r in rules if r.id == rule_id]
        elif owner is not None:
            gone = [r.id for r in rules if r.owner == owner]
            self.store.delete_docs(self.WINDOWS, [f"{r.id}:{owner}" for r in rules])
        else:
            gone = [r.id for r in rules]
        return self.store.delete_docs(self.RULES, gone)

    def _active(self) -> list[_Compiled]:
        docs = self.store.docs(self.RULES)
        if not docs:
            return []
        active = []
        for doc in docs:
            compiled = self._compiled.get(doc["nonce"])
            if compiled is None:  # a rule is never changed, only added or removed
                rule = FaultRule.from_record(doc)
                compiled = self._compiled[doc["nonce"]] = _Compiled(rule, _path_regex(rule.path))
            active.append(compiled)
        if len(self._compiled) > 2 * len(active) + 64:  # forget removed rules, so the cache stays small
            self._compiled = {doc["nonce"]: c for doc, c in zip(docs, active, strict=True)}
        return active

    def decide(self, method: str, path: str, request_headers: Iterable[tuple[bytes, bytes]]) -> Decision | None:
        """What happens to a request with these raw ASGI headers; None when no rule acts on it."""
        if path.startswith(CONTROL_PREFIX):
            return None
        active = self._active()
        if not active:
            return None
        owner = owner_of_request(request_headers, self.salt)  # only worked out when some rule might care
        latency = 0
        fired: list[str] = []  # ids of the rules that acted, for the journal
        added: list[tuple[str, str]] = []
        for compiled in active:
            if not compiled.matches(method, path, owner):
                continue
            rule = compiled.rule
            if rule.rate_limit is not None:
                limited = self._rate_limit(rule, owner, added)
                if limited is not None:
                    return replace(limited, latency_ms=latency)
                continue
            if rule.times is not None and (self.store.get_doc(self.FIRED, rule.id) or 0) >= rule.times:
                continue
            if rule.probability < 1:
                with self._random_lock:
                    if self._random.random() >= rule.probability:
                        continue
            if rule.times is not None and not self._take(rule.id, rule.times):
                continue  # another worker used the last of the budget meanwhile
            latency += rule.latency_ms
            fired.append(rule.id)
            if rule.status is not None:
                headers = list(added)
                retry_after = rule.retry_after if rule.retry_after is not None else (1 if rule.status == 429 else None)
                if retry_after is not None:
                    headers.append(("retry-after", str(retry_after)))
                message = f"{_MESSAGES[rule.status]} (injected by mock fault {rule.id})"
                return Decision(latency, rule.status, message, tuple(headers), ",".join(fired))
        if latency or added:
            return Decision(latency_ms=latency, headers=tuple(added), rule_id=",".join(fired) or None)
        return None

    def _take(self, rule_id: str, times: int) -> bool:
        def take(used: Any) -> tuple[Any, bool]:
            used = used or 0
            return (used + 1, True) if used < times else (used, False)

        return self.store.update(self.FIRED, rule_id, take)

    def _rate_limit(self, rule: FaultRule, owner: str, headers: list[tuple[str, str]]) -> Decision | None:
        limit = rule.rate_limit
        assert limit is not None
        now = self._wall_time()

        def count(window: Any) -> tuple[Any, tuple[bool, float, int]]:
            start, used = window or (now, 0)
            if now - start >= limit.seconds:
                start, used = now, 0
            if used >= limit.requests:
                return [start, used], (False, start, used)  # a refused request does not count
            return [start, used + 1], (True, start, used)

        allowed, start, used = self.store.update(self.WINDOWS, f"{rule.id}:{owner}", count)
        reset_in = limit.seconds - (now - start)
        if not allowed:
            retry_after = max(1, math.ceil(reset_in))
            limited = [
                ("retry-after", str(retry_after)),
                ("x-ratelimit-limit-requests", str(limit.requests)),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", _duration(reset_in)),
            ]
            message = (
                f"Rate limit reached for requests: limit {limit.requests} per {limit.seconds:g}s "
                f"(mock fault {rule.id}). Please try again in {retry_after}s."
            )
            return Decision(status=429, message=message, headers=tuple(limited), rule_id=rule.id)
        headers[:] = [h for h in headers if not h[0].startswith("x-ratelimit-")]
        headers += [
            ("x-ratelimit-limit-requests", str(limit.requests)),
            ("x-ratelimit-remaining-requests", str(limit.requests - used - 1)),
            ("x-ratelimit-reset-requests", _duration(reset_in)),
        ]
        return None


def startup_rules(
    section: Any = None, *, flags: Iterable[str] = (), rate_limit: str | None = None, latency_ms: int | None = None
) -> tuple[FaultRule, ...]:
    """The faults a server starts with (and returns to on reset): the config file's `faults:`, then flags.

    `faults:` is a list of rules, or a mapping with `rules:` plus the shorthands `rate_limit: 10/60`
    and `latency_ms: 200` that apply to every API route.
    """
    rules: list[FaultRule] = []
    if section is not None:
        if isinstance(section, list):
            section = {"rules": section}
        if not isinstance(section, Mapping):
            raise FaultError("faults: must be a list of rules or a mapping with rules, rate_limit, latency_ms")
        unknown = sorted(set(section) - {"rules", "rate_limit", "latency_ms"})
        if unknown:
            raise FaultError(
                f"faults: unknown key(s) {', '.join(map(str, unknown))}; use rules, rate_limit, latency_ms"
            )
        for index, item in enumerate(section.get("rules") or []):
            try:
                rules.append(parse_rule(item))
            except FaultError as exc:
                raise FaultError(f"faults.rules[{index}]: {exc}") from None
        if section.get("rate_limit") is not None:
            rules.append(parse_rule({"rate_limit": section["rate_limit"]}))
        if section.get("latency_ms"):
            rules.append(parse_rule({"latency_ms": section["latency_ms"]}))
    rules += [parse_flag(text) for text in flags]
    if rate_limit is not None:
        try:
            rules.append(FaultRule(rate_limit=parse_rate_limit(rate_limit)))
        except FaultError as exc:
            raise FaultError(f"--rate-limit {rate_limit!r}: {exc} Write N/SECONDS, e.g. 10/60.") from None
    if latency_ms:
        rules.append(parse_rule({"latency_ms": latency_ms}))
    return tuple(rules)
