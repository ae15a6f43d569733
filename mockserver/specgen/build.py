"""Turn a parsed documentation page into an OpenAPI 3.1 document.

Everything in the result is read from the page: endpoints, parameters, field tables, defaults
and enums written in descriptions, examples, error envelopes, the auth scheme. The few naming
rules (operationIds, component names) are fixed here so both generated files share them.

Reading rules for descriptions (the page has no schema syntax, only prose):
- `默认为 X` / `默认为 X 秒` at the end of a description is a default (typed as the column says);
- `(a: 说明, b: 说明, ...)` is an enum of a, b, ...;
- `固定为 "x"` is a constant (an enum of one);
- `(0-100)` on a number is a range;
- a field an example shows as `null` is nullable.
"""

from __future__ import annotations

import hashlib
import http
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mockserver.specgen.errors import PageError
from mockserver.specgen.parse import CurlExample, DocsPage, Response, Row, Section, Table

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "ApiKeyAuth"  # the official document's name, so both specs line up
ERROR_SCHEMA = "ErrorResponse"

# The official operationIds are not regular (`createVideo` vs `GetVideo`, `CreateVideoExtend`
# for /extensions), and tools key test selections on them, so known endpoints use them verbatim.
OFFICIAL_OPERATION_IDS = {
    ("POST", "/videos"): "createVideo",
    ("GET", "/videos"): "ListVideos",
    ("GET", "/videos/{video_id}"): "GetVideo",
    ("DELETE", "/videos/{video_id}"): "DeleteVideo",
    ("GET", "/videos/{video_id}/content"): "RetrieveVideoContent",
    ("POST", "/videos/{video_id}/remix"): "CreateVideoRemix",
    ("POST", "/videos/edits"): "CreateVideoEdit",
    ("POST", "/videos/extensions"): "CreateVideoExtend",
    ("POST", "/videos/characters"): "CreateVideoCharacter",
    ("GET", "/videos/characters/{character_id}"): "GetVideoCharacter",
}
VERBS = {"GET": "Get", "POST": "Create", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}

VERSION_SEGMENT_RE = re.compile(r"^v\d+$")
MEDIA_TYPE_RE = re.compile(r"\b([a-z]+/[a-z0-9.+-]+)\b")
DEFAULT_RE = re.compile(r"默认为\s*([A-Za-z0-9_.\-]+)\s*(?:秒|s)?\s*[。.]?$")
CONST_RE = re.compile(r"固定为\s*[\"“]([^\"”]+)[\"”]")
PAREN_RE = re.compile(r"[(（]([^()（）]*)[)）]")
ENUM_ITEM_RE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*[:：]\s*(.*?)\s*$")
RANGE_RE = re.compile(r"^\s*(-?\d+)\s*[-~–]\s*(-?\d+)\s*$")
BEARER_RE = re.compile(r"\bbearer\b", re.IGNORECASE)


@dataclass
class _Endpoint:
    """One (method, path) with every page section that describes it."""

    method: str
    path: str  # with the server prefix already removed
    sections: list[Section] = field(default_factory=list)

    @property
    def operation_id(self) -> str:
        return operation_id(self.method, self.path)


def operation_id(method: str, path: str) -> str:
    if (method, path) in OFFICIAL_OPERATION_IDS:
        return OFFICIAL_OPERATION_IDS[(method, path)]
    words = [_singular(part) for part in path.strip("/").split("/") if not part.startswith("{")]
    return VERBS.get(method, method.title()) + "".join(_pascal(word) for word in words)


def build_document(page: DocsPage, source_name: str, source_text: str) -> dict[str, Any]:
    prefix = _server_prefix(page)
    endpoints = _group_endpoints(page, prefix)
    builder = _Builder(page, endpoints)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": page.title,
            "version": "0.0.0",
            "description": _info_description(page, source_name),
        },
        "x-source": {"page": source_name, "sha256": hashlib.sha256(source_text.encode("utf-8")).hexdigest()},
        "servers": [_server(page, prefix)],
    }
    paths = builder.paths()
    if builder.uses_security and builder.all_secured:
        document["security"] = [{SECURITY_SCHEME: []}]
    document["paths"] = paths
    document["components"] = builder.components()
    return document


# -- page-level decisions -------------------------------------------------------------------


