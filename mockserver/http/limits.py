"""How much of a request the server keeps: lengths of the fields a job stores, and what the journal holds.

A job keeps its text fields for as long as it lives and answers them on every poll and list page,
so a field without a bound is memory a client can take at will (40 creates with a 4 MB `model` once
grew the server by 250 MB, and one list page answered 80 MB). Each text field a job keeps is bounded:
by the contract's maxLength where it has one, else by FIELD_CHARS, else by DEFAULT_CHARS.

The journal keeps the body as the client sent it, unknown fields included (a test may want to see
that its client sent one), but not without bound: a string longer than JOURNAL_STRING_CHARS is kept
as its start and its length (`trimmed`). A job keeps only the fields the contract declares, trimmed
the same way (an `input_reference[image_url]` may be a data: URL of megabytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.core.errors import APIError

FIELD_CHARS = {"model": 256, "size": 64, "seconds": 32, "name": 256}
DEFAULT_CHARS = 32_000  # the contract's own bound for `prompt`
JOURNAL_STRING_CHARS = 4096
MAX_BRACKET_DEPTH = 8  # `a[b][c]` in a form: the contract's deepest object is two levels down


def check_lengths(values: Mapping[str, Any], properties: Mapping[str, Mapping[str, Any]]) -> None:
    """400 `string_above_max_length` for the first known text field longer than its bound."""
    for name, value in values.items():
        if not isinstance(value, str) or name not in properties:
            continue
        bound = properties[name].get("maxLength")
        limit = bound if isinstance(bound, int) else FIELD_CHARS.get(name, DEFAULT_CHARS)
        if len(value) > limit:
            raise APIError(
                400,
                f"'{name}' is {len(value)} characters long; at most {limit} are accepted.",
                code="string_above_max_length",
                param=name,
            )


def trimmed(value: Any) -> Any:
    """`value` with every over-long string cut to its start and length (bodies are 32 levels deep at most)."""
    if isinstance(value, str):
        if len(value) <= JOURNAL_STRING_CHARS:
            return value
        return f"{value[:256]}... ({len(value)} characters; the journal keeps the first 256)"
    if isinstance(value, dict):
        return {name: trimmed(item) for name, item in value.items()}
    if isinstance(value, list):
        return [trimmed(item) for item in value]
    return value
