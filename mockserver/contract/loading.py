"""Load an OpenAPI contract once and compile what the server needs from it.

Per operation: request validators (query and each request body media type), the defaults to
fill in, and which form fields carry files. For the whole API: the lifecycle vocabulary (the
status names the contract uses for each phase), the Video fields and which are required, the
content variants, and the error `type` each status carries in the contract's examples.
Nothing here runs per request except the validators it built.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import yaml

from mockserver.contract.predicates import Predicate, compile_schema
from mockserver.core.errors import APIError, default_error_type
from mockserver.core.jobs import Phase
from mockserver.resources import openapi_dir

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

NAMED_SPECS = ("reference", "docs")

# Words contracts in the wild use for each phase. The contract's own enum decides which one is
# spoken; this table only recognises them, so a docs-style `processing` maps to RUNNING.
PHASE_SYNONYMS: dict[Phase, tuple[str, ...]] = {
    Phase.QUEUED: ("queued", "pending", "submitted", "initializing", "created", "queueing"),
    Phase.RUNNING: ("in_progress", "processing", "running", "generating"),
    Phase.COMPLETED: ("completed", "succeeded", "success", "succeed", "done"),
    Phase.FAILED: ("failed", "failure", "error"),
}

FILE_PLACEHOLDER = "<file>"

# libyaml's safe loader and dumper when PyYAML has them (same documents, same text): the pure-Python
# ones are many times slower, and loading the contract is most of start-up.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ContractError(Exception):
    """The contract cannot drive the server; the message says what is missing."""


def resolve_spec_path(name_or_path: str | Path) -> Path:
    if str(name_or_path) in NAMED_SPECS:
        return openapi_dir() / f"{name_or_path}.yaml"
    return Path(name_or_path)


@dataclass(frozen=True)
class FieldError:
    param: str | None
    code: str
    message: str


def schema_types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a (resolved) schema admits, through anyOf/oneOf/allOf and an untyped enum."""
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(declared)
    if "enum" in schema and not declared:
        types.update(type(v).__name__.replace("str", "string").replace("int", "integer") for v in schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            types |= schema_types(sub)
    return types


def _has_binary(schema: Mapping[str, Any]) -> bool:
    if schema.get("format") == "binary" or schema.get("contentMediaType") == "application/octet-stream":
        return True
    return any(_has_binary(sub) for key in ("anyOf", "oneOf", "allOf") for sub in schema.get(key, []))


_INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")


def _coerce(value: str, types: set[str]) -> Any:
    """Form fields and query strings arrive as text; give them the type the schema asks for."""
    if "string" in types or not types:
        return value
    # ASCII digits, at most 18 of them: `\d` and int() also take full-width and other digits, and
    # int() of thousands of digits raises. Anything else stays text, which the schema then refuses.
    if "integer" in types and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    if "number" in types:
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


class ObjectValidator:
    """A compiled validator for one object-shaped input (a body or the query string)."""

    def __init__(self, contract: Contract, schema: Mapping[str, Any]) -> None:
        self.schema = contract.resolve(schema)
        props = {name: contract.resolve(sub) for name, sub in self.schema.get("properties", {}).items()}
        self.properties = props
        self.types = {name: schema_types(contract.deep_resolve(sub)) for name, sub in props.items()}
        self.file_fields = frozenset(name for name, sub in props.items() if _has_binary(contract.deep_resolve(sub)))
        self.defaults = {name: sub["default"] for name, sub in props.items() if "default" in sub}
        self._root = contract.validation_root(self.schema)
        # Valid input is judged by the compiled predicate alone; jsonschema explains invalid input
        # (so messages do not change), and is built up front only for schemas the predicate
        # cannot express. Importing it is slow, so the rest wait for a first error.
        self._valid: Predicate | None = compile_schema(self._root)
        self._explainer: Draft202012Validator | None = (
            None if self._valid is not None else _jsonschema_validator(self._root)
        )

    def coerce(self, name: str, value: str) -> Any:
        return _coerce(value, self.types.get(name, set()))

    def with_defaults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **values}

    def errors(self, instance: Any) -> list[FieldError]:
        if self._valid is not None and self._valid(instance):
            return []
        if self._explainer is None:
            self._explainer = _jsonschema_validator(self._root)
        return [_field_error(e) for e in sorted(self._explainer.iter_errors(instance), key=_error_rank)]

    def check(self, instance: Any) -> None:
        for error in self.errors(instance):
            raise APIError(400, error.message, code=error.code, param=error.param)


