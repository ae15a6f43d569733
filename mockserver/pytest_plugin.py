"""pytest fixtures for testing an application against the fake (registered as the `mockserver` plugin).

`mockserver`: a real server (uvicorn, in-process, on a free loopback port, started once per
session, or per xdist worker) and a per-test handle: `base_url`, a fresh `api_key`, `clock`,
`outcomes`, `faults`, `journal`, `reset()`, and `client()` for an official `openai.OpenAI`.

`mockserver_asgi`: the same handle over an in-process ASGI transport, no socket at all.

Before each test the server is reset and its clock frozen, so jobs do not move on their own: a
test moves them with `clock.advance(seconds)` (or lets time run with `clock.real()`), or scripts
an outcome with `duration=0` so that a job is finished the moment it is created. Each test gets
its own `sk-test-...` key, and outcomes, faults and journal queries are scoped to it.

With `--mockserver-url URL` (or MOCKSERVER_URL) the fixtures use a server someone else started,
which several test processes may share. Then a test resets only what belongs to its key and
leaves the clock alone (it is shared); drive jobs with scripted durations rather than the clock.
`--mockserver-admin-token` (or MOCKSERVER_ADMIN_TOKEN) is sent to its control API.

Override the `mockserver_config` fixture (session scope, returns a ServerConfig) to change how the
in-process server is configured.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from mockserver.client import ClockControl, Faults, JournalClient, MockControl, Outcomes

if TYPE_CHECKING:
    from mockserver.config import ServerConfig

HEALTH_DEADLINE_SECONDS = 20.0
ASGI_ROOT = "http://testserver"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "OpenAI video API fake")
    group.addoption(
        "--mockserver-url",
        default=None,
        help="use this running mockserver (root URL) instead of starting one; env MOCKSERVER_URL",
    )
    group.addoption(
        "--mockserver-admin-token", default=None, help="admin token for its control API; env MOCKSERVER_ADMIN_TOKEN"
    )


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    # getoption with a default: the plugin may be registered after the command line was parsed.
    return config.getoption(name, default=None) or os.environ.get(env) or None


@dataclass
class MockServerHandle:
    """One test's view of the fake. `base_url` ends in the API base path (e.g. .../v1)."""

    root_url: str
    base_url: str
    api_key: str
    control: MockControl
    shared: bool = False  # the server may be used by other processes (--mockserver-url)
    http_client: Any = None  # for mockserver_asgi: the in-process httpx2 client the SDK must use
    app: Any = field(default=None, repr=False)

    @property
    def clock(self) -> ClockControl:
        return self.control.clock

    @property
    def outcomes(self) -> Outcomes:
        return self.control.outcomes

    @property
    def faults(self) -> Faults:
        return self.control.faults

    @property
    def journal(self) -> JournalClient:
        return self.control.journal

    @property
    def owner(self) -> str | None:
        return self.control.owner

    def reset(self) -> None:
        """Redo the fixture's set-up: wipe the state (this key's only, on a shared server) and freeze the clock."""
        _prepare(self.control, self.shared)

    def client(self, **kwargs: Any) -> Any:
        """An official `openai.OpenAI` pointed at this server with this test's key."""
        from openai import OpenAI

        if self.http_client is not None:
            kwargs.setdefault("http_client", self.http_client)
        return OpenAI(base_url=self.base_url, api_key=self.api_key, **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        """An official `openai.AsyncOpenAI` (over an httpx2 ASGITransport for mockserver_asgi)."""
        from openai import AsyncOpenAI

        if self.app is not None and "http_client" not in kwargs:
            import httpx2

            kwargs["http_client"] = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=self.app), base_url=self.root_url
            )
        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, **kwargs)


class _BackgroundServer:
    """uvicorn serving the app from a thread, on a socket bound before it starts (no port race)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from mockserver.http.protocol import HTTP_PROTOCOL

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, http=HTTP_PROTOCOL))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="mockserver", daemon=True
        )

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, control: MockControl) -> None:
        self.thread.start()
        deadline = time.monotonic() + HEALTH_DEADLINE_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the in-process mockserver stopped before it answered /__mock/health")
            try:
                control.health()
                return
            except OSError as exc:
                last_error = exc
            time.sleep(0.02)  # a poll interval, bounded by the deadline
        raise TimeoutError(
            f"the in-process mockserver did not answer /__mock/health within {HEALTH_DEADLINE_SECONDS}s: {last_error}"
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def _new_key() -> str:
    return f"sk-test-{secrets.token_hex(12)}"


@pytest.fixture(scope="session")
def mockserver_config() -> ServerConfig:
    """How the in-process server is configured; override in a conftest.py to change it."""
    from mockserver.config import ServerConfig

    return ServerConfig()


@dataclass
class _Session:
    root_url: str
    base_path: str
    admin_token: str | None
    shared: bool  # another process may be using the same server


@pytest.fixture(scope="session")
def _mockserver_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    url = _option(request.config, "mockserver_url", "MOCKSERVER_URL")
    token = _option(request.config, "mockserver_admin_token", "MOCKSERVER_ADMIN_TOKEN")
    if url:
        control = MockControl(url, admin_token=token)
        health = control.health()
        yield _Session(url.rstrip("/"), str(health.get("base_path", "/v1")), token, shared=True)
        return
    from mockserver.http.app import create_app

    config: ServerConfig = request.getfixturevalue("mockserver_config")
    app = create_app(config)
    background = _BackgroundServer(app)
    background.start(MockControl(background.root_url, admin_token=config.admin_token))
    try:
        yield _Session(background.root_url, app.state.server.contract.base_path, config.admin_token, shared=False)
    finally:
        background.stop()


def _prepare(control: MockControl, shared: bool) -> None:
    if shared:
        control.reset()  # this key's jobs, journal, queue and faults only
    else:
        control.reset(api_key=None)  # the whole server is this worker's alone
        control.clock.freeze()


@pytest.fixture
def mockserver(_mockserver_session: _Session) -> MockServerHandle:
    """A running fake: base_url, a fresh api_key, clock, outcomes, faults, journal, reset(), client()."""
    session = _mockserver_session
    key = _new_key()
    control = MockControl(session.root_url, api_key=key, admin_token=session.admin_token)
    _prepare(control, session.shared)
    return MockServerHandle(session.root_url, session.root_url + session.base_path, key, control, shared=session.shared)


@pytest.fixture(scope="session")
def _mockserver_app(mockserver_config: ServerConfig) -> Any:
    from mockserver.http.app import create_app

    return create_app(mockserver_config)


@pytest.fixture
def mockserver_asgi(_mockserver_app: Any) -> Iterator[MockServerHandle]:
    """The fake with no socket: pass `handle.http_client` (or use `handle.client()`) to the SDK."""
    from starlette.testclient import TestClient

    # A TestClient is an httpx2.Client with a sync transport into the ASGI app; entering it keeps
    # one event-loop thread for the whole test instead of one per request.
    with TestClient(_mockserver_app, base_url=ASGI_ROOT, raise_server_exceptions=False) as http:
        key = _new_key()
        server = _mockserver_app.state.server
        control = MockControl(ASGI_ROOT, api_key=key, admin_token=server.config.admin_token, http=http)
        _prepare(control, shared=False)
        yield MockServerHandle(
            ASGI_ROOT, ASGI_ROOT + server.contract.base_path, key, control, http_client=http, app=_mockserver_app
        )
