"""`newapi`: what QuantumNous/new-api's code does (not what its docs say; that is `docs`).

From QuantumNous/new-api's code (dto/openai_video.go, relay/relay_task.go, controller/video_proxy.go):

- ids are public task ids `task_...`, repeated in the legacy `task_id` field ("兼容旧接口 待废弃");
- the Go DTO has `omitempty` on seconds, size, completed_at, expires_at, remixed_from_video_id,
  error, usage and metadata, so empty values disappear instead of being null; it has no `prompt`;
- the result URL is in `metadata.url` (this server's /content URL, as `BuildProxyURL` stores it),
  and a finished task carries `usage`;
- an unknown id on GET /v1/videos/{id} is HTTP 400 `{"code":"task_not_exist","message":...,"data":null}`,
  a task error with no OpenAI envelope; /content answers 404 `{"error":{"message":"Task not found",...}}`
  and 400 "Task is not completed yet, current status: IN_PROGRESS" before completion;
- router/video-router.go has create, retrieve, remix and content only: list, delete, edits,
  extensions and characters fall through to gin's NoRoute, whose /v1 branch is
  `controller.RelayNotFound`: 404 `{"error":{"message":"Invalid URL (GET /v1/videos)",
  "type":"invalid_request_error","param":"","code":""}}`, before any auth. gin answers a wrong
  method on a known path the same way (HandleMethodNotAllowed is off);
- a successful submit carries `X-New-Api-Other-Ratios` (the billing ratios as JSON, for Sora
  `{"seconds":4,"size":1}`, size 1.666667 for 1792x1024/1024x1792), and /content is served
  with `Cache-Control: public, max-age=86400`.

Option `kling_ms_timestamps` (default false): for models named `kling-...`, `created_at` and
`completed_at` are Unix *milliseconds* copied from Kling, and `completed_at` is set (to the last
update) even before completion, as the Kling adaptor does. This is inferred from the code, not
observed, hence opt-in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext, hex_part

# The fields of new-api's OpenAIVideo DTO, in its order; anything else is not on its wire.
DTO_FIELDS = (
    "id",
    "task_id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "seconds",
    "size",
    "remixed_from_video_id",
    "error",
    "usage",
    "metadata",
)
ALWAYS_PRESENT = frozenset({"id", "object", "model", "status", "progress", "created_at"})  # no `omitempty`
# Operations new-api's router/video-router.go @01f6839be8a4 does not register.
UNSERVED = frozenset(
    {
        ("GET", "/videos"),
        ("DELETE", "/videos/{video_id}"),
        ("POST", "/videos/edits"),
        ("POST", "/videos/extensions"),
        ("POST", "/videos/characters"),
        ("GET", "/videos/characters/{character_id}"),
    }
)
SUBMITS = frozenset({"POST /videos", "POST /videos/{video_id}/remix"})
LARGE_SIZES = frozenset({"1792x1024", "1024x1792"})  # the Sora adaptor's 1.666667 size ratio
# new-api reports its internal task status in the /content refusal.
_INTERNAL_STATUS = {"queued": "QUEUED", "running": "IN_PROGRESS", "failed": "FAILURE"}
_PHASE_IN_MESSAGE = re.compile(r"\(status (\w+)")


def _omitempty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == 0


class NewApi(Profile):
    name = "newapi"
    summary = "new-api's code: `task_` ids, `metadata.url`, omitted empty fields, 400 task_not_exist, no list/delete"
    changes = (
        "ids are `task_<hex>`, echoed in an extra `task_id` field",
        "empty fields are omitted rather than null (Go omitempty); no `prompt`",
        "a completed Video carries `metadata.url` (the /content URL) and `usage`",
        'GET /v1/videos/{unknown} is HTTP 400 {"code":"task_not_exist","message":...,"data":null}',
        '/content: 404 {"error":{"message":"Task not found",...}}; 400 "Task is not completed yet" before completion',
        'no list, delete, edits, extensions or characters: 404 {"error":{"message":"Invalid URL (GET '
        '/v1/videos)",...}}, before auth',
        'submits carry X-New-Api-Other-Ratios: {"seconds":4,"size":1}; /content carries Cache-Control: public, '
        "max-age=86400",
        "option kling_ms_timestamps=true: kling-* models get millisecond created_at/completed_at",
    )
    source = (
        "github.com/QuantumNous/new-api: router/video-router.go, dto/openai_video.go, relay/relay_task.go, "
        "controller/video_proxy.go, controller/relay.go RelayNotFound"
    )
    unserved = UNSERVED
    headers_need_body = SUBMITS
    options: ClassVar[Mapping[str, str]] = {
        "kling_ms_timestamps": "kling-* models report created_at/completed_at in Unix milliseconds (default false)"
    }

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.kling_ms = self.flag("kling_ms_timestamps")

    def new_id(self, ids: IdFactory, prefix: str) -> str:
        return f"task_{hex_part(ids, prefix)}" if prefix == "video" else ids.new(prefix)

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        doc = {**doc, "task_id": doc["id"]}
        if state.phase is Phase.COMPLETED:
            doc["metadata"] = {"url": ctx.content_url(job.id)}
            # new-api bills video per second; the DTO's usage carries token-style counters.
            clip = int(float(job.seconds)) if job.seconds.replace(".", "", 1).isdigit() else 0
            doc["usage"] = {"completion_tokens": clip, "total_tokens": clip}
        if self.kling_ms and job.model.startswith("kling-"):
            # Kling's own millisecond clock; its converter sets no expires_at.
            created_ms = round(job.created_at * 1000)
            doc["created_at"] = created_ms
            doc["completed_at"] = round(state.finished_at * 1000) if state.finished_at is not None else created_ms
            doc.pop("expires_at", None)
        return {
            name: doc[name]
            for name in DTO_FIELDS
            if name in doc and (name in ALWAYS_PRESENT or not _omitempty(doc[name]))
        }

    def error(self, status: int, body: Document, *, method: str, path: str) -> tuple[int, Document]:
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        code = error.get("code")
        on_content = path.endswith("/content")
        if code in ("unknown_url", "method_not_allowed"):
            return self.unknown_route(method, path)
        if code == "video_not_found" and not on_content:
            return 400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}
        if code == "video_not_found" and on_content:
            return 404, {"error": {"message": "Task not found", "type": "invalid_request_error"}}
        if code in ("video_not_ready", "video_failed") and on_content:
            match = _PHASE_IN_MESSAGE.search(str(error.get("message", "")))
            phase = "failed" if code == "video_failed" else (match.group(1) if match else "running")
            internal = _INTERNAL_STATUS.get(phase, "IN_PROGRESS")
            message = f"Task is not completed yet, current status: {internal}"
            return 400, {"error": {"message": message, "type": "invalid_request_error"}}
        return status, body

    def unknown_route(self, method: str, path: str) -> tuple[int, Document]:
        # controller.RelayNotFound: an OpenAI envelope with empty-string param and code.
        message = f"Invalid URL ({method} {path})"
        return 404, {"error": {"message": message, "type": "invalid_request_error", "param": "", "code": ""}}

    def response_headers(self, operation: str, status: int, body: Document | None) -> list[tuple[str, str]]:
        if operation == "GET /videos/{video_id}/content" and status in (200, 206):
            return [("Cache-Control", "public, max-age=86400")]
        if operation in SUBMITS and status == 200 and body is not None:
            return [("X-New-Api-Other-Ratios", other_ratios(body))]
        return []


def other_ratios(video: Document) -> str:
    """The Sora adaptor's billing ratios, as Go marshals the map (sorted keys, shortest floats)."""
    try:
        seconds = float(video.get("seconds") or 4)
    except (TypeError, ValueError):
        seconds = 4.0
    ratios = {"seconds": seconds, "size": 1.666667 if video.get("size") in LARGE_SIZES else 1.0}
    return json.dumps({k: int(v) if v.is_integer() else v for k, v in sorted(ratios.items())}, separators=(",", ":"))


