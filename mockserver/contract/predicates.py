"""JSON Schema (draft 2020-12) compiled into a plain Python predicate: is this instance valid?

Every create is checked against the contract. jsonschema answers that correctly but slowly for
a hot path (most of its time goes to $ref lookups and per-keyword dispatch), and importing it
slows the server's start-up. The predicate built here gives
the same yes/no as `jsonschema.Draft202012Validator(schema)` (no format checker) for the keywords
it knows, which are the ones contracts use; a schema with any other assertion keyword, a remote
or recursive `$ref`, or an `$id` compiles to None and the caller keeps using jsonschema for it.

Valid input never touches jsonschema. Invalid input is explained by jsonschema, so every error
message is jsonschema's: the predicate only decides *whether* there is an error.
tests/test_schema_predicates.py holds the predicate to jsonschema's answer on a corpus of inputs.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, Sequence, Sized
from typing import Any
from urllib.parse import unquote

Predicate = Callable[[Any], bool]

# The keywords jsonschema's Draft202012Validator acts on (its VALIDATORS); any other key in a
# schema is an annotation it ignores (description, default, example, x-..., OpenAPI's nullable).
JSONSCHEMA_KEYWORDS = frozenset(
    {
        "$dynamicRef",
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
        "unevaluatedItems",
        "unevaluatedProperties",
        "uniqueItems",
    }
)
# What this module compiles. `format` asserts nothing without a format checker, as here.
SUPPORTED = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "not",
        "oneOf",
        "pattern",
        "properties",
        "required",
        "type",
    }
)
# Keys that change how references resolve; a schema using them is left to jsonschema.
_SCOPE_KEYS = frozenset(
    {"$id", "$anchor", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$schema", "$vocabulary"}
)


class Unsupported(Exception):
    """The schema uses something this compiler does not reproduce exactly."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # Draft 6 and later: 1.0 is an integer; True is not.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPE_TESTS: dict[str, Predicate] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it for enum/const: True is not 1, [1] equals (1,), 1 equals 1.0."""
    if a is b:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, Sequence) and isinstance(b, Sequence):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.resolving: list[str] = []  # the $ref chain being compiled, to refuse recursion

    def compile(self, schema: Any) -> Predicate:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema must be an object or a boolean, got {type(schema).__name__}")
        keywords = set(schema) & JSONSCHEMA_KEYWORDS
        if keywords - SUPPORTED:
            raise Unsupported(f"keywords {sorted(keywords - SUPPORTED)}")
        if set(schema) & _SCOPE_KEYS:
            raise Unsupported(f"keys {sorted(set(schema) & _SCOPE_KEYS)}")
        checks: list[Predicate] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        if "type" in schema:
            checks.append(self._type(schema["type"]))
        if "enum" in schema:
            checks.append(self._enum(schema["enum"]))
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda value: json_equal(const, value))
        checks += self._object_checks(schema)
        checks += self._string_checks(schema)
        checks += self._number_checks(schema)
        checks += self._array_checks(schema)
        checks += self._combinators(schema)
        return _all_of(checks)

    # -- references -------------------------------------------------------------------------

    def _ref(self, ref: Any) -> Predicate:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise Unsupported(f"non-local $ref {ref!r}")
        if ref in self.resolving:
            raise Unsupported(f"recursive $ref {ref!r}")
        node: Any = self.root
        for segment in unquote(ref[1:]).split("/")[1:]:
            segment = segment.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(segment)] if isinstance(node, list) else node[segment]
            except (KeyError, IndexError, ValueError, TypeError):
                raise Unsupported(f"unresolvable $ref {ref!r}") from None
        self.resolving.append(ref)
        try:
            return self.compile(node)
        finally:
            self.resolving.pop()

    # -- keywords ---------------------------------------------------------------------------

    @staticmethod
    def _type(declared: Any) -> Predicate:
        names = [declared] if isinstance(declared, str) else declared
        if not isinstance(names, list) or not names or any(name not in _TYPE_TESTS for name in names):
            raise Unsupported(f"type {declared!r}")
        tests = [_TYPE_TESTS[name] for name in names]
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)

    @staticmethod
    def _enum(values: Any) -> Predicate:
        if not isinstance(values, list):
            raise Unsupported("enum must be a list")
        if values and all(isinstance(v, str) for v in values):
            allowed = frozenset(values)  # the common case: a set lookup is exact for strings
            return lambda value: isinstance(value, str) and value in allowed
        choices = tuple(values)
        return lambda value: any(json_equal(choice, value) for choice in choices)

    def _object_checks(self, schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise Unsupported("properties must be an object")
        compiled = tuple((name, self.compile(sub)) for name, sub in properties.items())
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise Unsupported("required must be a list of names")
        required = tuple(required)
        additional = schema.get("additionalProperties", True)
        if additional is True or additional == {}:
            extra: Predicate | None = None
        else:
            extra = self.compile(additional)
        known = frozenset(properties)
        if compiled or required or extra is not None:

            def object_ok(value: Any) -> bool:
                if not isinstance(value, dict):
                    return True
                for name in required:
                    if name not in value:
                        return False
                for name, check in compiled:
                    if name in value and not check(value[name]):
                        return False
                if extra is not None:
                    for name, item in value.items():
                        if name not in known and not extra(item):
                            return False
                return True

            checks.append(object_ok)
        low, high = _bound(schema, "minProperties"), _bound(schema, "maxProperties")
        if low is not None or high is not None:
            checks.append(_size_check(dict, low, high))
        return checks

    @staticmethod
    def _string_checks(schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        low, high = _bound(schema, "minLength"), _bound(schema, "maxLength")
        if low is not None or high is not None:
            checks.append(_size_check(str, low, high))
        if "pattern" in schema:
            try:
                search = re.compile(schema["pattern"]).search
            except (re.error, TypeError):
                raise Unsupported(f"pattern {schema['pattern']!r}") from None
            checks.append(lambda value: not isinstance(value, str) or search(value) is not None)
        return checks

    @staticmethod
    def _number_checks(schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        # Written as "not <the failing comparison>", as jsonschema tests it, so that NaN (which
        # json.loads and float() accept) passes or fails exactly as it does there.
        for keyword, passes in (
            ("minimum", lambda v, limit: not v < limit),
            ("maximum", lambda v, limit: not v > limit),
            ("exclusiveMinimum", lambda v, limit: not v <= limit),
            ("exclusiveMaximum", lambda v, limit: not v >= limit),
        ):
            if keyword in schema:
                limit = schema[keyword]
                if not _is_number(limit):
                    raise Unsupported(f"{keyword} {limit!r}")
                checks.append(_number_bound(limit, passes))
        return checks

    def _array_checks(self, schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        if "items" in schema:
            item = self.compile(schema["items"])
            checks.append(lambda value: not isinstance(value, list) or all(item(each) for each in value))
        low, high = _bound(schema, "minItems"), _bound(schema, "maxItems")
        if low is not None or high is not None:
            checks.append(_size_check(list, low, high))
        return checks

    def _combinators(self, schema: dict[str, Any]) -> list[Predicate]:
        checks: list[Predicate] = []
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword not in schema:
                continue
            branches = schema[keyword]
            if not isinstance(branches, list) or not branches:
                raise Unsupported(f"{keyword} must be a non-empty list")
            tests = tuple(self.compile(branch) for branch in branches)
            if keyword == "allOf":
                checks.append(_all_of(list(tests)))
            elif keyword == "anyOf":
                checks.append(_any_of(tests))
            else:
                checks.append(_one_of(tests))
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda value: not negated(value))
        return checks


def _bound(schema: dict[str, Any], keyword: str) -> int | None:
    if keyword not in schema:
        return None
    value = schema[keyword]
    if not _is_integer(value):
        raise Unsupported(f"{keyword} {value!r}")
    return int(value)


def _size_check(kind: type[Sized], low: int | None, high: int | None) -> Predicate:
    lowest = low if low is not None else 0
    highest = high if high is not None else float("inf")

    def check(value: Any) -> bool:
        return not isinstance(value, kind) or lowest <= len(value) <= highest

    return check


def _number_bound(limit: Any, passes: Callable[[Any, Any], bool]) -> Predicate:
    return lambda value: not _is_number(value) or passes(value, limit)


def _any_of(tests: tuple[Predicate, ...]) -> Predicate:
    return lambda value: any(test(value) for test in tests)


def _one_of(tests: tuple[Predicate, ...]) -> Predicate:
    return lambda value: sum(1 for test in tests if test(value)) == 1


def _all_of(checks: list[Predicate]) -> Predicate:
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)
    frozen = tuple(checks)
    return lambda value: all(check(value) for check in frozen)


def compile_schema(schema: Any, root: Mapping[str, Any] | None = None) -> Predicate | None:
    """A predicate with jsonschema's yes/no for `schema`, or None when it needs jsonschema itself.

    `root` is the document "#/..." references resolve against (by default the schema itself).
    """
    try:
        return _Compiler(root if root is not None else schema).compile(schema)
    except Unsupported:
        return None