def _jsonschema_validator(root: Mapping[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(root)


def _error_rank(error: ValidationError) -> tuple[int, str]:
    # Report a missing field before a bad value, and the shallowest problem first.
    return (0 if error.validator == "required" else 1, "/".join(map(str, error.absolute_path)))


def _param(path: Iterable[Any]) -> str | None:
    parts = [str(p) for p in path]
    if not parts:
        return None
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


def _field_error(error: ValidationError) -> FieldError:
    param = _param(error.absolute_path)
    kind = error.validator
    expected: Any = error.validator_value  # what the failed keyword asked for (its list, type or bound)
    instance: Any = error.instance
    if kind == "required":
        missing = next((r for r in expected if r not in instance), "?")
        name = f"{param}[{missing}]" if param else missing
        return FieldError(name, "missing_required_parameter", f"Missing required parameter: '{name}'.")
    label = param or "body"
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in expected)
        return FieldError(
            param, "invalid_value", f"Invalid value for '{label}': {instance!r}. Supported values are: {allowed}."
        )
    if kind == "type":
        return FieldError(
            param,
            "invalid_type",
            f"Invalid type for '{label}': expected {expected}, got {type(instance).__name__}.",
        )
    if kind == "maxLength":
        return FieldError(
            param,
            "string_above_max_length",
            f"'{label}' is too long: {len(instance)} characters, the maximum is {expected}.",
        )
    if kind == "minLength":
        return FieldError(
            param, "string_below_min_length", f"'{label}' is too short: the minimum length is {expected}."
        )
    if kind in ("minimum", "exclusiveMinimum"):
        return FieldError(
            param,
            "integer_below_min_value",
            f"Invalid '{label}': {instance} is below the minimum {expected}.",
        )
    if kind in ("maximum", "exclusiveMaximum"):
        return FieldError(
            param,
            "integer_above_max_value",
            f"Invalid '{label}': {instance} is above the maximum {expected}.",
        )
    if kind in ("oneOf", "anyOf"):
        return FieldError(
            param,
            "invalid_value",
            f"Invalid value for '{label}': it matches none of the accepted forms ({error.message}).",
        )
    return FieldError(param, "invalid_value", f"Invalid value for '{label}': {error.message}.")


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str  # the template as the contract writes it, without the server's base path
    query: ObjectValidator | None
    bodies: dict[str, ObjectValidator]  # media type -> validator
    body_required: bool
    response_media_types: tuple[str, ...]


@dataclass
class Vocabulary:
    status_names: dict[Phase, str]
    video_fields: tuple[str, ...]
    required_video_fields: frozenset[str]
    variants: tuple[str, ...]  # empty when the contract leaves `variant` open
    default_variant: str
    error_types: dict[int, str] = field(default_factory=dict)

    def status(self, phase: Phase) -> str:
        return self.status_names[phase]


class Contract:
    def __init__(self, document: dict[str, Any], source: Path | None = None) -> None:
        self.document = document
        self.source = source
        self._root_for_refs = {"components": document.get("components", {})}
        self.base_path = self._base_path()
        self.operations = self._operations()
        self.vocabulary = self._vocabulary()

    # Written when first asked for (GET /openapi.yaml, /openapi.json): most runs never fetch them, and
    # dumping both would add to every start-up.
    @functools.cached_property
    def yaml_text(self) -> str:
        return yaml.dump(self.document, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=100)

    @functools.cached_property
    def json_text(self) -> str:
        return json.dumps(self.document, ensure_ascii=False, indent=2)

    @classmethod
    def load(cls, name_or_path: str | Path) -> Contract:
        path = resolve_spec_path(name_or_path)
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
        except FileNotFoundError:
            raise ContractError(f"spec file not found: {path} (generate it with `mockserver spec generate`)") from None
        except yaml.YAMLError as exc:
            raise ContractError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(document, dict) or "paths" not in document:
            raise ContractError(f"{path} is not an OpenAPI document (no `paths`)")
        return cls(document, path)

    # -- schema plumbing -------------------------------------------------------------------

    def resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ContractError(f"only local $refs are supported, got {ref}")
            node: Any = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            # OAS 3.1 allows keys beside a $ref (`{$ref: VideoSeconds, default: "4"}`); they win.
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
            if seen > 32:
                raise ContractError(f"$ref cycle at {ref}")
        return dict(schema)

    def deep_resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve refs in the schema and in its anyOf/oneOf/allOf branches (for type questions)."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                schema[key] = [self.deep_resolve(sub) for sub in schema[key]]
        return schema

    def validation_root(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        # The components travel with the schema so that its "#/components/..." refs resolve.
        return {**self._root_for_refs, **schema}

    def validator_for(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        return _jsonschema_validator(self.validation_root(schema))

    # -- compilation -----------------------------------------------------------------------

    def _base_path(self) -> str:
        servers = self.document.get("servers") or [{"url": "/v1"}]
        path = urlparse(servers[0].get("url", "/v1")).path.rstrip("/")
        return path

    def _operations(self) -> dict[tuple[str, str], Operation]:
        operations: dict[tuple[str, str], Operation] = {}
        for path, item in self.document["paths"].items():
            shared_params = item.get("parameters", [])
            for method, op in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                params = [self.resolve(p) for p in shared_params + op.get("parameters", [])]
                operations[(method.upper(), path)] = Operation(
                    operation_id=op.get("operationId", f"{method} {path}"),
                    method=method.upper(),
                    path=path,
                    query=self._query_validator(params),
                    bodies=self._body_validators(op.get("requestBody")),
                    body_required=bool(self.resolve(op.get("requestBody", {})).get("required", False)),
                    response_media_types=self._success_media_types(op),
                )
        return operations

    def _query_validator(self, params: list[dict[str, Any]]) -> ObjectValidator | None:
        query = [p for p in params if p.get("in") == "query"]
        if not query:
            return None
        schema = {
            "type": "object",
            "properties": {p["name"]: p.get("schema", {}) for p in query},
            "required": [p["name"] for p in query if p.get("required")],
        }
        return ObjectValidator(self, schema)

    def _body_validators(self, request_body: dict[str, Any] | None) -> dict[str, ObjectValidator]:
        if not request_body:
            return {}
        content = self.resolve(request_body).get("content", {})
        return {media: ObjectValidator(self, spec.get("schema", {})) for media, spec in content.items()}

    def _success_media_types(self, op: dict[str, Any]) -> tuple[str, ...]:
        for status, response in op.get("responses", {}).items():
            if str(status).startswith("2"):
                return tuple(self.resolve(response).get("content", {}).keys())
        return ()

    def find(self, method: str, path: str) -> Operation | None:
        return self.operations.get((method, path))

    def _video_schema(self) -> dict[str, Any]:
        op = self.document["paths"].get("/videos/{video_id}", {}).get("get")
        if op is None:
            raise ContractError("the contract has no GET /videos/{video_id}: it cannot describe a video job")
        response = self.resolve(op["responses"].get("200") or op["responses"].get(200))
        schema = response["content"]["application/json"]["schema"]
        return self.resolve(schema)

    def _vocabulary(self) -> Vocabulary:
        video = self._video_schema()
        properties = video.get("properties", {})
        status_schema = self.deep_resolve(properties.get("status", {}))
        enum = status_schema.get("enum") or next(
            (sub["enum"] for sub in status_schema.get("anyOf", []) + status_schema.get("oneOf", []) if "enum" in sub),
            None,
        )
        if not enum:
            raise ContractError("the Video schema's `status` has no enum: the contract must name its statuses")
        names: dict[Phase, str] = {}
        for phase, synonyms in PHASE_SYNONYMS.items():
            match = next((value for value in enum if value in synonyms), None)
            if match is None:
                raise ContractError(f"no status in {enum} means {phase.value}; known words: {synonyms}")
            names[phase] = match
        return Vocabulary(
            status_names=names,
            video_fields=tuple(properties),
            required_video_fields=frozenset(video.get("required", ())),
            variants=self._variants(),
            default_variant=self._default_variant(),
            error_types=self._error_types(),
        )

    def _variant_schema(self) -> dict[str, Any]:
        op = self.find("GET", "/videos/{video_id}/content")
        if op is None or op.query is None:
            return {}
        return self.deep_resolve(op.query.properties.get("variant", {}))

    def _variants(self) -> tuple[str, ...]:
        return tuple(self._variant_schema().get("enum", ()))

    def _default_variant(self) -> str:
        return str(self._variant_schema().get("default", "video"))

    def _error_types(self) -> dict[int, str]:
        """The `type` the contract's own error examples give each status, e.g. 401 -> authentication_error."""
        found: dict[int, str] = {}
        for item in self.document["paths"].values():
            for op in item.values():
                if not isinstance(op, dict):
                    continue
                for status, response in op.get("responses", {}).items():
                    if not str(status).isdigit() or int(status) < 400 or int(status) in found:
                        continue
                    for example in _examples(self.resolve(response)):
                        error_type = (example.get("error") or {}).get("type") if isinstance(example, dict) else None
                        if isinstance(error_type, str):
                            found[int(status)] = error_type
                            break
        return found

    def error_type(self, status: int) -> str:
        return self.vocabulary.error_types.get(status) or default_error_type(status)


def _examples(response: Mapping[str, Any]) -> Iterable[Any]:
    for media in response.get("content", {}).values():
        if "example" in media:
            yield media["example"]
        for example in (media.get("examples") or {}).values():
            if isinstance(example, dict) and "value" in example:
                yield example["value"]
