"""What a control API call sent: its JSON object, the key it is scoped to, its numbers; or a 400 saying what to send."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from mockserver.core import jsonbody
from mockserver.core.errors import bad_request
from mockserver.core.keys import owner_of


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` (every control call has defaults)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = jsonbody.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return value


def scoped_owner(data: dict[str, Any] | None, request: Request) -> str | None:
    """The key a call is scoped to: `api_key` (body) or `owner` (body or query), else None."""
    if data and data.get("api_key"):
        if not isinstance(data["api_key"], str):
            raise bad_request("'api_key' must be a string.", param="api_key")
        return owner_of(data["api_key"])
    owner = (data or {}).get("owner") or request.query_params.get("owner")
    return str(owner) if owner else None


def required_number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f'Send {{"{name}": <number>}}; got {value!r}.', param=name, code="invalid_value")
    return float(value)


def optional_positive(data: dict[str, Any], name: str, *, integer: bool = False) -> Any:
    """A number >= 0 (or a whole number >= 1 with `integer`), or None when the field is absent."""
    value = data.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or (integer and (value != int(value) or value < 1))
    ):
        kind = "a whole number >= 1" if integer else "a number >= 0"
        raise bad_request(f"'{name}' must be {kind}, got {value!r}.", param=name, code="invalid_value")
    return int(value) if integer else float(value)


def int_query(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise bad_request(f"Query parameter '{name}' must be a non-negative integer, got {value!r}.", param=name)
    return int(value)
