"""Checks for the ways real dialects differ from the official API (see mockserver/profiles/).

Several of these differences are things the contract's schema permits: ids are plain strings
and a Video may carry fields the schema does not name. They are still what a team evaluating a
provider must see, because a client written against the official API trips over them (an id
parsed for its `video_` prefix, a field it reads that the official API never sends). Those
checks have severity `deviation`: reported under their own heading, not failing the run.

The others break a rule the contract states in words rather than in its schema (timestamps are
Unix *seconds*; `completed_at` is set once the job has finished); they have severity `error`.

Everything a check expects is derived from the contract (the Video schema's fields, the ids its
examples show), compiled once per contract, not per response.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockserver.conformance.checks import Failed, Passed, Skipped, Verdict, _video_bodies, _video_schema, check
from mockserver.conformance.lifecycle import LifecycleRun
from mockserver.conformance.report import DEVIATION
from mockserver.contract.loading import Contract, schema_types

# Unix seconds stay below this until the year 5138; today's Unix *milliseconds* are about 1.7e12.
SECONDS_LIMIT = 10**11
ID_SEPARATORS = "_-:"


@dataclass(frozen=True)
class VideoContract:
    """What the contract says a Video looks like, for the checks below."""

    declared: frozenset[str]  # every field the Video schema names
    required: frozenset[str]
    optional: frozenset[str]  # declared and not required (asked of every field of every Video checked)
    timestamps: tuple[str, ...]  # integer fields named *_at
    id_pattern: re.Pattern[str] | None  # None: the contract gives nothing to derive an id shape from
    id_description: str


def _properties(contract: Contract, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema's properties, including those of allOf branches."""
    schema = contract.deep_resolve(schema)
    found = dict(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        found.update(_properties(contract, branch))
    return found


def _example_values(node: Any) -> Iterator[Any]:
    """Every example value under a node of the document (`example:` and `examples: {x: {value:}}`)."""
    if isinstance(node, dict):
        if "example" in node:
            yield node["example"]
        examples = node.get("examples")
        if isinstance(examples, dict):
            yield from (item["value"] for item in examples.values() if isinstance(item, dict) and "value" in item)
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from _example_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _example_values(item)


def _videos_in(value: Any, object_name: str) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("object") == object_name:
            yield value
        for item in value.values():
            yield from _videos_in(item, object_name)
    elif isinstance(value, list):
        for item in value:
            yield from _videos_in(item, object_name)


def example_ids(contract: Contract) -> list[str]:
    """The video ids the contract's own examples use: path parameter `video_id`, and Video bodies."""
    object_enum = contract.deep_resolve(_properties(contract, _video_schema(contract)).get("object", {})).get(
        "enum"
    ) or ["video"]
    ids: set[str] = set()
    for item in contract.document.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for param in item.get("parameters", []) + op.get("parameters", []):
                param = contract.resolve(param)
                if param.get("name") == "video_id":
                    ids.update(v for v in _example_values(param) if isinstance(v, str))
            for value in _example_values(op.get("responses", {})):
                ids.update(v["id"] for v in _videos_in(value, object_enum[0]) if isinstance(v.get("id"), str))
    return sorted(ids)


def id_shape(contract: Contract) -> tuple[re.Pattern[str] | None, str]:
    """The id shape the contract implies: its `pattern` if it declares one, else its examples' shape.

    From examples: their common prefix up to a separator (`video_`), then the narrowest character
    class all the rest fits (hex digits for `video_123`, which official ids such as
    `video_68d7512d07848190b3e45da0ecbebcde` fit too). The length is not in the contract, so it
    is not checked.
    """
    id_schema = contract.deep_resolve(_properties(contract, _video_schema(contract)).get("id", {}))
    if isinstance(id_schema.get("pattern"), str):
        return re.compile(id_schema["pattern"]), f"an id matching the contract's pattern {id_schema['pattern']}"
    examples = example_ids(contract)
    if not examples:
        return None, "the contract shows no example id"
    common = os.path.commonprefix(examples)  # noqa: RUF071  (ids, not paths: by character is meant)
    cut = max(common.rfind(sep) for sep in ID_SEPARATORS)
    prefix = common[: cut + 1]
    rests = [example[len(prefix) :] for example in examples]
    shapes = (("[0-9a-f]", "hex digits"), ("[0-9A-Za-z]", "letters and digits"))
    klass, words = next(
        ((k, w) for k, w in shapes if all(re.fullmatch(f"{k}+", rest) for rest in rests)),
        (r"[^/?#\s]", "any characters but / ? #"),
    )
    shown = ", ".join(examples[:3])
    return re.compile(
        f"{re.escape(prefix)}{klass}+"
    ), f"`{prefix}` followed by {words}, like the contract's examples ({shown})"


# Derived once per contract, not per response; weak, so a contract's id is never mistaken for another's.
_shapes: weakref.WeakKeyDictionary[Contract, VideoContract] = weakref.WeakKeyDictionary()


def video_shape(contract: Contract) -> VideoContract:
    if contract not in _shapes:
        schema = contract.deep_resolve(_video_schema(contract))
        properties = _properties(contract, schema)
        pattern, description = id_shape(contract)
        declared, required = frozenset(properties), frozenset(schema.get("required", ()))
        _shapes[contract] = VideoContract(
            declared=declared,
            required=required,
            optional=declared - required,
            timestamps=tuple(
                name
                for name, sub in properties.items()
                if name.endswith("_at") and "integer" in schema_types(contract.deep_resolve(sub))
            ),
            id_pattern=pattern,
            id_description=description,
        )
    return _shapes[contract]


def _names(fields: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in fields)


def _first_time(seen: set[Any], key: Any) -> bool:
    """A deviation is reported once per distinct thing (an id, a set of fields), not on every poll."""
    if key in seen:
        return False
    seen.add(key)
    return True


# -- deviations: permitted by the schema, not what the official API does --------------------------


@check("every video id has the shape the contract shows (official ids: `video_` and hex digits)", severity=DEVIATION)
def id_format(run: LifecycleRun) -> Iterator[Verdict]:
    shape = video_shape(run.contract)
    if shape.id_pattern is None:
        yield Skipped(shape.id_description)
        return
    seen: set[Any] = set()
    for exchange, video in _video_bodies(run):
        value = video.get("id")
        if not isinstance(value, str):
            continue  # required_fields / video_schema judge a missing or non-string id
        if shape.id_pattern.fullmatch(value):
            yield Passed()
        elif _first_time(seen, value):
            yield Failed(exchange, shape.id_description, f"id {value!r}")


@check("a video carries no field the contract does not declare (the extra ones are named)", severity=DEVIATION)
def undeclared_fields(run: LifecycleRun) -> Iterator[Verdict]:
    shape = video_shape(run.contract)
    seen: set[Any] = set()
    for exchange, video in _video_bodies(run):
        extra = [name for name in video if name not in shape.declared]
        if extra and _first_time(seen, tuple(extra)):
            yield Failed(
                exchange, "only the Video fields the contract declares", f"undeclared field(s) {_names(extra)}"
            )
        elif not extra:
            yield Passed()


@check("a video carries none of the optional extras the contract declares but does not require", severity=DEVIATION)
def optional_extras(run: LifecycleRun) -> Iterator[Verdict]:
    shape = video_shape(run.contract)
    seen: set[Any] = set()
    for exchange, video in _video_bodies(run):
        extras = [name for name in video if name in shape.optional]
        if extras and _first_time(seen, tuple(extras)):
            yield Failed(
                exchange,
                "only the fields the contract requires; its optional ones are extras clients must not rely on",
                f"optional extra(s) {_names(extras)}",
            )
        elif not extras:
            yield Passed()


# -- errors the schema cannot express -------------------------------------------------------------


@check("timestamps (created_at, completed_at, expires_at) are Unix seconds, not milliseconds")
def timestamps_in_seconds(run: LifecycleRun) -> Iterator[Verdict]:
    fields = video_shape(run.contract).timestamps
    for exchange, video in _video_bodies(run):
        large = [
            (name, video[name]) for name in fields if isinstance(video.get(name), int) and video[name] >= SECONDS_LIMIT
        ]
        if large:
            shown = ", ".join(f"{name} {value}" for name, value in large)
            yield Failed(
                exchange,
                f"Unix seconds (below {SECONDS_LIMIT:.0e})",
                f"{shown}: Unix milliseconds, as seconds beyond the year 5000",
            )
        elif any(isinstance(video.get(name), int) for name in fields):
            yield Passed()


@check("completed_at stays null until the job has completed or failed")
def completed_at_when_done(run: LifecycleRun) -> Iterator[Verdict]:
    for exchange, video in _video_bodies(run):
        phase = run.phase_of(video.get("status"))
        if phase is None or phase.terminal:
            continue
        if video.get("completed_at") is None:
            yield Passed()
        else:
            yield Failed(
                exchange,
                "completed_at null while the job is not finished",
                f"status {video.get('status')!r} with completed_at {video['completed_at']!r}",
            )
