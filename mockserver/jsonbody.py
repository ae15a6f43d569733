"""JSON request bodies read as RFC 8259 defines JSON.

Python's json module also reads `NaN`, `Infinity` and `-Infinity`. No client sends them on purpose,
and a NaN that gets in poisons whatever it touches: a clock advanced by NaN seconds, a webhook
backoff of NaN, answer 500 on every later read. Refusing them at the door keeps that out.
"""

from __future__ import annotations

import json
from typing import Any


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def loads(raw: str | bytes) -> Any:
    """json.loads, except that NaN and ±Infinity raise ValueError like any other invalid JSON."""
    return json.loads(raw, parse_constant=_refuse)
