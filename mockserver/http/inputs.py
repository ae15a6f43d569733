"""Turn what a client sent into validated, defaulted values, or a 4xx in the OpenAI envelope.

Multipart forms use the SDKs' bracket notation for nested objects (`input_reference[image_url]`),
arrive as text, and may carry files; JSON bodies must be objects. Both are checked against the
validators the contract compiled at start-up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mockserver.contract.loading import FILE_PLACEHOLDER, ObjectValidator, Operation
from mockserver.core import jsonbody
from mockserver.core.errors import APIError, bad_request
from mockserver.http import limits


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str


@dataclass
class Body:
    values: dict[str, Any]  # validated, with the contract's defaults filled in
    uploads: dict[str, Upload] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)  # the values as the client sent them (the journal's)
    known: frozenset[str] = frozenset()  # the fields the contract declares for this body

    def upload_records(self) -> dict[str, dict[str, Any]]:
        """Each upload as the journal shows it: never its bytes."""
        return {
            name: {"filename": u.filename, "content_type": u.content_type, "size": u.size, "sha256": u.sha256}
            for name, u in self.uploads.items()
        }


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing with 413 as soon as it passes `limit` (not after buffering it all)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise bad_request(
            "The client disconnected before the request body was complete.", code="incomplete_body"
        ) from None
    body = b"".join(chunks)
    request._body = body  # Starlette's form parser then reads these bytes instead of the spent stream
    return body


def _too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than the {limit // (1024 * 1024)} MB this server accepts (serve --max-upload-mb).",
        code="file_too_large",
    )


def _set_nested(target: dict[str, Any], key: str, value: Any) -> None:
    """`input_reference[image_url]` -> {"input_reference": {"image_url": ...}}"""
    if "[" not in key or not key.endswith("]"):
        target[key] = value
        return
    head, _, rest = key.partition("[")
    parts = [head, *rest[:-1].split("][")]
    if len(parts) > limits.MAX_BRACKET_DEPTH:
        raise bad_request(
            f"Field '{key[:100]}' is nested more than {limits.MAX_BRACKET_DEPTH} levels deep.", param=head
        )
    node = target
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise bad_request(f"Field '{key}' conflicts with a plain field '{part}'.", param=part)
        node = child
    if parts[-1] and parts[-1] in node:
        # Which of two `input_reference[image_url]` parts did the client mean? Guessing would hide a client bug.
        raise bad_request(
            f"'{key}' appears more than once in the form; send it once.", param=key, code="duplicate_field"
        )
    node[parts[-1]] = value


async def parse_body(request: Request, op: Operation, max_bytes: int) -> Body:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not op.bodies:
        return Body({})
    body_bytes = await read_limited(request, max_bytes)
    if not body_bytes and not media_type:
        if op.body_required:
            raise bad_request(
                "This endpoint needs a request body (multipart/form-data or application/json).", code="missing_body"
            )
        return Body({})
    validator = op.bodies.get(media_type)
    if validator is None:
        accepted = " or ".join(op.bodies)
        raise bad_request(
            f"Unsupported Content-Type {media_type or '(none)'!r}; send {accepted}.", code="unsupported_content_type"
        )
    if media_type == "application/json":
        body = _parse_json(body_bytes)
    elif media_type == "multipart/form-data":
        body = _parse_multipart(request.headers.get("content-type", ""), body_bytes, validator)
    else:
        body = Body(_parse_urlencoded_like(await request.form(), validator))
    body.sent = limits.trimmed(body.values)  # for the journal: a new dict, its long strings cut
    body.values = validator.with_defaults(body.values)
    validator.check(body.values)
    limits.check_lengths(body.values, validator.properties)
    body.known = frozenset(validator.properties)
    return body


def _parse_json(raw: bytes) -> Body:
    try:
        value = jsonbody.loads(raw or b"null")
    except jsonbody.InvalidValue as exc:
        raise bad_request(str(exc), param=exc.param) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return Body(value)


class _FormPart:
    """One part of a multipart body: its headers, and its content as slices of the body (no copies)."""

    __slots__ = ("chunks", "filename", "headers", "name")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes | memoryview] = []
        self.name = ""
        self.filename: str | None = None

    def headers_done(self) -> None:
        # Content-Disposition is parsed once here; name and filename are read several times.
        options = parse_options_header(self.headers.get("content-disposition", ""))[1]
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.filename = filename.decode("utf-8", "replace") if filename is not None else None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def data(self) -> bytes:
        return (
            self.chunks[0].tobytes()
            if len(self.chunks) == 1 and isinstance(self.chunks[0], memoryview)
            else b"".join(self.chunks)
        )

    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks:
            digest.update(chunk)
        return digest.hexdigest()

    def is_file(self) -> bool:
        # A filename marks a file; so does a non-text part type, which OpenAPI-driven clients
        # (schemathesis among them) send for binary fields without a filename.
        if self.filename is not None:
            return True
        kind = (self.content_type or "text/plain").split(";")[0].strip().lower()
        return not (kind.startswith("text/") or kind == "application/json")


MAX_PARTS = 256


def _split_multipart(content_type: str, body: bytes) -> list[_FormPart]:
    """Split a multipart body into parts, keeping each part's headers (Starlette drops them for fields)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise bad_request("Malformed multipart body: the Content-Type has no boundary.", code="invalid_multipart")
    parts: list[_FormPart] = []
    header_name = bytearray()
    header_value = bytearray()
    view = memoryview(body)

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise bad_request(f"Too many multipart parts (more than {MAX_PARTS}).", code="invalid_multipart")
        parts.append(_FormPart())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1].headers[header_name.decode("latin-1").lower()] = header_value.decode("latin-1")
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        parts[-1].headers_done()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # Slices of the body are views; the parser's own look-behind buffer is copied, as it is reused.
        parts[-1].chunks.append(view[start:end] if data is body else bytes(data[start:end]))

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise bad_request(f"Malformed multipart body: {exc}", code="invalid_multipart") from None
    if not parts:
        raise bad_request("Malformed multipart body: it has no parts.", code="invalid_multipart")
    if parser.state != MultipartState.END:
        # python-multipart accepts a body cut short; a truncated upload must not become a job.
        raise bad_request("Malformed multipart body: it ends before the closing boundary.", code="invalid_multipart")
    return parts


