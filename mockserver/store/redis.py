"""`redis://host:port/db?prefix=NAME`: state on a Redis server, shared by every worker and host using it.

Every key starts with the prefix (default `mockserver:`), so several fakes can share one Redis and
`clear()` removes only this fake's keys. Keys, after the prefix:

    jobs             HASH   job id -> job JSON
    jobs:seq         STRING the last creation number handed out
    jobs:cursor      HASH   job id -> "SEQ OWNER", kept after a delete so a deleted id still works as a cursor
    jobs:owner:OWNER ZSET   live job ids of one owner, scored by creation number
    jobs:due         ZSET   unannounced job ids, scored by finish time
    doc:KIND         HASH   document id -> JSON
    doc:KIND:order   ZSET   document ids scored by insertion number (a replacement keeps its score)
    numbers          HASH   counter name -> last number
    versions         HASH   name -> change token (SharedStore.versions); "*" is the token of the last clear()

Whatever must change several keys at once is a Lua script, so it is atomic and one round trip; scripts
are registered once and run by SHA. `update` is compare-and-set: read the document, run the caller's
pure function, then a script writes the result only if the stored bytes are still the ones it read,
and otherwise the whole thing runs again. That conflicts per document (WATCH could only watch a whole
kind) and costs two round trips (WATCH/GET/MULTI costs three).
"""

from __future__ import annotations

import functools
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from mockserver.core.jobs import Job
from mockserver.core.jsonbody import dumps_text
from mockserver.store.base import (
    BACKEND_METHODS,
    JOBS_VERSION,
    Page,
    StoreError,
    T,
    Updater,
    finish_time,
    job_from_json,
    job_to_json,
)

DEFAULT_PREFIX = "mockserver:"
# Calls on a healthy Redis take well under a millisecond; a Redis that stops answering must turn into
# an error the server can report rather than a request that waits forever. `?socket_timeout=` overrides.
DEFAULT_TIMEOUT_S = 2.0
PROBE_INTERVAL_S = 0.25  # how often an unreachable Redis is asked again (see RedisStore._trip)
_CHUNK = 500  # ids per command when a script or clear() handles many at once (Lua's unpack has a limit)

_F = TypeVar("_F", bound=Callable[..., Any])


_dumps = dumps_text  # one encoder for every JSON the server writes (mockserver/jsonbody.py)


# -- scripts -------------------------------------------------------------------------------------

# KEYS: jobs, seq, cursor, owner zset, due.  ARGV: id, json, owner, finish time.
# A job already there (a retried add) only has its record replaced: no new place, no second announcement.
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq .. ' ' .. ARGV[3])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
return 1
"""

# KEYS: jobs, owner zset, due, versions.  ARGV: id, token, the jobs' name in versions.
_DELETE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[2])
return 1
"""

# KEYS: cursor, owner zset, jobs.  ARGV: owner, after id ('' for none), limit + 1, '1' for descending.
# Returns the job records of the page, one more than asked when there are more.
_PAGE = """
local bound
if ARGV[2] == '' then
  if ARGV[4] == '1' then bound = '+inf' else bound = '-inf' end
else
  local cursor = redis.call('HGET', KEYS[1], ARGV[2])
  if not cursor then return {} end
  local space = string.find(cursor, ' ', 1, true)
  if string.sub(cursor, space + 1) ~= ARGV[1] then return {} end
  bound = '(' .. string.sub(cursor, 1, space - 1)
end
local ids
if ARGV[4] == '1' then
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[2], bound, '-inf', 'LIMIT', 0, ARGV[3])
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], bound, '+inf', 'LIMIT', 0, ARGV[3])
end
local jobs = {}
for start = 1, #ids, 500 do
  local records = redis.call('HMGET', KEYS[3], unpack(ids, start, math.min(start + 499, #ids)))
  for _, record in ipairs(records) do jobs[#jobs + 1] = record end
end
return jobs
"""

# KEYS: due, jobs.  ARGV: now, limit.  Ids in finish order; each leaves the due set as it is returned,
# so one caller gets it. An id whose job is gone (a clear() under way elsewhere) is dropped.
_CLAIM = """
local claimed = {}
local want = tonumber(ARGV[2])
while #claimed < want do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, want - #claimed)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[1], id)
    if redis.call('HEXISTS', KEYS[2], id) == 1 then claimed[#claimed + 1] = id end
  end
end
return claimed
"""

