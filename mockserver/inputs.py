"""Turn what a client sent into validated, defaulted values, or a 4xx in the OpenAI envelope.

Multipart forms use the SDKs' bracket notation for nested objects (`input_reference[image_url]`),
arrive as text, and may carry files; JSON bodies must be objects. Both are checked against the
validators the contract compiled at start-up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request

from mockserver.contract import FILE_PLACEHOLDER, ObjectValidator, Operation
from mockserver.errors import APIError, bad_request


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str


@dataclass
class Body:
    values: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)
    media_type: str | None = None


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
        raise bad_request("The client disconnected before the request body was complete.", code="incomplete_body") from None
    body = b"".join(chunks)
    request._body = body  # Starlette's form parser then reads these bytes instead of the spent stream
    return body


def _too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than the {limit // (1024 * 1024)} MB this server accepts (serve --max-upload-mb).",
        code="request_too_large",
    )


def _set_nested(target: dict[str, Any], key: str, value: Any) -> None:
    """`input_reference[image_url]` -> {"input_reference": {"image_url": ...}}"""
    if "[" not in key or not key.endswith("]"):
        target[key] = value
        return
    head, _, rest = key.partition("[")
    parts = [head] + rest[:-1].split("][")
    node = target
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise bad_request(f"Field '{key}' conflicts with a plain field '{part}'.", param=part)
        node = child
    node[parts[-1]] = value


async def parse_body(request: Request, op: Operation, max_bytes: int) -> Body:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not op.bodies:
        return Body({})
    body_bytes = await read_limited(request, max_bytes)
    if not body_bytes and not media_type:
        if op.body_required:
            raise bad_request("This endpoint needs a request body (multipart/form-data or application/json).", code="missing_body")
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
        body = await _parse_multipart(request, validator)
    else:
        body = Body(_parse_urlencoded_like(await request.form(), validator))
    body.media_type = media_type
    _leave_for_journal(request, body)
    body.values = validator.with_defaults(body.values)
    validator.check(body.values)
    return body


def _leave_for_journal(request: Request, body: Body) -> None:
    # What the client sent (before defaults), so the request journal need not parse the body again.
    request.state.journal_body = dict(body.values)
    request.state.journal_uploads = {
        name: {"filename": u.filename, "content_type": u.content_type, "size": u.size, "sha256": u.sha256}
        for name, u in body.uploads.items()
    }


def _parse_json(raw: bytes) -> Body:
    try:
        value = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return Body(value)


async def _parse_multipart(request: Request, validator: ObjectValidator) -> Body:
    try:
        form = await request.form(max_files=16, max_fields=256)
    except MultiPartException as exc:
        raise bad_request(f"Malformed multipart body: {exc.message}", code="invalid_multipart") from None
    except (AssertionError, KeyError, ValueError) as exc:  # python-multipart on a broken boundary
        raise bad_request(f"Malformed multipart body: {exc}", code="invalid_multipart") from None
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for key, item in form.multi_items():
        top = key.partition("[")[0]
        if isinstance(item, UploadFile):
            if top not in validator.file_fields:
                raise bad_request(f"'{key}' must be a text field, not a file upload.", param=key, code="invalid_type")
            data = await item.read()
            uploads[key] = Upload(key, item.filename, item.content_type, len(data), hashlib.sha256(data).hexdigest())
            _set_nested(values, key, FILE_PLACEHOLDER)
        else:
            if top in validator.file_fields and "[" not in key:
                raise bad_request(
                    f"'{key}' must be a file upload (or, where the contract allows, an object in bracket notation such as {key}[image_url]).",
                    param=key,
                    code="invalid_type",
                )
            _set_nested(values, key, validator.coerce(key, item) if "[" not in key else item)
    return Body(values, uploads)


def _parse_urlencoded_like(form: Any, validator: ObjectValidator) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, item in form.multi_items():
        _set_nested(values, key, validator.coerce(key, item) if "[" not in key else item)
    return values


def parse_query(request: Request, op: Operation) -> dict[str, Any]:
    if op.query is None:
        return {}
    values: dict[str, Any] = {}
    for key, item in request.query_params.multi_items():
        if key in op.query.properties:
            values[key] = op.query.coerce(key, item)
    values = op.query.with_defaults(values)
    op.query.check(values)
    return values
