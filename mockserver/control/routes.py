"""The /__mock control API: clock, scripted outcomes, faults, journal, reset (and health).

JSON in and out; every error is the OpenAI envelope. Described by openapi/control.yaml, which the
server serves at /__mock/openapi.yaml.

Access: open when the server listens on loopback only and no --admin-token is set. With a token,
every route but /__mock/health needs `Authorization: Bearer <token>`; on another interface without
a token the control API refuses (403) rather than letting anyone on the network drive the fake.

API keys are never put in URLs here (access logs would print them): GET and DELETE filter by the
key's fingerprint (`owner`, see mockserver.service.owner_of); JSON bodies may carry `api_key`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.control.browsers import check_browser_headers, check_json_body
from mockserver.control.faults import FaultError, FaultRule, parse_rule
from mockserver.core import jsonbody
from mockserver.core.errors import APIError, bad_request
from mockserver.core.outcomes import Script, parse_duration, parse_outcome
from mockserver.core.videos import owner_of
from mockserver.http.auth import bearer_token
from mockserver.resources import openapi_dir

if TYPE_CHECKING:
    from mockserver.http.app import Server

CONTROL_SPEC = openapi_dir() / "control.yaml"
# Virtual time stays a float with sub-millisecond precision and every derived timestamp an ordinary
# integer: a clock moved by 1e300 seconds made every later job's timestamps meaningless.
MAX_ADVANCE_SECONDS = 10 * 365 * 86_400.0
MAX_SPEED = 1_000_000.0
Handler = Callable[[Request], Awaitable[Response]]


# -- access -------------------------------------------------------------------------------


def check_access(server: Server, request: Request) -> None:
    token = server.config.admin_token
    if token:
        sent = bearer_token(request)
        if sent is None:
            raise APIError(
                401,
                "The control API needs the admin token: send 'Authorization: Bearer <admin token>'.",
                code="missing_admin_token",
            )
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise APIError(401, "Incorrect admin token for the control API.", code="invalid_admin_token")
        return
    if not server.config.loopback_only:
        raise APIError(
            403,
            "The control API is disabled because this server listens on a non-loopback address without an admin token. "
            "Restart it with --admin-token TOKEN and send 'Authorization: Bearer TOKEN'.",
            code="admin_token_required",
        )
    check_browser_headers(request, server.config.bind_host)


# -- reset --------------------------------------------------------------------------------


def reset(server: Server, owner: str | None = None) -> dict[str, Any]:
    """Everything back to start-up state, or (with `owner`) only what belongs to one API key.

    A full reset restores the start-up faults (flags and config file), not "no faults": a server
    started with --rate-limit keeps being rate-limited. The clock returns to real time and the id and
    fault randomness is re-seeded, so a --seed run replays the same ids after every reset.
    A key-scoped reset leaves the clock alone: it is shared by every key.
    """
    if owner is None:
        return {"reset": "all", "jobs_removed": server.reset()}
    removed = 0
    while True:  # page from the start each time: deleted entries are skipped, so this terminates
        page = server.store.page(owner, after=None, limit=500, descending=False)
        for job in page.jobs:
            removed += server.store.delete(job.id)
        if not page.jobs:
            break
    server.journal.clear(owner)
    server.scripts.clear(owner)
    server.faults.remove(owner=owner)
    server.webhooks.reset(owner)
    return {"reset": "owner", "owner": owner, "jobs_removed": removed}


# -- helpers ------------------------------------------------------------------------------


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    check_json_body(request, raw)
    try:
        value = jsonbody.loads(raw)
    except jsonbody.InvalidValue as exc:
        raise bad_request(str(exc), param=exc.param) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return value


def _owner(data: dict[str, Any] | None, request: Request) -> str | None:
    """The key a call is scoped to: `api_key` (body) or `owner` (body or query), else None."""
    if data and data.get("api_key"):
        if not isinstance(data["api_key"], str):
            raise bad_request("'api_key' must be a string.", param="api_key")
        return owner_of(data["api_key"], request.app.state.server.key_salt)
    owner = (data or {}).get("owner") or request.query_params.get("owner")
    return str(owner) if owner else None


def _number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f'Send {{"{name}": <number>}}; got {value!r}.', param=name, code="invalid_value")
    return float(value)


def _script(item: Any, duration: float | None, where: str) -> Script:
    if isinstance(item, dict):
        outcome_text, item_duration = item.get("outcome"), item.get("duration", duration)
    else:
        outcome_text, item_duration = item, duration
    if not isinstance(outcome_text, str):
        raise bad_request(
            f"{where}: an outcome is a string such as 'completed' or 'failed:content_policy_violation'.",
            param="outcomes",
        )
    outcome = parse_outcome(outcome_text, param="outcomes")
    if item_duration is not None:
        item_duration = parse_duration(str(item_duration), param="duration")
    return Script(outcome, item_duration)


def _fault_rules(data: dict[str, Any], owner: str | None, salt: str) -> list[FaultRule]:
    items = data.get("faults", [data] if data else None)
    if not isinstance(items, list) or not items:
        raise bad_request(
            'Send {"faults": [{"path": "/v1/videos", "status": 503, ...}]} or one fault object.', param="faults"
        )
    rules = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and owner and not item.get("api_key") and not item.get("owner"):
            item = {**item, "owner": owner}
        try:
            rules.append(parse_rule(item, salt))
        except FaultError as exc:
            raise bad_request(f"faults[{index}]: {exc}", param=exc.param or "faults") from None
    return rules


def _int_query(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    # ASCII digits only: str.isdigit() and int() also take '²' and full-width digits, and int() of
    # thousands of digits raises; nine digits are more than any journal holds.
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise bad_request(f"Query parameter '{name}' must be a non-negative integer, got {value[:40]!r}.", param=name)
    return int(value)


# -- routes -------------------------------------------------------------------------------


class ControlRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server
        # Read once at start-up; a missing file is a packaging bug, reported where it is asked for.
        self.spec_text = CONTROL_SPEC.read_text(encoding="utf-8") if CONTROL_SPEC.exists() else None

    def routes(self) -> list[BaseRoute]:
        guarded = self._guarded
        return [
            Route("/__mock/health", self.health, methods=["GET"]),
            Route("/__mock/openapi.yaml", guarded(self.spec), methods=["GET"]),
            Route("/__mock/clock", guarded(self.clock), methods=["GET"]),
            Route("/__mock/clock/{action}", guarded(self.clock_action), methods=["POST"]),
            Route("/__mock/outcomes", guarded(self.outcomes), methods=["GET", "POST", "DELETE"]),
            Route("/__mock/faults", guarded(self.faults), methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/__mock/faults/{fault_id}", guarded(self.delete_fault), methods=["DELETE"]),
            Route("/__mock/journal", guarded(self.journal), methods=["GET", "DELETE"]),
            Route("/__mock/reset", guarded(self.reset), methods=["POST"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            check_access(self.server, request)
            return await handler(request)

        return guarded

    async def health(self, request: Request) -> Response:
        return JSONResponse(self.server.health())

    async def spec(self, request: Request) -> Response:
        if self.spec_text is None:
            raise APIError(
                404, f"The control API spec is missing from this installation ({CONTROL_SPEC}).", code="not_found"
            )
        return Response(self.spec_text, media_type="application/yaml")

    # clock

    async def clock(self, request: Request) -> Response:
        return JSONResponse(self.server.clock.describe())

    async def clock_action(self, request: Request) -> Response:
        clock = self.server.clock
        action = request.path_params["action"]
        data = await _json_object(request)
        if action == "freeze":
            clock.freeze()
        elif action == "unfreeze":
            clock.unfreeze()
        elif action == "real":
            clock.reset()
        elif action == "advance":
            seconds = _number(data, "seconds")
            if seconds < 0:
                raise bad_request(
                    "The clock only moves forward; 'seconds' must be >= 0 (use /__mock/clock/real to go back).",
                    param="seconds",
                )
            if seconds > MAX_ADVANCE_SECONDS:
                raise bad_request(
                    f"'seconds' must be at most {MAX_ADVANCE_SECONDS:g} (ten years) per call.", param="seconds"
                )
            clock.advance(seconds)
        elif action == "speed":
            speed = _number(data, "speed")
            if speed < 0:
                raise bad_request("'speed' must be >= 0 (0 stops time without freezing it).", param="speed")
            if speed > MAX_SPEED:
                raise bad_request(f"'speed' must be at most {MAX_SPEED:g}.", param="speed")
            clock.set_speed(speed)
        else:
            raise APIError(
                404,
                f"Unknown clock action {action!r}; use freeze, unfreeze, advance, speed or real.",
                code="unknown_url",
            )
        return JSONResponse(clock.describe())

    # outcomes

    async def outcomes(self, request: Request) -> Response:
        scripts = self.server.scripts
        if request.method == "POST":
            data = await _json_object(request)
            items = data.get("outcomes")
            if not isinstance(items, list) or not items:
                raise bad_request(
                    'Send {"outcomes": ["completed", "failed:content_policy_violation", ...]}, optionally with "duration" and "api_key".',
                    param="outcomes",
                )
            duration = data.get("duration")
            parsed = [_script(item, duration, f"outcomes[{i}]") for i, item in enumerate(items)]
            owner = _owner(data, request)
            queued = scripts.push(*parsed, owner=owner)
            return JSONResponse(
                {"owner": owner, "queued": queued, "outcomes": [s.to_json() for s in scripts.pending(owner)]}
            )
        owner = _owner(None, request)
        if request.method == "DELETE":
            scripts.clear(owner)
        by_owner = scripts.pending_by_owner()
        if owner is not None:
            by_owner = {owner: by_owner.get(owner, [])}
        return JSONResponse(
            {
                "shared": [s.to_json() for s in scripts.pending()],
                "by_owner": {o: [s.to_json() for s in queue] for o, queue in by_owner.items()},
            }
        )

    # faults

    async def faults(self, request: Request) -> Response:
        book = self.server.faults
        if request.method in ("POST", "PUT"):
            data = await _json_object(request)
            owner = _owner(data, request)
            rules = _fault_rules(
                {k: v for k, v in data.items() if k not in ("api_key", "owner")}, owner, self.server.key_salt
            )
            if request.method == "PUT":  # replace: every rule of this key, or every rule
                book.remove(owner=owner)
            added = book.add(*rules)
            return JSONResponse(
                {"faults": [r.to_json() for r in added]}, status_code=201 if request.method == "POST" else 200
            )
        owner = _owner(None, request)
        if request.method == "DELETE":
            removed = book.remove(owner=owner)
            return JSONResponse({"removed": removed, "faults": [r.to_json() for r in book.rules(owner)]})
        return JSONResponse({"faults": [r.to_json() for r in book.rules(owner)]})

    async def delete_fault(self, request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        if not self.server.faults.remove(rule_id=fault_id):
            raise APIError(
                404,
                f"No fault with id {fault_id!r}; GET /__mock/faults lists them.",
                code="fault_not_found",
                param="fault_id",
            )
        return JSONResponse({"removed": 1, "id": fault_id})

    # journal

    async def journal(self, request: Request) -> Response:
        owner = _owner(None, request)
        if request.method == "DELETE":
            return JSONResponse({"removed": self.server.journal.clear(owner)})
        query = request.query_params
        entries = self.server.journal.find(
            path=query.get("path") or None,
            method=query.get("method") or None,
            owner=owner,
            status=_int_query(request, "status"),
            limit=_int_query(request, "limit"),
        )
        return JSONResponse(
            {"object": "list", "data": [e.to_json() for e in entries], "size": self.server.journal.size}
        )

    # reset

    async def reset(self, request: Request) -> Response:
        data = await _json_object(request)
        return JSONResponse(reset(self.server, _owner(data, request)))


def control_routes(server: Server) -> list[BaseRoute]:
    return ControlRoutes(server).routes()
