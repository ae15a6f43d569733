"""The compiled validity predicates say yes and no exactly where jsonschema does.

The server accepts a request when the predicate says it is valid and never asks jsonschema then,
so a predicate that said yes where jsonschema says no would let bad input through. jsonschema
is the oracle here, over the contracts' own request schemas and over schemas built to hit each
keyword's corner cases (NaN, 1.0 as an integer, True is not 1, overlapping oneOf branches).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from jsonschema import Draft202012Validator

from mockserver.contract.loading import Contract, ObjectValidator
from mockserver.contract.predicates import JSONSCHEMA_KEYWORDS, compile_schema

OFFICIAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "openai-videos.official.yaml"

# Values of every JSON type and the boundaries the contracts draw (lengths, enums, ranges).
VALUES: list[Any] = [
    "", "x", "sora-2", "sora-2-pro", "4", "8", "12", "720x1280", "1280x720", "640x480", "<file>", "asc", "desc",
    "video", "thumbnail", "spritesheet", "x" * 32000, "x" * 32001, "x" * 80, "x" * 81,
    0, 1, -1, 4, 8, 20, 100, 101, 1.0, 1.5, 100.0, float("nan"), float("inf"), True, False, None,
    [], ["x"], [1, "x"], {}, {"image_url": "https://example.com/a.png"}, {"file_id": "file_1"},
    {"image_url": "u", "file_id": "f"}, {"image_url": 3}, {"id": "video_1"}, {"id": 1}, {"other": 1},
]


def contract_validators() -> Iterator[tuple[str, ObjectValidator]]:
    for name in ("reference", "docs"):
        contract = Contract.load(name)
        for (method, path), op in contract.operations.items():
            for media, validator in op.bodies.items():
                yield f"{name} {method} {path} {media}", validator
            if op.query is not None:
                yield f"{name} {method} {path} query", op.query


def instances(validator: ObjectValidator) -> Iterator[dict[str, Any]]:
    """Each property alone and beside the required ones with each value, pairs of values, extras."""
    names = list(validator.properties)
    required = {name: _valid_value(validator, name) for name in validator.schema.get("required", ())}
    yield {}
    yield dict(required)
    yield {**required, "unknown_field": 1}
    for name in names:
        enum = validator.properties[name].get("enum", [])
        for value in [*VALUES, *enum]:
            yield {name: value}
            yield {**required, name: value}
    for first, second in itertools.combinations(names, 2):
        for a, b in itertools.product(VALUES[::5], VALUES[2::7]):
            yield {**required, first: a, second: b}


def _valid_value(validator: ObjectValidator, name: str) -> Any:
    """A value the property accepts, so that the other properties are tried in otherwise valid bodies."""
    schema = validator.properties[name]
    check = Draft202012Validator({"components": validator._root.get("components", {}), **schema})
    return next((value for value in [*schema.get("enum", []), *VALUES] if check.is_valid(value)), "x")


def verdicts(schema: Any, root: dict[str, Any] | None, corpus: list[Any]) -> tuple[list[bool], list[bool]]:
    predicate = compile_schema(schema, root)
    assert predicate is not None, f"expected {schema!r} to compile"
    oracle = Draft202012Validator({**(root or {}), **schema} if isinstance(schema, dict) else schema)
    return [predicate(x) for x in corpus], [oracle.is_valid(x) for x in corpus]


@pytest.mark.parametrize(("where", "validator"), list(contract_validators()), ids=lambda v: v if isinstance(v, str) else "")
def test_contract_request_schemas_agree_with_jsonschema(where: str, validator: ObjectValidator) -> None:
    assert validator._valid is not None, f"{where}: the contract's schema should compile to a predicate"
    oracle = Draft202012Validator(validator._root)
    corpus = list(instances(validator))
    disagreements = [x for x in corpus if validator._valid(x) != oracle.is_valid(x)]
    assert not disagreements, f"{where}: predicate and jsonschema disagree on {disagreements[:3]!r}"
    assert any(oracle.is_valid(x) for x in corpus) and not all(oracle.is_valid(x) for x in corpus)


def test_the_official_request_schemas_agree_with_jsonschema() -> None:
    if not OFFICIAL.exists():
        pytest.skip(f"the official OpenAI spec is not available at {OFFICIAL} (reference data outside this repository)")
    document = yaml.safe_load(OFFICIAL.read_text(encoding="utf-8"))
    root = {"components": document.get("components", {})}
    compiled = 0
    for item in document["paths"].values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                schema = media.get("schema")
                if not isinstance(schema, dict) or compile_schema({**root, **schema}) is None:
                    continue
                compiled += 1
                props = schema.get("properties") or {}
                corpus = [{}, *({name: value} for name in props for value in VALUES)]
                mine, theirs = verdicts(schema, root, corpus)
                assert mine == theirs, [x for x, a, b in zip(corpus, mine, theirs) if a != b][:3]
    assert compiled


CORNER_CASES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None, float("nan"), float("inf"), 10**30]),
    ({"type": "number", "minimum": 0, "maximum": 10}, [0, 10, -0.0, 10.5, -1, float("nan"), True, "5", None]),
    ({"exclusiveMinimum": 0, "exclusiveMaximum": 10}, [0, 10, 5, 0.1, float("nan"), "x", False]),
    ({"type": ["string", "null"], "minLength": 2, "maxLength": 3}, ["", "ab", "abcd", "éé", None, 1, ["ab"]]),
    ({"minLength": 1}, ["", "a", 0, [], {}]),
    ({"enum": [1, "1", True, None, [1], {"a": 1}]}, [1, 1.0, "1", True, False, 0, None, [1], [True], (1,), {"a": 1}, {"a": True}, {}]),
    ({"enum": ["a", "b"]}, ["a", "c", 1, None, ["a"]]),
    ({"enum": []}, ["a", None]),
    ({"const": False}, [False, 0, None, [], True]),
    ({"const": 2}, [2, 2.0, True, "2"]),
    ({"pattern": "^[a-z]+x$"}, ["abx", "ab", "ABX", "zabx", 3, None]),
    (
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False},
        [{"a": "x"}, {"a": 1}, {}, {"a": "x", "b": 1}, [], "a", None],
    ),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}, [{"a": "x", "b": 1}, {"b": "y"}, {"a": 2}, 5]),
    ({"minProperties": 1, "maxProperties": 1}, [{}, {"a": 1}, {"a": 1, "b": 2}, [1], "xy"]),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}, [[], [1], [1, 2], [1, 2, 3], [1, "x"], [1.0], "ab"]),
    ({"items": False}, [[], [1], "x"]),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1, 1.5, 1.0, "x", True]),
    ({"oneOf": [{"type": "string"}, {"minLength": 3}]}, ["ab", "abc", 5]),
    ({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "null"}]}, ["a", "ab", None, 0]),
    ({"allOf": [{"type": "string"}, {"minLength": 2}]}, ["a", "ab", 1]),
    ({"not": {"type": "string"}}, ["a", 1, None]),
    ({"$ref": "#/$defs/size", "default": "720x1280", "description": "siblings of a $ref still apply"}, ["720x1280", "1x1", 5]),
    ({"$ref": "#/$defs/size", "maxLength": 3}, ["720x1280", "1x1"]),
    ({"$ref": "#/$defs/a~1b"}, [1, "x"]),
    ({"format": "uri", "type": "string"}, ["not a uri", "https://example.com", 1]),
    ({"properties": {"x": True, "y": False}}, [{"x": 1}, {"y": 1}, {}]),
]
DEFS = {"$defs": {"size": {"type": "string", "enum": ["720x1280", "1280x720"]}, "a/b": {"type": "integer"}}}


@pytest.mark.parametrize(("schema", "corpus"), CORNER_CASES, ids=lambda v: repr(v)[:60] if isinstance(v, dict) else "")
def test_keyword_corner_cases_agree_with_jsonschema(schema: dict[str, Any], corpus: list[Any]) -> None:
    mine, theirs = verdicts(schema, {**DEFS, **schema}, corpus)
    assert mine == theirs, [x for x, a, b in zip(corpus, mine, theirs) if a != b]


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},  # recursive
        {"properties": {"child": {"$ref": "#"}}},
        {"$ref": "https://example.com/schema.json"},
        {"$ref": "#/$defs/missing"},
        {"patternProperties": {"^x": {"type": "string"}}},
        {"$id": "https://example.com/s", "type": "string"},
        {"multipleOf": 3},
        {"type": "text"},
        {"anyOf": []},
        {"uniqueItems": True},
    ],
)
def test_schemas_it_cannot_reproduce_exactly_are_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_schema(schema) is None


def test_the_predicate_is_told_every_keyword_jsonschema_knows() -> None:
    # A keyword a newer jsonschema learns would otherwise be ignored here as an annotation.
    assert JSONSCHEMA_KEYWORDS == set(Draft202012Validator.VALIDATORS)

