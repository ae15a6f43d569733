"""JSON as RFC 8259 defines it: request bodies read, response bodies written.

Python's json module also reads `NaN`, `Infinity` and `-Infinity`. No client sends them on purpose,
and a NaN that gets in poisons whatever it touches: a clock advanced by NaN seconds, a webhook
backoff of NaN, answer 500 on every later read. Refusing them at the door keeps that out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def loads(raw: str | bytes) -> Any:
    """json.loads, except that NaN and ±Infinity raise ValueError like any other invalid JSON."""
    return json.loads(raw, parse_constant=_refuse)


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