PROFILE = NewApi

# What `mockserver conform` (reference contract; lifecycle, examples and coverage phases) must
# report against this profile, each check tied to the deviation that trips it. Checks of severity
# `deviation` (mockserver/conformance/dialect_checks.py) are reported without failing the run.
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {
    "id_format": "(deviation) ids are `task_<hex>`, not `video_<hex>`",
    "undeclared_fields": "(deviation) `task_id` on every Video, `metadata` (with the url) and `usage` once completed",
    "unknown_id_404": "an unknown id is HTTP 400 task_not_exist",
    "key_isolation": "another key's task is HTTP 400 task_not_exist (hidden, but not the contract's 404)",
    "error_envelope": "task errors are {code, message, data}; /content errors lack param and code",
    "required_fields": "omitempty drops completed_at, expires_at, error, remixed_from_video_id; there is no prompt",
    "video_schema": "the same omitted required fields",
    "listed_after_create": "there is no GET /v1/videos: 404 Invalid URL",
    "delete_then_404": "there is no DELETE /v1/videos/{id}: 404 Invalid URL",
    "auth_required": "the key is probed on GET /v1/videos, which answers 404 Invalid URL before any auth",
    "missing_required_header": "(schemathesis) the same: 404 instead of 401 on the operations new-api lacks",
    "status_code_conformance": "(schemathesis) 404 is undocumented for list and the create-like operations new-api "
    "lacks",
    "unsupported_method": "(schemathesis) gin answers an undeclared method (TRACE) with its NoRoute 404, not 405",
    "response_schema_conformance": "(schemathesis) the omitted fields, and error bodies without `error`/`param`",
    "positive_data_acceptance": "(schemathesis) a schema-valid GET of an id it never issued is refused with 400, not "
    "404",
}

# What the option adds when the lifecycle jobs use a `kling-*` model (`conform --model kling-v1`).
OPTION_CONFORMANCE_FAILURES: dict[str, dict[str, str]] = {
    "kling_ms_timestamps": {
        "timestamps_in_seconds": "created_at and completed_at are Unix milliseconds",
        "completed_at_when_done": "completed_at is the last update, set while the job is still queued or running",
    },
}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
EXPECTED_PYTHON_SDK = "works"
