"""JSON as RFC 8259 defines it: request bodies read, response bodies written.

Python's json module also reads `NaN`, `Infinity` and `-Infinity`. No client sends them on purpose,
and a NaN that gets in poisons whatever it touches: a clock advanced by NaN seconds, a webhook
backoff of NaN, answer 500 on every later read. Refusing them at the door keeps that out.

The same holds for values that parse but cannot be written back: a lone surrogate (`"\\ud800"`) in
a string, which no UTF-8 encoder takes; a number beyond a double (`1e400` is infinity); an integer
of thousands of digits; nesting deep enough to exhaust the stack of whatever walks it next. `loads`
refuses each of them with `InvalidValue`, naming the top-level field it sits in, before a caller
can store any of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside the body; the contract's deepest field is 3 levels down
# An integer no double can hold (past 1.8e308) is refused like 1e400: clients that read JSON numbers as
# doubles cannot have it back, and int() of 4300+ digits raises besides. Smaller ones are valid JSON the
# contract may allow (an unknown field of any value), so they are taken.
MAX_INT_DIGITS = 309


class InvalidValue(ValueError):
    """Valid JSON holding a value this server cannot keep; `param` is the top-level field it is in."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.param = param


class _LongInteger(str):
    """What an over-long integer parses to, so the walk can say which field holds it."""


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _integer(text: str) -> int | _LongInteger:
    return _LongInteger(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def loads(raw: str | bytes) -> Any:
    """json.loads, except that NaN, ±Infinity and nesting past the stack raise ValueError like any other
    invalid JSON, and what `check` refuses raises InvalidValue."""
    try:
        value = json.loads(raw, parse_constant=_refuse, parse_int=_integer)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    check(value)
    return value


def check(document: Any) -> None:
    """Raise InvalidValue for the first value in `document` that could not be written back as JSON."""
    if isinstance(document, dict):
        for name, value in document.items():
            param = name if _is_text(name) else None
            if param is None:
                raise InvalidValue(
                    "A field name in the body is not valid Unicode (a lone surrogate such as \\ud800).", None
                )
            _check_value(value, param)
    else:
        _check_value(document, None)


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_value(value: Any, param: str | None) -> None:
    where = f"'{param}'" if param else "The body"
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # a loop, not recursion: the depth is what is being checked
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not _is_text(item):
                raise InvalidValue(
                    f"{where} holds a string that is not valid Unicode (a lone surrogate such as \\ud800); "
                    "send UTF-8 text.",
                    param,
                )
        elif kind is float:
            if not math.isfinite(item):
                raise InvalidValue(f"{where} holds a number too large for this server (beyond a 64-bit float).", param)
        elif kind is _LongInteger:
            raise InvalidValue(f"{where} holds an integer of more than {MAX_INT_DIGITS} digits.", param)
        elif kind is dict or kind is list:
            if depth > MAX_DEPTH:
                raise InvalidValue(f"{where} is nested more than {MAX_DEPTH} levels deep.", param)
            if kind is dict:
                for name, child in item.items():
                    if not _is_text(name):
                        raise InvalidValue(
                            f"{where} holds a field name that is not valid Unicode (a lone surrogate such as \\ud800).",
                            param,
                        )
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _unserializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _c_encoder() -> Callable[[Any], str] | None:
    """CPython's C encoder with Starlette's JSONResponse options, made once.

    json.JSONEncoder.encode builds a new C encoder (and a dict for its cycle check) on every call,
    a large part of encoding a small document. The documents written here (responses, store
    documents) are plain data built by this code and never cyclic, so the check has nothing to
    find. None where the interpreter has no C encoder or it takes other arguments (then the json
    module is used).
    """
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

        # markers, default, encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan
        encode = c_make_encoder(None, _unserializable, encode_basestring, None, ":", ",", False, False, False)
        encode({"probe": [1, 2.5, None, "é"]}, 0)
    except (ImportError, TypeError):
        return None
    return lambda value: "".join(encode(value, 0))


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
_encode = _c_encoder() or _ENCODER.encode


def dumps_text(value: Any) -> str:
    """`dumps` as text: how the SQLite and Redis stores write their documents."""
    return _encode(value)


def dumps(value: Any) -> bytes:
    """Exactly the bytes of Starlette's JSONResponse: compact, UTF-8, NaN and ±Infinity refused (ValueError)."""
    return _encode(value).encode("utf-8")
