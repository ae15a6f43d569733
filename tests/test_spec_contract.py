"""The generated contracts: valid OpenAPI, faithful to the page (docs) and to the official API (reference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from mockserver.specgen.examples import HTTP_METHODS, iter_examples, schema_validator
from mockserver.specgen.parse import parse_page

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "openapi" / "source" / "openai-video-format.zh.md"
def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "openapi" / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    return load("docs.yaml")


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return load("reference.yaml")


@pytest.fixture(scope="module")
def official(official_spec: dict[str, Any]) -> dict[str, Any]:
    return official_spec


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]


def accepts(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    return schema_validator(document, schema).is_valid(value)


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {op["operationId"]: (method, path, op) for path, item in document["paths"].items() for method, op in item.items() if method in HTTP_METHODS}


def body_schema(document: dict[str, Any], operation_id: str, status: str = "200", media: str = "application/json") -> dict[str, Any]:
    response = operations(document)[operation_id][2]["responses"][status]
    while "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response["content"][media]["schema"]


# -- validity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["docs.yaml", "reference.yaml"])
def test_spec_is_valid_openapi(name: str) -> None:
    validate(load(name))


@pytest.mark.parametrize("name", ["docs.yaml", "reference.yaml"])
def test_every_example_in_the_spec_matches_its_schema(name: str) -> None:
    document = load(name)
    examples = list(iter_examples(document))
    assert examples, "the spec has examples"
    for example in examples:
        errors = [e.message for e in schema_validator(document, example.schema).iter_errors(example.value)]
        assert not errors, f"{example.where}: {errors}"


def test_every_json_example_on_the_page_validates_against_the_docs_spec(docs: dict[str, Any]) -> None:
    page = parse_page(PAGE.read_text(encoding="utf-8"), PAGE.name)
    checked = 0
    by_endpoint = {(method.upper(), "/v1" + path): op for _, (method, path, op) in operations(docs).items()}
    for section in page.operations:
        operation = by_endpoint[(section.method, section.path)]
        for response in section.responses:
            if response.example is not None:
                schema = operation["responses"][str(response.status)]["content"]["application/json"]["schema"]
                assert accepts(docs, schema, response.example.value), f"page line {response.example.line}"
                checked += 1
    for response in page.errors:
        assert response.example is not None
        assert accepts(docs, {"$ref": "#/components/schemas/ErrorResponse"}, response.example.value), f"page line {response.example.line}"
        checked += 1
    # every JSON block on the page (they start with `{` at the start of a line) was checked
    assert checked == sum(line.startswith("{") for line in PAGE.read_text(encoding="utf-8").splitlines()) == 8


# -- reference: the video object -------------------------------------------------------------------------


VIDEO = {
    "id": "video_123",
    "object": "video",
    "model": "sora-2",
    "status": "in_progress",
    "progress": 40,
    "created_at": 1712697600,
    "completed_at": None,
    "expires_at": None,
    "prompt": "A calico cat playing a piano on stage",
    "size": "720x1280",
    "seconds": "4",
    "remixed_from_video_id": None,
    "error": None,
}
VIDEO_REF = {"$ref": "#/components/schemas/VideoResource"}


def test_reference_video_requires_all_thirteen_fields(reference: dict[str, Any]) -> None:
    video = schemas(reference)["VideoResource"]
    assert video["required"] == list(VIDEO)
    assert accepts(reference, VIDEO_REF, VIDEO)
    for field in VIDEO:
        assert not accepts(reference, VIDEO_REF, {k: v for k, v in VIDEO.items() if k != field}), f"{field} must be required"
    assert "quality" not in video["required"] and "url" not in video["required"]
    assert accepts(reference, VIDEO_REF, {**VIDEO, "quality": "standard", "url": "https://example.com/v.mp4"})


def test_reference_video_field_types_and_nullability(reference: dict[str, Any]) -> None:
    for field in ("completed_at", "expires_at"):
        assert accepts(reference, VIDEO_REF, {**VIDEO, field: 1712698000})
        assert not accepts(reference, VIDEO_REF, {**VIDEO, field: "soon"})
    assert accepts(reference, VIDEO_REF, {**VIDEO, "remixed_from_video_id": "video_001"})
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "prompt": 7})
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "object": "job"})
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "seconds": 4}), "seconds is a string"
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "progress": 101})
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "progress": -1})
    failed = {**VIDEO, "status": "failed", "error": {"code": "moderation_blocked", "message": "blocked"}}
    assert accepts(reference, VIDEO_REF, failed)
    assert not accepts(reference, VIDEO_REF, {**failed, "error": {"message": "no code"}})
    assert not accepts(reference, VIDEO_REF, {**failed, "error": {"code": 1, "message": "x"}})


def test_reference_status_vocabulary_is_the_sdks(reference: dict[str, Any]) -> None:
    assert schemas(reference)["VideoStatus"]["enum"] == ["queued", "in_progress", "completed", "failed"]
    assert not accepts(reference, VIDEO_REF, {**VIDEO, "status": "processing"})


def test_reference_request_vocabularies(reference: dict[str, Any]) -> None:
    s = schemas(reference)
    assert s["VideoSeconds"] == {"description": "Clip duration in seconds, as a string.", "type": "string", "enum": ["4", "8", "12"]}
    assert s["VideoSize"]["enum"] == ["720x1280", "1280x720", "1024x1792", "1792x1024"]
    assert s["VideoModel"]["anyOf"][0] == {"type": "string"}
    assert s["VideoModel"]["anyOf"][1]["enum"] == ["sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08"]
    for body in ("CreateVideoMultipartBody", "CreateVideoJsonBody"):
        props = s[body]["properties"]
        assert s[body]["required"] == ["prompt"]
        assert (props["prompt"]["minLength"], props["prompt"]["maxLength"]) == (1, 32000)
        assert props["model"]["default"] == "sora-2"
        assert props["seconds"]["default"] == "4"
        assert props["size"]["default"] == "720x1280"
    create = {"$ref": "#/components/schemas/CreateVideoJsonBody"}
    assert accepts(reference, create, {"prompt": "x", "model": "my-own-model", "seconds": "12"})
    assert not accepts(reference, create, {"prompt": ""})
    assert not accepts(reference, create, {"prompt": "x" * 32001})
    assert not accepts(reference, create, {"prompt": "x", "seconds": 4})
    assert not accepts(reference, create, {"prompt": "x", "size": "1024x1808"})


def test_reference_input_reference_is_a_file_or_exactly_one_of_url_and_file_id(reference: dict[str, Any]) -> None:
    s = schemas(reference)
    multipart = s["CreateVideoMultipartBody"]["properties"]["input_reference"]["oneOf"]
    assert {"type": "string", "format": "binary"} in multipart
    assert {"$ref": "#/components/schemas/ImageInputReferenceParam"} in multipart
    assert s["CreateVideoJsonBody"]["properties"]["input_reference"] == {"$ref": "#/components/schemas/ImageInputReferenceParam"}
    json_body = {"$ref": "#/components/schemas/CreateVideoJsonBody"}
    assert accepts(reference, json_body, {"prompt": "x", "input_reference": {"image_url": "https://example.com/a.png"}})
    assert accepts(reference, json_body, {"prompt": "x", "input_reference": {"file_id": "file-123"}})
    assert not accepts(reference, json_body, {"prompt": "x", "input_reference": {}})
    assert not accepts(reference, json_body, {"prompt": "x", "input_reference": {"image_url": "https://e.com/a.png", "file_id": "file-1"}})
    create = operations(reference)["createVideo"][2]["requestBody"]["content"]
    assert list(create) == ["multipart/form-data", "application/json"]
    assert "input_reference" in create["multipart/form-data"]["encoding"]


# -- reference: endpoints ---------------------------------------------------------------------------------

OFFICIAL_OPERATIONS = {
    "createVideo": ("post", "/videos"),
    "ListVideos": ("get", "/videos"),
    "GetVideo": ("get", "/videos/{video_id}"),
    "DeleteVideo": ("delete", "/videos/{video_id}"),
    "RetrieveVideoContent": ("get", "/videos/{video_id}/content"),
    "CreateVideoRemix": ("post", "/videos/{video_id}/remix"),
    "CreateVideoEdit": ("post", "/videos/edits"),
    "CreateVideoExtend": ("post", "/videos/extensions"),
    "CreateVideoCharacter": ("post", "/videos/characters"),
    "GetVideoCharacter": ("get", "/videos/characters/{character_id}"),
}
UPLOADS = {"createVideo", "CreateVideoEdit", "CreateVideoExtend", "CreateVideoCharacter"}
BY_ID = {"GetVideo", "DeleteVideo", "RetrieveVideoContent", "CreateVideoRemix", "CreateVideoEdit", "CreateVideoExtend", "GetVideoCharacter"}
NEEDS_COMPLETED = {"DeleteVideo", "RetrieveVideoContent", "CreateVideoRemix", "CreateVideoEdit", "CreateVideoExtend"}


def test_reference_has_every_official_operation_with_security_and_errors(reference: dict[str, Any]) -> None:
    ops = operations(reference)
    assert {name: (m, p) for name, (m, p, _) in ops.items()} == OFFICIAL_OPERATIONS
    assert reference["servers"] == [{"url": "/v1", "description": reference["servers"][0]["description"]}]
    assert reference["components"]["securitySchemes"]["ApiKeyAuth"] == {**reference["components"]["securitySchemes"]["ApiKeyAuth"], "type": "http", "scheme": "bearer"}
    for name, (_, _, op) in ops.items():
        statuses = set(op["responses"])
        assert op["security"] == [{"ApiKeyAuth": []}], name
        assert {"200", "400", "401", "403", "429", "500"} <= statuses, name
        assert ("404" in statuses) == (name in BY_ID), name
        assert ("409" in statuses) == (name in NEEDS_COMPLETED), name
        assert ("413" in statuses) == (name in UPLOADS), name
        for status in statuses - {"200"}:
            assert body_schema(reference, name, status) == {"$ref": "#/components/schemas/ErrorResponse"}, (name, status)


def test_reference_list_and_delete(reference: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operations(reference)["ListVideos"][2]["parameters"]}
    assert set(params) == {"after", "limit", "order"} and not any(p["required"] for p in params.values())
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 100, "default": 20}
    assert params["order"]["schema"]["default"] == "desc"
    assert schemas(reference)["OrderEnum"]["enum"] == ["asc", "desc"]
    page = {"object": "list", "data": [VIDEO], "first_id": "video_123", "last_id": "video_123", "has_more": False}
    list_schema = body_schema(reference, "ListVideos")
    assert accepts(reference, list_schema, page)
    assert accepts(reference, list_schema, {**page, "data": [], "first_id": None, "last_id": None})
    for field in page:
        assert not accepts(reference, list_schema, {k: v for k, v in page.items() if k != field}), field
    deleted = body_schema(reference, "DeleteVideo")
    assert accepts(reference, deleted, {"id": "video_123", "object": "video.deleted", "deleted": True})
    assert not accepts(reference, deleted, {"id": "video_123", "object": "video", "deleted": True})
    assert schemas(reference)["DeletedVideoResource"]["required"] == ["id", "object", "deleted"]


def test_reference_remix_edit_extend_and_characters(reference: dict[str, Any]) -> None:
    ops = operations(reference)
    remix = ops["CreateVideoRemix"][2]["requestBody"]["content"]
    assert set(remix) == {"application/json", "multipart/form-data"}
    edit = ops["CreateVideoEdit"][2]["requestBody"]["content"]
    assert accepts(reference, edit["application/json"]["schema"], {"video": {"id": "video_123"}, "prompt": "x"})
    assert not accepts(reference, edit["application/json"]["schema"], {"video": "video_123", "prompt": "x"})
    extend = schemas(reference)["CreateVideoExtendJsonBody"]
    assert extend["required"] == ["video", "prompt", "seconds"]
    character = schemas(reference)["CreateVideoCharacterBody"]
    assert (character["properties"]["name"]["minLength"], character["properties"]["name"]["maxLength"]) == (1, 80)
    assert list(ops["CreateVideoCharacter"][2]["requestBody"]["content"]) == ["multipart/form-data"]
    resource = {"$ref": "#/components/schemas/VideoCharacterResource"}
    assert accepts(reference, resource, {"id": None, "name": None, "created_at": 1})
    assert not accepts(reference, resource, {"id": "char_1", "name": "n"})


def test_reference_content_endpoint(reference: dict[str, Any]) -> None:
    op = operations(reference)["RetrieveVideoContent"][2]
    variant = next(p for p in op["parameters"] if p["name"] == "variant")
    assert variant["schema"]["default"] == "video"
    assert schemas(reference)["VideoContentVariant"]["enum"] == ["video", "thumbnail", "spritesheet"]
    ok = op["responses"]["200"]
    assert list(ok["content"]) == ["video/mp4", "image/webp", "image/jpeg"]
    assert all(media["schema"] == {"type": "string", "format": "binary"} for media in ok["content"].values())
    assert list(ok["headers"]) == ["Content-Type", "Content-Length", "Content-Disposition"]
    assert ok["headers"]["Content-Length"]["schema"]["type"] == "integer"
    assert "video_not_ready" in op["description"] and "x-should-retry" in op["description"]


def test_reference_error_envelope_and_special_errors(reference: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}
    error = {"message": "m", "type": "invalid_request_error", "param": None, "code": None}
    assert schemas(reference)["ErrorResponse"]["properties"]["error"]["required"] == ["message", "type", "param", "code"]
    assert accepts(reference, envelope, {"error": error})
    assert accepts(reference, envelope, {"error": {**error, "param": "prompt", "code": "invalid_parameter"}})
    for field in error:
        assert not accepts(reference, envelope, {"error": {k: v for k, v in error.items() if k != field}}), field
    responses = reference["components"]["responses"]
    assert responses["TooManyRequests"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    conflict = responses["Conflict"]
    assert conflict["headers"]["x-should-retry"]["schema"]["enum"] == ["false"]
    assert conflict["headers"]["x-should-retry"]["required"] is True
    assert [e["value"]["error"]["code"] for e in conflict["content"]["application/json"]["examples"].values()] == ["video_not_ready"]
    not_found = [e["value"]["error"]["code"] for e in responses["NotFound"]["content"]["application/json"]["examples"].values()]
    assert not_found == ["video_not_found", "character_not_found"]


@pytest.mark.parametrize("operation_id", ["createVideo", "CreateVideoRemix", "CreateVideoEdit", "CreateVideoExtend"])
def test_reference_job_creating_operations_link_to_the_job(reference: dict[str, Any], operation_id: str) -> None:
    links = operations(reference)[operation_id][2]["responses"]["200"]["links"]
    assert set(links) == {"GetVideo", "RetrieveVideoContent", "CreateVideoRemix", "DeleteVideo"}
    for name, link in links.items():
        assert link == {"operationId": name, "parameters": {"video_id": "$response.body#/id"}}


# -- reference vs the official document ----------------------------------------------------------------------


def _official_examples(official: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(operationId, what, value) for every JSON example the official document carries."""
    found = []
    for operation_id, (_, _, op) in operations(official).items():
        examples = op.get("x-oaiMeta", {}).get("examples", {})
        for key in ("response",):
            text = examples.get(key)
            if isinstance(text, str) and text.strip():
                found.append((operation_id, "response 200", json.loads(text)))
        for parameter in op.get("parameters", []):
            if "example" in parameter.get("schema", {}):
                found.append((operation_id, f"parameter {parameter['name']}", parameter["schema"]["example"]))
    return found