def _server_prefix(page: DocsPage) -> str:
    """The leading version segment (`/v1`) every path shares; it moves into `servers`."""
    first_segments = {operation.path.strip("/").split("/")[0] for operation in page.operations}
    if len(first_segments) == 1:
        (segment,) = first_segments
        if VERSION_SEGMENT_RE.match(segment):
            return "/" + segment
    return ""


def _server(page: DocsPage, prefix: str) -> dict[str, str]:
    hosts = sorted(
        {_origin(example.url) for operation in page.operations for example in operation.request_examples} - {""}
    )
    shown = f" The page's examples call {', '.join(host + prefix for host in hosts)}." if hosts else ""
    return {
        "url": prefix or "/",
        "description": "Relative: use the same base URL you give the SDK (e.g. http://127.0.0.1:8000/v1)." + shown,
    }


def _origin(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.netloc else ""


def _info_description(page: DocsPage, source_name: str) -> str:
    intro = "\n".join(page.intro)
    return (
        f"{intro}\n\nGenerated from the provider's documentation page `{source_name}` by `mockserver spec generate`. "
        "It says what the page says, including where the page differs from the official API; "
        "see reference.yaml for the official contract and `mockserver spec diff` for the differences."
    ).strip()


def _group_endpoints(page: DocsPage, prefix: str) -> list[_Endpoint]:
    endpoints: dict[tuple[str, str], _Endpoint] = {}
    for operation in page.operations:
        path = operation.path.removeprefix(prefix) or "/"
        endpoint = endpoints.setdefault((operation.method, path), _Endpoint(operation.method, path))
        endpoint.sections.append(operation)
    return list(endpoints.values())


# -- the builder ----------------------------------------------------------------------------


class _Builder:
    def __init__(self, page: DocsPage, endpoints: list[_Endpoint]) -> None:
        self.page = page
        self.endpoints = endpoints
        self.schemas: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        self.security_description: str | None = None
        self.uses_security = False
        self.all_secured = True
        self.resources = _collect_resources(page)

    # paths

    def paths(self) -> dict[str, Any]:
        self._build_resources()
        error_refs = self._build_error_responses()
        paths: dict[str, Any] = {}
        for endpoint in self.endpoints:
            paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = self._operation(endpoint, error_refs)
        return paths

    def _operation(self, endpoint: _Endpoint, error_refs: dict[str, Any]) -> dict[str, Any]:
        first = endpoint.sections[0]
        result: dict[str, Any] = {
            "operationId": endpoint.operation_id,
            "summary": first.title,
            "description": _operation_description(endpoint),
        }
        if len(endpoint.sections) > 1:
            result["x-merged-from"] = [{"section": s.title, "line": s.line} for s in endpoint.sections]
        else:
            result["x-source-line"] = first.line
        parameters = self._parameters(endpoint)
        if parameters:
            result["parameters"] = parameters
        body = self._request_body(endpoint)
        if body:
            result["requestBody"] = body
        result["responses"] = {**self._success_responses(endpoint), **error_refs}
        if self._secured(endpoint):
            result["security"] = [{SECURITY_SCHEME: []}]
        else:
            self.all_secured = False
        return result

    def _secured(self, endpoint: _Endpoint) -> bool:
        """Bearer auth if the Authorization header row or a curl example says `Bearer`."""
        for section in endpoint.sections:
            headers = section.parameters.get("header")
            row_values = [r.description for r in (headers.rows if headers else ()) if r.name.lower() == "authorization"]
            curl_values = [e.headers.get("Authorization", "") for e in section.request_examples]
            if any(BEARER_RE.search(value) for value in [*row_values, *curl_values]):
                self.uses_security = True
                self.security_description = self.security_description or next(iter(row_values), None)
                return True
        return False

    # parameters

    def _parameters(self, endpoint: _Endpoint) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for section in endpoint.sections:
            for kind in ("path", "query", "header"):
                table = section.parameters.get(kind)
                for row in table.rows if table else ():
                    if kind == "header" and row.name.lower() in ("authorization", "content-type", "accept"):
                        continue  # OpenAPI describes these through security and media types instead
                    parameter = self._parameter(row, kind, section)
                    key = (kind, row.name)
                    if key in merged:
                        _merge_description(merged[key], parameter["description"])
                    else:
                        merged[key] = parameter
        self._check_path_parameters(endpoint, merged)
        return list(merged.values())

    def _parameter(self, row: Row, kind: str, section: Section) -> dict[str, Any]:
        parameter: dict[str, Any] = {
            "name": row.name,
            "in": kind,
            "required": True if kind == "path" else bool(row.required),
            "description": row.description,
            "schema": _bare_schema(row, self.page.source),
        }
        example = _path_example(section, row.name) if kind == "path" else None
        if example is not None:
            parameter["example"] = example
        return parameter

    def _check_path_parameters(self, endpoint: _Endpoint, merged: dict[tuple[str, str], Any]) -> None:
        template_names = re.findall(r"\{([^}]+)\}", endpoint.path)
        declared = [name for kind, name in merged if kind == "path"]
        section = endpoint.sections[0]
        for name in template_names:
            if name not in declared:
                raise PageError(
                    self.page.source, section.path_line, f"path parameter `{name}` has no row in a 路径参数 table"
                )
        for name in declared:
            if name not in template_names:
                raise PageError(
                    self.page.source,
                    section.path_line,
                    f"路径参数 table names `{name}`, which is not in the path `{section.path}`",
                )

    # request bodies

    def _request_body(self, endpoint: _Endpoint) -> dict[str, Any] | None:
        bodies = [(s, s.parameters["body"]) for s in endpoint.sections if "body" in s.parameters]
        if not bodies:
            return None
        section, table = bodies[0]
        media_type = _request_media_type(section)
        name = f"{_pascal(endpoint.operation_id)}{'Multipart' if media_type == 'multipart/form-data' else 'Json'}Body"
        self.schemas[name] = _object_schema(
            table.rows, self.page.source, required=[r.name for r in table.rows if r.required]
        )
        self.schemas[name]["x-source-line"] = table.line
        media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
        examples = {
            _example_key(s, i): _curl_example(e)
            for s in endpoint.sections
            for i, e in enumerate(s.request_examples)
            if e.form
        }
        if examples:
            media["examples"] = examples
        return {"required": any(row.required for row in table.rows), "content": {media_type: media}}

    # responses

    def _success_responses(self, endpoint: _Endpoint) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        for section in endpoint.sections:
            for response in section.responses:
                built = self._response(response, section)
                key = str(response.status)
                if key in responses:
                    _merge_response(responses[key], built)
                else:
                    responses[key] = built
        if not responses:
            raise PageError(self.page.source, endpoint.sections[0].line, "operation has no `200 - ...` response")
        return responses

    def _response(self, response: Response, section: Section) -> dict[str, Any]:
        built: dict[str, Any] = {"description": " ".join([response.description, *response.text])}
        if response.headers is not None:
            built["headers"] = {
                row.name: {"description": row.description, "schema": _bare_schema(row, self.page.source)}
                for row in response.headers.rows
            }
        if response.example is not None:
            schema = self._response_schema(response)
            example = {
                "summary": f"{section.title} (page line {response.example.line})",
                "value": response.example.value,
                "x-source-line": response.example.line,
            }
            built["content"] = {"application/json": {"schema": schema, "examples": {_example_key(section, 0): example}}}
        else:
            media_types = [m for text in response.text for m in MEDIA_TYPE_RE.findall(text)]
            if not media_types:
                raise PageError(
                    self.page.source, response.line, "response has neither a JSON example nor a media type in its text"
                )
            built["content"] = {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}
        return built

    def _response_schema(self, response: Response) -> dict[str, Any]:
        if response.fields is not None:
            resource = _resource_name(response.fields)
            if resource:
                return {"$ref": f"#/components/schemas/{resource}"}
            return _object_schema(
                response.fields.rows, self.page.source, required=[r.name for r in response.fields.rows]
            )
        assert response.example is not None
        return _infer_schema([response.example.value])

    def _build_resources(self) -> None:
        for name, resource in self.resources.items():
            self.schemas.update(resource.schemas(name, self.page.source))

    def _build_error_responses(self) -> dict[str, Any]:
        if not self.page.errors:
            return {}
        missing = [r for r in self.page.errors if r.example is None]
        if missing:
            raise PageError(
                self.page.source, missing[0].line, f"error response {missing[0].status} has no JSON example"
            )
        envelope = _infer_schema([r.example.value for r in self.page.errors if r.example])
        envelope["description"] = "The error envelope, as the page's error examples show it."
        envelope["x-source-lines"] = [r.example.line for r in self.page.errors if r.example]
        self.schemas[ERROR_SCHEMA] = envelope
        refs: dict[str, Any] = {}
        for response in self.page.errors:
            assert response.example is not None
            name = _pascal(http.HTTPStatus(response.status).phrase)
            self.responses[name] = {
                "description": response.description,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                        "examples": {
                            _error_code(response.example.value, response.status): {
                                "summary": f"{response.status} - {response.description} (page line "
                                f"{response.example.line})",
                                "value": response.example.value,
                                "x-source-line": response.example.line,
                            }
                        },
                    }
                },
            }
            refs[str(response.status)] = {"$ref": f"#/components/responses/{name}"}
        return refs

    def components(self) -> dict[str, Any]:
        components: dict[str, Any] = {"schemas": self.schemas}
        if self.responses:
            components["responses"] = self.responses
        if self.uses_security:
            components["securitySchemes"] = {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": self.security_description or "Bearer token",
                }
            }
        return components