def _parse_multipart(content_type: str, body: bytes, validator: ObjectValidator) -> Body:
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    file_fields = validator.file_fields
    for part in _split_multipart(content_type, body):
        key = part.name
        if not key:
            continue  # a nameless part belongs to no field; unknown fields are ignored, as extras are
        top = key.partition("[")[0]
        if top in file_fields and "[" not in key and part.filename is None:
            # OpenAPI's default multipart encoding for an object is a JSON part (some clients label
            # it with the field's file type); the SDKs use brackets instead. Both mean the object form.
            decoded = _object_or_none(part.data.decode("utf-8", "replace"))
            if decoded is not None:
                values[key] = decoded
                continue
        if part.is_file():
            if key in uploads:
                raise bad_request(
                    f"'{key}' appears more than once in the form; send one file.", param=key, code="duplicate_field"
                )
            if top not in file_fields:
                raise bad_request(f"'{key}' must be a text field, not a file upload.", param=key, code="invalid_type")
            uploads[key] = Upload(key, part.filename, part.content_type, part.size(), part.sha256())
            _set_nested(values, key, FILE_PLACEHOLDER)
            continue
        try:
            text = part.data.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request(f"'{key}' is not valid UTF-8 text.", param=key, code="invalid_encoding") from None
        if top in file_fields and "[" not in key:
            raise bad_request(
                f"'{key}' must be a file upload (or, where the contract allows, an object in bracket notation such as "
                f"{key}[image_url]).",
                param=key,
                code="invalid_type",
            )
        if key in values and key in validator.types and "array" not in validator.types[key]:
            # Which of two `model` parts did the client mean? Guessing would hide a client bug.
            raise bad_request(
                f"'{key}' appears more than once in the form; send it once.", param=key, code="duplicate_field"
            )
        _set_nested(values, key, validator.coerce(key, text) if "[" not in key else text)
    return Body(values, uploads)


def _object_or_none(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = jsonbody.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_urlencoded_like(form: Any, validator: ObjectValidator) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, item in form.multi_items():
        _set_nested(values, key, validator.coerce(key, item) if "[" not in key else item)
    return values


def parse_query(request: Request, op: Operation) -> dict[str, Any]:
    if op.query is None:
        return {}
    values: dict[str, Any] = {}
    # Most requests have no query string (a download, a poll): no QueryParams to build for them.
    items = request.query_params.multi_items() if request.scope.get("query_string") else ()
    for key, item in items:
        if key in op.query.properties:
            values[key] = op.query.coerce(key, item)
    values = op.query.with_defaults(values)
    op.query.check(values)
    return values
