"""A small Python client for the /__mock control API.

    from mockserver.client import MockControl

    mock = MockControl("http://127.0.0.1:8000", api_key="sk-my-test-key")
    mock.outcomes.push("failed:content_policy_violation", duration=0)
    mock.clock.freeze(); mock.clock.advance(30)
    sent = mock.journal.find(path="/v1/videos", method="POST")[-1]["body"]

With `api_key`, outcomes, faults, journal queries and `reset()` are scoped to that key, so tests
sharing one server stay out of each other's way; `scoped_to_key=False` calls act on everything.
The key itself is sent only in JSON bodies, never in URLs (which access logs print).

By default it speaks HTTP with the standard library (no extra dependency). Pass `http=` any
httpx-style client (httpx.Client, httpx2.Client, starlette's TestClient) to route calls through it,
e.g. to an in-process app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from mockserver.core.keys import owner_of

_UNSET: Any = object()


class MockControlError(Exception):
    """The control API said no; `status` and the OpenAI-style `error` object say why."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status}: {error.get('message', error)}")
        self.status = status
        self.error = error


class MockControl:
    def __init__(
        self,
        root_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        admin_token: str | None = None,
        http: Any = None,
        timeout: float = 10.0,
    ) -> None:
        self.root_url = root_url.rstrip("/")
        self.api_key = api_key
        self.admin_token = admin_token
        self.http = http
        self.timeout = timeout
        self.clock = ClockControl(self)
        self.outcomes = Outcomes(self)
        self.faults = Faults(self)
        self.journal = JournalClient(self)
        self._key_salt: str | None = None

    def __repr__(self) -> str:
        return f"MockControl({self.root_url!r})"

    @property
    def key_salt(self) -> str:
        """The server's salt of key fingerprints, from its health (asked once)."""
        if self._key_salt is None:
            self._key_salt = str(self.health()["key_salt"])
        return self._key_salt

    def owner_of(self, api_key: str) -> str:
        """The fingerprint this server knows `api_key` by."""
        return owner_of(api_key, self.key_salt)

    @property
    def owner(self) -> str | None:
        """The fingerprint the server knows this client's key by (journal entries carry it)."""
        return self.owner_of(self.api_key) if self.api_key else None

    def scope(self, api_key: Any) -> str | None:
        key = self.api_key if api_key is _UNSET else api_key
        return key or None

    # -- transport ------------------------------------------------------------------------

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"accept": "application/json"}
        if self.admin_token:
            headers["authorization"] = f"Bearer {self.admin_token}"
        url = self.root_url + path
        if self.http is not None:
            response = self.http.request(method, url, json=body, params=params, headers=headers)
            status, text = response.status_code, response.text
        else:
            status, text = self._urllib(method, url, body, params, headers)
        data = json.loads(text) if text else {}
        if status >= 400:
            raise MockControlError(
                status, data.get("error", {"message": text}) if isinstance(data, dict) else {"message": text}
            )
        return data

    def _urllib(
        self, method: str, url: str, body: dict[str, Any] | None, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str]:
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "content-type": "application/json"}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    # -- whole server ---------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/__mock/health")

    def reset(self, *, api_key: Any = _UNSET) -> dict[str, Any]:
        """Everything back to start-up state, or, for a client with a key, only that key's things."""
        key = self.scope(api_key)
        return self.call("POST", "/__mock/reset", {"api_key": key} if key else {})


class _Api:
    def __init__(self, control: MockControl) -> None:
        self.control = control

    def _owner(self, api_key: Any) -> str | None:
        key = self.control.scope(api_key)
        return self.control.owner_of(key) if key else None