# -- resources: the objects the field tables describe ------------------------------------------


@dataclass
class _Resource:
    """Every field table that describes one kind of object (same `object` constant)."""

    tables: list[Table] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)

    def schemas(self, name: str, source: str) -> dict[str, Any]:
        rows_by_name: dict[str, list[Row]] = {}
        for table in self.tables:
            for row in table.rows:
                rows_by_name.setdefault(row.name, []).append(row)
        nulls = {
            key
            for example in self.examples
            if isinstance(example, dict)
            for key, value in example.items()
            if value is None
        }
        prefix = name.removesuffix("Resource")
        extra: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        for field_name, rows in rows_by_name.items():
            schema = _merged_row_schema(rows, source, nullable=field_name in nulls)
            if len(schema.get("enum", ())) > 1:
                # A vocabulary (e.g. the status names) gets its own component so the server and
                # the overlay have one place to find and change it.
                component = prefix + _pascal(field_name)
                extra[component] = {"type": schema.pop("type"), "enum": schema.pop("enum")}
                if "x-enum-descriptions" in schema:
                    extra[component]["x-enum-descriptions"] = schema.pop("x-enum-descriptions")
                schema = {"$ref": f"#/components/schemas/{component}", **schema}
            properties[field_name] = schema
        everywhere = [n for n in rows_by_name if all(any(r.name == n for r in t.rows) for t in self.tables)]
        sometimes = [n for n in rows_by_name if n not in everywhere]
        description = "The object the page's field tables describe. Fields every section lists are required"
        description += f"; {', '.join(sometimes)} appear in only some sections." if sometimes else "."
        resource = {
            "type": "object",
            "description": description,
            "properties": properties,
            "required": everywhere,
            "x-source-lines": [table.line for table in self.tables],
        }
        return {name: resource, **extra}


