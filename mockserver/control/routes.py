"""The /__mock control API: clock, scripted outcomes, faults, journal, webhooks, reset.

JSON in and out; every error is the OpenAI envelope. Described by openapi/control.yaml, which the
server serves at /__mock/openapi.yaml. Who may call these is decided before any of them runs, by
the one guard (control/access.py) the request pipeline applies to every /__mock path.

API keys are never put in URLs here (access logs would print them): GET and DELETE filter by the
key's fingerprint (`owner`, see mockserver.core.keys.owner_of); JSON bodies may carry `api_key`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.control.faults import FaultError, FaultRule, parse_rule
from mockserver.control.inputs import int_query, json_object, required_number, scoped_owner
from mockserver.control.plane import ControlPlane
from mockserver.control.webhook_routes import WebhookRoutes
from mockserver.core.errors import APIError, bad_request
from mockserver.core.outcomes import ScriptedOutcome, parse_duration, parse_outcome
from mockserver.resources import openapi_dir

CONTROL_SPEC = openapi_dir() / "control.yaml"
# Virtual time stays a float with sub-millisecond precision and every derived timestamp an ordinary
# integer: a clock moved by 1e300 seconds made every later job's timestamps meaningless.
MAX_ADVANCE_SECONDS = 10 * 365 * 86_400.0
MAX_SPEED = 1_000_000.0


def _script(item: Any, duration: float | None, where: str) -> ScriptedOutcome:
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
    return ScriptedOutcome(outcome, item_duration)


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


# -- routes -------------------------------------------------------------------------------


class ControlRoutes:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        # Read once at start-up; a missing file is a packaging bug, reported where it is asked for.
        self.spec_text = CONTROL_SPEC.read_text(encoding="utf-8") if CONTROL_SPEC.exists() else None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/__mock/openapi.yaml", self.spec, methods=["GET"]),
            Route("/__mock/clock", self.clock, methods=["GET"]),
            Route("/__mock/clock/{action}", self.clock_action, methods=["POST"]),
            Route("/__mock/outcomes", self.outcomes, methods=["GET", "POST", "DELETE"]),
            Route("/__mock/faults", self.faults, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/__mock/faults/{fault_id}", self.delete_fault, methods=["DELETE"]),
            Route("/__mock/journal", self.journal, methods=["GET", "DELETE"]),
            Route("/__mock/reset", self.reset, methods=["POST"]),
        ]

    async def spec(self, request: Request) -> Response:
        if self.spec_text is None:
            raise APIError(
                404, f"The control API spec is missing from this installation ({CONTROL_SPEC}).", code="not_found"
            )
        return Response(self.spec_text, media_type="application/yaml")

    # clock

    async def clock(self, request: Request) -> Response:
        return JSONResponse(self.plane.clock.describe())

    async def clock_action(self, request: Request) -> Response:
        clock = self.plane.clock
        action = request.path_params["action"]
        data = await json_object(request)
        if action == "freeze":
            clock.freeze()
        elif action == "unfreeze":
            clock.unfreeze()
        elif action == "real":
            clock.reset()
        elif action == "advance":
            seconds = required_number(data, "seconds")
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
            speed = required_number(data, "speed")
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
        queue = self.plane.outcomes
        if request.method == "POST":
            data = await json_object(request)
            items = data.get("outcomes")
            if not isinstance(items, list) or not items:
                raise bad_request(
                    'Send {"outcomes": ["completed", "failed:content_policy_violation", ...]}, optionally with '
                    '"duration" and "api_key".',
                    param="outcomes",
                )
            duration = data.get("duration")
            parsed = [_script(item, duration, f"outcomes[{i}]") for i, item in enumerate(items)]
            owner = scoped_owner(data, request, self.plane.key_salt)
            queued = queue.push(*parsed, owner=owner)
            return JSONResponse(
                {"owner": owner, "queued": queued, "outcomes": [s.to_json() for s in queue.pending(owner)]}
            )
        owner = scoped_owner(None, request, self.plane.key_salt)
        if request.method == "DELETE":
            queue.clear(owner)
        by_owner = queue.pending_by_owner()
        if owner is not None:
            by_owner = {owner: by_owner.get(owner, [])}
        return JSONResponse(
            {
                "shared": [s.to_json() for s in queue.pending()],
                "by_owner": {o: [s.to_json() for s in queue] for o, queue in by_owner.items()},
            }
        )

    # faults

    async def faults(self, request: Request) -> Response:
        book = self.plane.faults
        if request.method in ("POST", "PUT"):
            data = await json_object(request)
            owner = scoped_owner(data, request, self.plane.key_salt)
            rules = _fault_rules(
                {k: v for k, v in data.items() if k not in ("api_key", "owner")}, owner, self.plane.key_salt
            )
            if request.method == "PUT":  # replace: every rule of this key, or every rule
                book.remove(owner=owner)
            added = book.add(*rules)
            return JSONResponse(
                {"faults": [r.to_json() for r in added]}, status_code=201 if request.method == "POST" else 200
            )
        owner = scoped_owner(None, request, self.plane.key_salt)
        if request.method == "DELETE":
            removed = book.remove(owner=owner)
            return JSONResponse({"removed": removed, "faults": [r.to_json() for r in book.rules(owner)]})
        return JSONResponse({"faults": [r.to_json() for r in book.rules(owner)]})

    async def delete_fault(self, request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        if not self.plane.faults.remove(rule_id=fault_id):
            raise APIError(
                404,
                f"No fault with id {fault_id!r}; GET /__mock/faults lists them.",
                code="fault_not_found",
                param="fault_id",
            )
        return JSONResponse({"removed": 1, "id": fault_id})

    # journal

    async def journal(self, request: Request) -> Response:
        owner = scoped_owner(None, request, self.plane.key_salt)
        if request.method == "DELETE":
            return JSONResponse({"removed": self.plane.journal.clear(owner)})
        query = request.query_params
        entries = self.plane.journal.find(
            path=query.get("path") or None,
            method=query.get("method") or None,
            owner=owner,
            status=int_query(request, "status"),
            limit=int_query(request, "limit"),
        )
        return JSONResponse({"object": "list", "data": [e.to_json() for e in entries], "size": self.plane.journal.size})

    # reset

    async def reset(self, request: Request) -> Response:
        """Everything back to start-up state, or (with a key) only what belongs to that key."""
        owner = scoped_owner(await json_object(request), request, self.plane.key_salt)
        if owner is None:
            return JSONResponse({"reset": "all", "jobs_removed": self.plane.reset()})
        return JSONResponse({"reset": "owner", "owner": owner, "jobs_removed": self.plane.reset_owner(owner)})


def control_routes(plane: ControlPlane) -> list[BaseRoute]:
    """Every /__mock route: the control API's and the webhook endpoints'."""
    return [*ControlRoutes(plane).routes(), *WebhookRoutes(plane.webhooks, plane.key_salt).routes()]