class ClockControl(_Api):
    """Server time. Jobs derive their state from it, so moving it moves every job."""

    def now(self) -> float:
        return float(self.control.call("GET", "/__mock/clock")["now"])

    def describe(self) -> dict[str, Any]:
        return self.control.call("GET", "/__mock/clock")

    def freeze(self) -> dict[str, Any]:
        return self.control.call("POST", "/__mock/clock/freeze")

    def unfreeze(self) -> dict[str, Any]:
        return self.control.call("POST", "/__mock/clock/unfreeze")

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.control.call("POST", "/__mock/clock/advance", {"seconds": seconds})

    def set_speed(self, speed: float) -> dict[str, Any]:
        return self.control.call("POST", "/__mock/clock/speed", {"speed": speed})

    def real(self) -> dict[str, Any]:
        return self.control.call("POST", "/__mock/clock/real")


class Outcomes(_Api):
    """Scripted outcomes for the next creates that choose none themselves."""

    def push(self, *outcomes: str, duration: float | None = None, api_key: Any = _UNSET) -> dict[str, Any]:
        """`push("completed", "failed:content_policy_violation", duration=0)`; queued for this client's key."""
        body: dict[str, Any] = {"outcomes": list(outcomes)}
        if duration is not None:
            body["duration"] = duration
        key = self.control.scope(api_key)
        if key:
            body["api_key"] = key
        return self.control.call("POST", "/__mock/outcomes", body)

    def list(self, *, api_key: Any = _UNSET) -> list[dict[str, Any]]:
        """This key's queue (or, for a client without a key, the shared queue)."""
        owner = self._owner(api_key)
        data = self.control.call("GET", "/__mock/outcomes", params={"owner": owner})
        return data["by_owner"].get(owner, []) if owner else data["shared"]

    def clear(self, *, api_key: Any = _UNSET) -> None:
        self.control.call("DELETE", "/__mock/outcomes", params={"owner": self._owner(api_key)})


class Faults(_Api):
    """Injected rate limits, error statuses and latency. Each rule is a dict as in openapi/control.yaml."""

    def add(self, *rules: dict[str, Any], api_key: Any = _UNSET, **rule: Any) -> list[dict[str, Any]]:
        """`add(path="/v1/videos", method="POST", status=429, times=2)` or `add({...}, {...})`."""
        body = self._body(rules, rule, api_key)
        return self.control.call("POST", "/__mock/faults", body)["faults"]

    def set(self, *rules: dict[str, Any], api_key: Any = _UNSET, **rule: Any) -> list[dict[str, Any]]:
        """Replace this key's rules (every rule, for a client without a key) with these."""
        body = self._body(rules, rule, api_key)
        return self.control.call("PUT", "/__mock/faults", body)["faults"]

    def list(self, *, api_key: Any = _UNSET) -> list[dict[str, Any]]:
        return self.control.call("GET", "/__mock/faults", params={"owner": self._owner(api_key)})["faults"]

    def clear(self, *, api_key: Any = _UNSET) -> None:
        self.control.call("DELETE", "/__mock/faults", params={"owner": self._owner(api_key)})

    def remove(self, fault_id: str) -> None:
        self.control.call("DELETE", f"/__mock/faults/{urllib.parse.quote(fault_id)}")

    def _body(self, rules: Iterable[dict[str, Any]], rule: dict[str, Any], api_key: Any) -> dict[str, Any]:
        items = [*rules, *([rule] if rule else [])]
        if not items:
            raise ValueError("give at least one fault, e.g. faults.add(path='/v1/videos', status=503)")
        body: dict[str, Any] = {"faults": items}
        key = self.control.scope(api_key)
        if key:
            body["api_key"] = key
        return body


class JournalClient(_Api):
    """The requests the server received, oldest first, as dicts (see JournalEntry in openapi/control.yaml)."""

    def find(
        self,
        path: str | None = None,
        method: str | None = None,
        *,
        status: int | None = None,
        limit: int | None = None,
        api_key: Any = _UNSET,
    ) -> list[dict[str, Any]]:
        params = {"path": path, "method": method, "status": status, "limit": limit, "owner": self._owner(api_key)}
        return self.control.call("GET", "/__mock/journal", params=params)["data"]

    def clear(self, *, api_key: Any = _UNSET) -> None:
        self.control.call("DELETE", "/__mock/journal", params={"owner": self._owner(api_key)})
