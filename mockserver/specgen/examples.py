"""Check that every example in an OpenAPI document is accepted by the schema next to it.

An example that its own schema rejects means either the page contradicts itself or our reading
of it is wrong; both must stop generation rather than ship a spec that fails its own examples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from mockserver.specgen.errors import ExampleError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Example:
    where: str  # e.g. "GET /videos/{video_id} response 200 application/json example `completed`"
    schema: Mapping[str, Any]
    value: Any
    source_line: int | None  # the page line the example came from, when it came from the page


def schema_validator(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Draft202012Validator:
    """A Draft 2020-12 validator for `schema` whose `#/components/...` refs resolve in `document`."""
    # Carrying the components next to the schema makes the document's local refs resolvable
    # without a registry; `components` is not a JSON Schema keyword, so it changes nothing else.
    return Draft202012Validator({"components": document.get("components", {}), **schema})


def iter_examples(document: Mapping[str, Any]) -> Iterator[Example]:
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            endpoint = f"{method.upper()} {path}"
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                parameter = _resolve(document, parameter)
                yield from _examples_of(parameter, f"{endpoint} {parameter['in']} parameter `{parameter['name']}`")
            body = _resolve(document, operation.get("requestBody", {}))
            for media_type, media in body.get("content", {}).items():
                yield from _examples_of(media, f"{endpoint} request body {media_type}")
            for status, response in operation.get("responses", {}).items():
                response = _resolve(document, response)
                for media_type, media in response.get("content", {}).items():
                    yield from _examples_of(media, f"{endpoint} response {status} {media_type}")


def check_examples(document: Mapping[str, Any], document_name: str, page_name: str | None = None) -> None:
    problems: list[str] = []
    for example in iter_examples(document):
        validator = schema_validator(document, example.schema)
        for error in sorted(validator.iter_errors(example.value), key=lambda e: list(e.absolute_path)):
            at = "/" + "/".join(str(p) for p in error.absolute_path)
            where = (
                f"{page_name}:{example.source_line}: " if page_name and example.source_line else f"{document_name}: "
            )
            problems.append(f"{where}{example.where} does not match its schema at {at}: {error.message}")
    if problems:
        raise ExampleError("\n".join(problems))


def _examples_of(holder: Mapping[str, Any], where: str) -> Iterator[Example]:
    schema = holder.get("schema")
    if schema is None:
        return
    if "example" in holder:
        yield Example(f"{where} example", schema, holder["example"], None)
    for name, example in holder.get("examples", {}).items():
        if "value" in example:
            yield Example(f"{where} example `{name}`", schema, example["value"], example.get("x-source-line"))


def _resolve(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node