# Appends an id to a kind's order unless it is there (a replacement keeps its place).
_APPEND = """
local function append(order, id)
  if redis.call('ZSCORE', order, id) then return end
  local last = redis.call('ZRANGE', order, -1, -1, 'WITHSCORES')
  local n = 1
  if #last > 0 then n = tonumber(last[2]) + 1 end
  redis.call('ZADD', order, n, id)
end
"""

# Drops the oldest ids of a kind beyond `keep` ('' for no bound).
_TRIM = """
local function trim(docs, order, keep)
  if keep == '' then return end
  local extra = redis.call('ZCARD', order) - tonumber(keep)
  if extra > 0 then
    local oldest = redis.call('ZRANGE', order, 0, extra - 1)
    redis.call('ZREMRANGEBYRANK', order, 0, extra - 1)
    for start = 1, #oldest, 500 do
      redis.call('HDEL', docs, unpack(oldest, start, math.min(start + 499, #oldest)))
    end
  end
end
"""

# KEYS: docs, order, versions.  ARGV: id, json, keep ('' for no bound), kind, token.
_PUT_DOC = (
    _APPEND
    + _TRIM
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
append(KEYS[2], ARGV[1])
trim(KEYS[1], KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
"""
)

# KEYS: docs, order, versions, numbers.  ARGV: kind (also the counter's name), keep, token, then one
# JSON object per document, without its number: the number goes in front as "seq" (and is its id).
# Returns the first number (the rest follow it): a reply of one integer rather than a list to parse.
_APPEND_NUMBERED = (
    _APPEND
    + _TRIM
    + """
local count = #ARGV - 3
local first = redis.call('HINCRBY', KEYS[4], ARGV[1], count) - count + 1
for i = 1, count do
  local seq = string.format('%d', first + i - 1)
  redis.call('HSET', KEYS[1], seq, '{"seq":' .. seq .. ',' .. string.sub(ARGV[i + 3], 2))
  append(KEYS[2], seq)
end
trim(KEYS[1], KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return first
"""
)

# KEYS: docs, order, versions.  ARGV: id, '1' if the caller saw a document ('0' if none), the bytes it
# saw, '1' to write ('0' to delete), the new json, kind, token.  Returns 0, changing nothing, when the
# document moved on.
_COMPARE_AND_SET = (
    _APPEND
    + """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
  append(KEYS[2], ARGV[1])
elseif current then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
return 1
"""
)


# -- the URL -------------------------------------------------------------------------------------


def _unsplit(parts: SplitResult) -> str:
    # SplitResult.geturl() writes `unix:///path` as `unix:/path`, which redis-py rejects.
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}"


def _masked(url: str) -> str:
    """The URL for display: a password in the authority or in `?password=` becomes ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user_info, _, host = netloc.rpartition("@")
        user = user_info.partition(":")[0]
        netloc = f"{user}:***@{host}"
    query = (
        "&".join(
            f"{pair.partition('=')[0]}=***" if pair.partition("=")[0] == "password" else pair
            for pair in parts.query.split("&")
        )
        if parts.query
        else ""
    )
    return _unsplit(parts._replace(netloc=netloc, query=query))


def _secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [unquote(parts.password)] if parts.password else []
    found += [value for name, value in parse_qsl(parts.query) if name == "password" and value]
    return found


class RedisStore:
    shared = True
    # How often `update` re-runs the caller's function when other writers keep changing the document.
    max_update_attempts = 50

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        url: str = "redis:",
        endpoint: str = "Redis",
        secrets: Iterable[str] = (),
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._client = client
        self._down: str | None = None  # why every call fails at once, while Redis does not answer
        self._probe_lock = threading.Lock()
        self._closed = False
        self._endpoint = endpoint
        self._secrets = [s for s in secrets if s]
        self._jobs = f"{prefix}jobs"
        self._seq = f"{prefix}jobs:seq"
        self._cursor = f"{prefix}jobs:cursor"
        self._due = f"{prefix}jobs:due"
        self._numbers = f"{prefix}numbers"
        self._versions = f"{prefix}versions"
        self._add = client.register_script(_ADD)
        self._delete = client.register_script(_DELETE)
        self._page = client.register_script(_PAGE)
        self._claim = client.register_script(_CLAIM)
        self._put_doc = client.register_script(_PUT_DOC)
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)
        self._append_numbered = client.register_script(_APPEND_NUMBERED)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connects and PINGs, so a wrong URL or a Redis that is not running fails at start-up."""
        display = _masked(url)
        parts = urlsplit(url)
        options = parse_qsl(parts.query, keep_blank_values=True)
        prefix = dict(options).get("prefix", DEFAULT_PREFIX)
        if not prefix:
            raise StoreError(
                f"{display}: prefix= must not be empty (clearing the fake would delete every key "
                "of the database); leave it out for the default 'mockserver:'"
            )
        database = parts.path.strip("/") if parts.scheme != "unix" else ""
        database = dict(options).get("db", database)
        if database and not database.isdigit():
            raise StoreError(
                f"{display}: the database must be a number, as in redis://localhost:6379/0 (got {database!r})"
            )
        # The rest goes to redis-py as written (re-encoding decoded values would decode them twice).
        rest = _unsplit(
            parts._replace(
                query="&".join(
                    pair for pair in parts.query.split("&") if pair and unquote(pair.partition("=")[0]) != "prefix"
                )
            )
        )
        try:
            endpoint = parts.path if parts.scheme == "unix" else f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
            client = redis.Redis.from_url(
                rest,
                socket_timeout=DEFAULT_TIMEOUT_S,
                socket_connect_timeout=DEFAULT_TIMEOUT_S,
                # One quick retry on a broken connection (Redis restarted); none on a timeout, which
                # would only double the wait on a Redis that has stopped answering.
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1, supported_errors=(redis.ConnectionError,)),
                client_name="mockserver",
            )
        except ValueError as error:  # a port that is no number, an option with a value of the wrong type
            raise StoreError(f"{display}: {error}") from None
        store = cls(client, prefix=prefix, url=display, endpoint=endpoint, secrets=_secrets(url))
        try:
            client.ping()
        except TypeError as error:  # redis-py passes unknown ?options to the connection
            client.close()
            raise StoreError(
                f"{display}: an option Redis does not know ({error}); "
                "this store reads prefix=, and redis-py's own options such as socket_timeout="
            ) from None
        except redis.RedisError as error:
            client.close()
            raise store._error(error, at_start=True) from None
        return store

    # -- errors ----------------------------------------------------------------------------------

    def _error(self, error: redis.RedisError, *, at_start: bool = False) -> StoreError:
        reason = str(error) or type(error).__name__
        for secret in self._secrets:
            reason = reason.replace(secret, "***")
        if isinstance(error, redis.AuthenticationError) or "AUTH" in reason or "WRONGPASS" in reason:
            hint = "check the user and password in --store"
        elif "DB index" in reason:
            hint = "pick a database that exists (0-15 on a default Redis) in --store"
        elif isinstance(error, redis.TimeoutError):
            timeout = self._client.connection_pool.connection_kwargs.get("socket_timeout") or DEFAULT_TIMEOUT_S
            hint = f"it did not answer within {timeout:g}s (the URL's ?socket_timeout=); is it stopped or overloaded?"
        elif isinstance(error, redis.ConnectionError):
            hint = "start redis-server there or fix --store" if at_start else "is redis-server still running?"
        else:
            hint = "see the Redis server's log"
        what = "cannot use Redis" if at_start else "Redis failed"
        return StoreError(f"{what} at {self._endpoint} ({reason}): {hint}")

    # -- an unreachable Redis --------------------------------------------------------------------
    #
    # Every call is synchronous, on the server's event loop: a Redis that stops answering would hold
    # the loop (health, every other request) for a socket timeout per call, call after call. So the
    # first call that times out or cannot connect marks the store down: from then on every call
    # fails at once with the same StoreError (a 503), and a thread of its own PINGs Redis until it
    # answers again. The loop waits for at most that one timeout per outage.

    def _trip(self, reason: str) -> None:
        with self._probe_lock:
            if self._down is not None:
                return
            self._down = f"{reason} (retrying every {PROBE_INTERVAL_S:g}s in the background)"
            threading.Thread(target=self._probe, name="mockserver-redis-probe", daemon=True).start()

    def _probe(self) -> None:
        while not self._closed:
            time.sleep(PROBE_INTERVAL_S)  # a probe interval; the loop ends when Redis answers or the store closes
            try:
                self._client.ping()
            except redis.RedisError:
                continue
            self._down = None
            return

    def close(self) -> None:
        self._closed = True
        self._client.close()

    def clear(self) -> None:
        # Only this prefix, in batches: never FLUSHDB, which would take other fakes' state with it.
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix) + "*"
        batch: list[bytes] = []
        for key in self._client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == _CHUNK:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)
        # Every token changes, also of names nothing wrote yet: a process holding copies made before
        # this clear must not find its old tokens again.
        self._client.hset(self._versions, "*", _token())

    # -- jobs ------------------------------------------------------------------------------------

    def _owner_key(self, owner: str) -> str:
        return f"{self._jobs}:owner:{owner}"

    def __len__(self) -> int:
        return int(self._client.hlen(self._jobs))

    def add(self, job: Job) -> None:
        self._add(keys=self._add_keys(job), args=self._add_args(job))

    def add_many(self, jobs: Sequence[Job]) -> None:
        with self._client.pipeline(transaction=False) as pipe:
            for job in jobs:
                self._add(keys=self._add_keys(job), args=self._add_args(job), client=pipe)
            pipe.execute()

    def _add_keys(self, job: Job) -> list[str]:
        return [self._jobs, self._seq, self._cursor, self._owner_key(job.owner), self._due]

    def _add_args(self, job: Job) -> list[str]:
        return [job.id, _dumps(job_to_json(job)), job.owner, repr(finish_time(job))]

    def get(self, job_id: str) -> Job | None:
        record = self._client.hget(self._jobs, job_id)
        return None if record is None else job_from_json(json.loads(record))

    def delete(self, job_id: str) -> bool:
        cursor = self._client.hget(self._cursor, job_id)
        if cursor is None:
            return False
        owner = (cursor.decode() if isinstance(cursor, bytes) else cursor).partition(" ")[2]
        return bool(
            self._delete(
                keys=[self._jobs, self._owner_key(owner), self._due, self._versions],
                args=[job_id, _token(), JOBS_VERSION],
            )
        )

    def page(self, owner: str, *, after: str | None, limit: int, descending: bool) -> Page:
        records = self._page(
            keys=[self._cursor, self._owner_key(owner), self._jobs],
            args=[owner, after or "", limit + 1, "1" if descending else "0"],
        )
        jobs = [job_from_json(json.loads(record)) for record in records[:limit] if record is not None]
        return Page(jobs, len(records) > limit)

    def recent(self, limit: int) -> list[Job]:
        # The cursor hash holds every job's creation number ("SEQ OWNER"), deleted ones too; the
        # newest live ones are read in chunks until `limit` are found.
        cursors: dict[bytes, bytes] = self._client.hgetall(self._cursor)  # type: ignore[assignment]
        numbered = sorted(((int(value.partition(b" ")[0]), job_id) for job_id, value in cursors.items()), reverse=True)
        jobs: list[Job] = []
        for start in range(0, len(numbered), _CHUNK):
            if len(jobs) >= limit:
                break
            ids = [job_id for _, job_id in numbered[start : start + _CHUNK]]
            records = self._client.hmget(self._jobs, ids)
            jobs += [job_from_json(json.loads(record)) for record in records if record is not None]
        return jobs[: max(limit, 0)]

    # -- announcements ---------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int = 100) -> list[str]:
        return [job_id.decode() for job_id in self._claim(keys=[self._due, self._jobs], args=[repr(now), limit])]

    def next_due(self) -> float | None:
        first = self._client.zrange(self._due, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    # -- documents -------------------------------------------------------------------------------

    def _kind_keys(self, kind: str) -> list[str]:
        return [f"{self.prefix}doc:{kind}", f"{self.prefix}doc:{kind}:order", self._versions]

    def get_doc(self, kind: str, doc_id: str) -> Any:
        record = self._client.hget(f"{self.prefix}doc:{kind}", doc_id)
        return None if record is None else json.loads(record)

    def put_doc(self, kind: str, doc_id: str, doc: Any, *, keep: int | None = None) -> None:
        self._put_doc(
            keys=self._kind_keys(kind), args=[doc_id, _dumps(doc), "" if keep is None else max(keep, 0), kind, _token()]
        )

    def append_numbered(self, kind: str, docs: Sequence[dict[str, Any]], *, keep: int) -> list[int]:
        if not docs:
            return []
        encoded = []
        for doc in docs:
            text = _dumps(doc)
            if text == "{}" or "seq" in doc:
                raise ValueError("append_numbered takes non-empty documents without a seq")
            encoded.append(text)
        first = int(
            self._append_numbered(
                keys=[*self._kind_keys(kind), self._numbers], args=[kind, max(keep, 0), _token(), *encoded]
            )
        )
        return list(range(first, first + len(encoded)))

    def versions(self, names: Sequence[str]) -> tuple[Any, ...]:
        cleared, *tokens = self._client.hmget(self._versions, ["*", *names])
        return tuple((cleared, token) for token in tokens)

    def update(self, kind: str, doc_id: str, change: Updater[T]) -> T:
        keys = self._kind_keys(kind)
        for attempt in range(self.max_update_attempts):
            seen = self._client.hget(keys[0], doc_id)
            new, result = change(None if seen is None else json.loads(seen))
            written = self._compare_and_set(
                keys=keys,
                args=[
                    doc_id,
                    "0" if seen is None else "1",
                    seen or b"",
                    "0" if new is None else "1",
                    "" if new is None else _dumps(new),
                    kind,
                    _token(),
                ],
            )
            if written:
                return result
            if attempt >= 2:  # others keep winning: step aside for a moment, with jitter so we do not collide again
                time.sleep(random.uniform(0, min(0.02, 0.0005 * 2**attempt)))
        raise StoreError(
            f"gave up updating {kind}/{doc_id} on Redis at {self._endpoint}: other writers changed "
            f"it {self.max_update_attempts} times in a row"
        )

    def docs(self, kind: str) -> list[Any]:
        docs_key, order_key, _ = self._kind_keys(kind)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zrange(order_key, 0, -1)
            pipe.hgetall(docs_key)
            order, records = pipe.execute()
        return [json.loads(records[doc_id]) for doc_id in order if doc_id in records]

    def delete_docs(self, kind: str, ids: Iterable[str] | None = None) -> int:
        docs_key, order_key, versions_key = self._kind_keys(kind)
        with self._client.pipeline(transaction=True) as pipe:
            if ids is None:
                pipe.hlen(docs_key)
                pipe.unlink(docs_key, order_key)
                pipe.hset(versions_key, kind, _token())
                count, _, _ = pipe.execute()
                return int(count)
            wanted = list(ids)
            if not wanted:
                return 0
            pipe.hdel(docs_key, *wanted)
            pipe.zrem(order_key, *wanted)
            pipe.hset(versions_key, kind, _token())
            count, _, _ = pipe.execute()
            return int(count)

    # -- counters --------------------------------------------------------------------------------

    def next_number(self, name: str) -> int:
        return int(self._client.hincrby(self._numbers, name, 1))


def _token() -> str:
    # Random rather than counted: clear() deletes every key, and a count starting again could repeat
    # a token some process still holds.
    return os.urandom(8).hex()


def _reported(method: _F) -> _F:
    """Turns a Redis failure into a StoreError naming the server, with any password masked."""

    @functools.wraps(method)
    def call(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
        down = self._down
        if down is not None:
            raise StoreError(down)
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as error:
            reported = self._error(error)
            if isinstance(error, (redis.TimeoutError, redis.ConnectionError)):
                self._trip(str(reported))
            raise reported from None

    return call  # type: ignore[return-value]


for _name in BACKEND_METHODS:
    setattr(RedisStore, _name, _reported(getattr(RedisStore, _name)))
del _name
