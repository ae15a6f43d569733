"""What a control API call sent: its JSON object, the key it is scoped to, its numbers; or a 400 saying what to send."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from mockserver.core import jsonbody
from mockserver.core.errors import bad_request
from mockserver.core.keys import owner_of


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` (every control call has defaults).

    That a body is declared JSON the access guard has checked already (control/browsers.py). What
    parses but could not be stored (a lone surrogate, 1e400) is refused here, before anything changes.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = jsonbody.loads(raw)
    except jsonbody.InvalidValue as exc:
        raise bad_request(str(exc), param=exc.param) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return value


def scoped_owner(data: dict[str, Any] | None, request: Request, salt: str) -> str | None:
    """The key a call is scoped to: `api_key` (body; fingerprinted with `salt`) or `owner` (body or query).

    None when the call names no key.
    """
    if data and data.get("api_key"):
        if not isinstance(data["api_key"], str):
            raise bad_request("'api_key' must be a string.", param="api_key")
        return owner_of(data["api_key"], salt)
    owner = (data or {}).get("owner") or request.query_params.get("owner")
    return str(owner) if owner else None


def required_number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f'Send {{"{name}": <number>}}; got {value!r}.', param=name, code="invalid_value")
    return float(value)


def optional_positive(
    data: dict[str, Any], name: str, *, high: float, integer: bool = False, above_zero: bool = False
) -> Any:
    """A number >= 0 (> 0 with `above_zero`, a whole number >= 1 with `integer`) and at most `high`,
    or None when the field is absent. Beyond `high` a value only breaks what it configures."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        low_ok = False
    else:
        low_ok = value > 0 if above_zero else value >= 0
    if not low_ok or value > high or (integer and (value != int(value) or value < 1)):
        kind = "a whole number >= 1" if integer else "a number > 0" if above_zero else "a number >= 0"
        raise bad_request(
            f"'{name}' must be {kind} and at most {high:g}, got {value!r}.", param=name, code="invalid_value"
        )
    return int(value) if integer else float(value)


def int_query(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    # ASCII digits only: str.isdigit() and int() also take '²' and full-width digits, and int() of
    # thousands of digits raises; nine digits are more than any journal holds.
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise bad_request(f"Query parameter '{name}' must be a non-negative integer, got {value[:40]!r}.", param=name)
    return int(value)