def _complete(document: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    """Fill the required fields an example leaves out (null where allowed, else a plausible value)."""
    schema = _deref(document, schema)
    if isinstance(value, dict) and "properties" in schema:
        filled = {k: _complete(document, schema["properties"].get(k, {}), v) for k, v in value.items()}
        for name in schema.get("required", []):
            if name not in filled:
                filled[name] = _sample(document, schema["properties"][name])
        return filled
    if isinstance(value, list) and "items" in schema:
        return [_complete(document, schema["items"], item) for item in value]
    return value


def _sample(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    schema = _deref(document, schema)
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    if any(_deref(document, b).get("type") == "null" for b in branches):
        return None
    first = _deref(document, branches[0])
    if "enum" in first:
        return first["enum"][0]
    return {"string": "x", "integer": 0, "boolean": False, "array": [], "object": {}}[first.get("type", "string")]


def _deref(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _schema_for(document: dict[str, Any], operation_id: str, what: str) -> dict[str, Any]:
    if what.startswith("parameter "):
        name = what.split(" ", 1)[1]
        return next(p["schema"] for p in operations(document)[operation_id][2]["parameters"] if p["name"] == name)
    return body_schema(document, operation_id)


def test_reference_accepts_every_official_example_the_official_schema_accepts(official: dict[str, Any], reference: dict[str, Any]) -> None:
    examples = _official_examples(official)
    assert examples, "the official document carries examples"
    compared = 0
    for operation_id, what, value in examples:
        official_schema = _schema_for(official, operation_id, what)
        reference_schema = _schema_for(reference, operation_id, what)
        # The official response examples are abbreviated (they lack required fields), so each is
        # also tried completed with the fields it leaves out.
        for candidate in (value, _complete(official, official_schema, value)):
            if accepts(official, official_schema, candidate):
                assert accepts(reference, reference_schema, candidate), f"{operation_id} {what}: {candidate}"
                compared += 1
            else:
                assert not accepts(reference, reference_schema, candidate), f"{operation_id} {what}: the official schema rejects it, so should the reference"
    assert compared >= 5


@pytest.mark.parametrize(
    ("official_name", "reference_name"),
    [
        ("VideoStatus", "VideoStatus"),
        ("VideoSize", "VideoSize"),
        ("VideoSeconds", "VideoSeconds"),
        ("VideoContentVariant", "VideoContentVariant"),
        ("OrderEnum", "OrderEnum"),
    ],
)
def test_reference_enums_agree_with_official(official: dict[str, Any], reference: dict[str, Any], official_name: str, reference_name: str) -> None:
    assert schemas(reference)[reference_name]["enum"] == schemas(official)[official_name]["enum"]


def test_reference_model_vocabulary_agrees_with_official(official: dict[str, Any], reference: dict[str, Any]) -> None:
    assert schemas(reference)["VideoModel"]["anyOf"] == schemas(official)["VideoModel"]["anyOf"]


@pytest.mark.parametrize(
    "name",
    ["VideoResource", "VideoListResource", "DeletedVideoResource", "VideoCharacterResource", "CreateVideoJsonBody", "CreateVideoMultipartBody",
     "CreateVideoRemixBody", "CreateVideoEditJsonBody", "CreateVideoEditMultipartBody", "CreateVideoExtendJsonBody", "CreateVideoExtendMultipartBody",
     "CreateVideoCharacterBody", "VideoReferenceInputParam"],
)
def test_reference_objects_agree_with_official_on_required_fields(official: dict[str, Any], reference: dict[str, Any], name: str) -> None:
    assert set(schemas(reference)[name]["required"]) == set(schemas(official)[name]["required"])
    assert set(schemas(official)[name]["properties"]) <= set(schemas(reference)[name]["properties"])


def test_reference_video_nullability_agrees_with_official(official: dict[str, Any], reference: dict[str, Any]) -> None:
    for field, official_schema in schemas(official)["VideoResource"]["properties"].items():
        official_null = accepts(official, {"$ref": "#/components/schemas/VideoResource"}, {**VIDEO, field: None})
        reference_null = accepts(reference, VIDEO_REF, {**VIDEO, field: None})
        assert official_null == reference_null, field