def _collect_resources(page: DocsPage) -> dict[str, _Resource]:
    resources: dict[str, _Resource] = {}
    for operation in page.operations:
        for response in operation.responses:
            if response.fields is None:
                continue
            name = _resource_name(response.fields)
            if name:
                resource = resources.setdefault(name, _Resource())
                resource.tables.append(response.fields)
                if response.example is not None:
                    resource.examples.append(response.example.value)
    return resources


def _resource_name(table: Table) -> str | None:
    """`object` fixed to "video" -> `VideoResource` (the official component name)."""
    for row in table.rows:
        if row.name == "object" and (match := CONST_RE.search(row.description)):
            return _pascal(match.group(1)) + "Resource"
    return None


# -- schemas from table rows ------------------------------------------------------------------


def _row_schema(row: Row, source: str, nullable: bool) -> dict[str, Any]:
    if row.type == "file":
        schema: dict[str, Any] = {"type": "string", "format": "binary"}
    else:
        schema = {"type": [row.type, "null"] if nullable else row.type}
    schema["description"] = row.description
    if const := CONST_RE.search(row.description):
        schema["enum"] = [const.group(1)]
    for inner in PAREN_RE.findall(row.description):
        items = [ENUM_ITEM_RE.match(part) for part in re.split(r"[,，、]", inner)]
        if len(items) > 1 and all(items):
            schema["enum"] = [m.group(1) for m in items if m]
            schema["x-enum-descriptions"] = {m.group(1): m.group(2) for m in items if m}
        elif row.type in ("integer", "number") and (bounds := RANGE_RE.match(inner)):
            schema["minimum"], schema["maximum"] = int(bounds.group(1)), int(bounds.group(2))
    if match := DEFAULT_RE.search(row.description):
        schema["default"] = _typed(match.group(1), row, source)
        if "enum" in schema and schema["default"] not in schema["enum"]:
            raise PageError(
                source, row.line, f"default `{match.group(1)}` of `{row.name}` is not one of {schema['enum']}"
            )
    return schema


def _bare_schema(row: Row, source: str) -> dict[str, Any]:
    """A parameter's or header's schema: its description already sits one level up."""
    schema = _row_schema(row, source, nullable=False)
    del schema["description"]
    return schema


def _typed(text: str, row: Row, source: str) -> Any:
    try:
        return {"integer": int, "number": float}.get(row.type, str)(text)
    except ValueError:
        raise PageError(source, row.line, f"default `{text}` of `{row.name}` is not a valid {row.type}") from None


def _merged_row_schema(rows: list[Row], source: str, nullable: bool) -> dict[str, Any]:
    schema = _row_schema(rows[0], source, nullable)
    for row in rows[1:]:
        if row.type != rows[0].type:
            raise PageError(
                source, row.line, f"field `{row.name}` is `{row.type}` here but `{rows[0].type}` at line {rows[0].line}"
            )
        other = _row_schema(row, source, nullable)
        _merge_description(schema, other["description"])
        for key in ("enum", "x-enum-descriptions", "minimum", "maximum", "default"):
            if key in other and key not in schema:
                schema[key] = other[key]
    # keep `description` after the type-ish keys so the YAML reads type first
    description = schema.pop("description")
    return {**schema, "description": description}


def _object_schema(rows: Iterable[Row], source: str, required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {row.name: _row_schema(row, source, nullable=False) for row in rows},
    }
    if required:
        schema["required"] = required
    return schema


def _infer_schema(values: list[Any]) -> dict[str, Any]:
    """The schema several example values share: union of types and keys, keys in all required."""
    types: list[str] = []
    for value in values:
        kind = _json_type(value)
        if kind not in types:
            types.append(kind)
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    objects = [v for v in values if isinstance(v, dict)]
    if objects:
        keys: list[str] = []
        for value in objects:
            keys.extend(k for k in value if k not in keys)
        schema["properties"] = {k: _infer_schema([o[k] for o in objects if k in o]) for k in keys}
        schema["required"] = [k for k in keys if all(k in o for o in objects)]
    return schema


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# -- small helpers ----------------------------------------------------------------------------


def _operation_description(endpoint: _Endpoint) -> str:
    lines = [line for section in endpoint.sections for line in section.description]
    text = "\n".join(dict.fromkeys(lines))
    if len(endpoint.sections) > 1:
        where = " and ".join(f"`{s.title}` (line {s.line})" for s in endpoint.sections)
        text += (
            f"\n\nThe page describes {endpoint.method} {endpoint.sections[0].path} {len(endpoint.sections)} times: "
            f"{where}. "
            "They are merged here: the response fields are the union of the sections' tables and every section's "
            "example is kept."
        )
    return text.strip() or endpoint.sections[0].title


def _merge_description(target: dict[str, Any], extra: str) -> None:
    parts = target["description"].split(" / ")
    if extra not in parts:
        target["description"] = " / ".join([*parts, extra])


def _merge_response(target: dict[str, Any], other: dict[str, Any]) -> None:
    for media_type, media in other.get("content", {}).items():
        existing = target.setdefault("content", {}).setdefault(media_type, media)
        if existing is not media:
            existing.setdefault("examples", {}).update(media.get("examples", {}))
    for name, header in other.get("headers", {}).items():
        target.setdefault("headers", {}).setdefault(name, header)


def _request_media_type(section: Section) -> str:
    headers = section.parameters.get("header")
    for row in headers.rows if headers else ():
        if row.name.lower() == "content-type" and (match := MEDIA_TYPE_RE.search(row.description)):
            return match.group(1)
    if any(example.form for example in section.request_examples):
        return "multipart/form-data"
    return "application/json"


def _curl_example(example: CurlExample) -> dict[str, Any]:
    return {
        "summary": f"the page's curl example (page line {example.line})",
        "value": dict(example.form),
        "x-source-line": example.line,
    }


def _path_example(section: Section, name: str) -> str | None:
    pattern = "^" + re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(section.path)) + "$"
    for example in section.request_examples:
        if match := re.match(pattern, urlparse(example.url).path):
            return match.groupdict().get(name)
    return None


def _example_key(section: Section, index: int) -> str:
    return section.title if index == 0 else f"{section.title} {index + 1}"


def _error_code(value: Any, status: int) -> str:
    code = value.get("error", {}).get("code") if isinstance(value, dict) else None
    return code if isinstance(code, str) else str(status)


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
