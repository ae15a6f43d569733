"""`docs`: exactly what the provider's docs page says (openapi/source/openai-video-format.zh.md).

The page is new-api's `docs.newapi.pro/api/openai-video`, mirrored verbatim by many deployments
(uiuiapi, 4allapi, jieagi, ...). It differs from the code behind it: it documents `processing`
where the code says `in_progress`, shows `quality` and a top-level `url` on the finished video,
and shows errors as `{"error": {message, type, code}}` without `param`.

The status words come from the contract itself: this profile implies `--spec docs`, whose Video
enum is `queued | processing | completed | failed`.
"""

from __future__ import annotations

from mockserver.core.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext, drop_param


class Docs(Profile):
    name = "docs"
    summary = "the docs page as written: status `processing`, top-level `url` and `quality`, errors without `param`"
    changes = (
        "serves openapi/docs.yaml (unless --spec names a contract other than reference), so the running phase is "
        "`processing`",
        'every Video carries `quality: "standard"` (the docs\' example value)',
        "a completed Video carries a top-level `url`: this server's /content URL",
        'error bodies are {"error": {message, type, code}} with the docs\' error types and no `param`',
    )
    source = "openapi/source/openai-video-format.zh.md (docs.newapi.pro/api/openai-video)"
    spec = "docs"

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        doc = {**doc, "quality": "standard"}
        if state.phase is Phase.COMPLETED:
            doc["url"] = ctx.content_url(job.id)
        return doc

    def error(self, status: int, body: Document, *, method: str, path: str) -> tuple[int, Document]:
        return status, drop_param(body)


PROFILE = Docs

# What `mockserver conform` (reference contract; lifecycle, examples and coverage phases) must
# report against this profile, each check tied to the deviation that trips it. Checks of severity
# `deviation` (mockserver/conformance/dialect_checks.py) are reported without failing the run.
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {
    "status_vocabulary": "a running job says `processing`",
    "optional_extras": "(deviation) every Video carries `quality`, a completed one a top-level `url`: extras the "
    "contract only permits",
    "video_schema": "`processing` is outside the enum; empty completed_at/expires_at/error are omitted, not null",
    "required_fields": "docs.yaml does not require completed_at, expires_at, error, prompt, remixed_from_video_id, so "
    "they are left out",
    "error_envelope": "errors carry no `param`",
    "response_schema_conformance": "(schemathesis) error bodies lack the required `param`",
    "listed_after_create": "the docs page has no GET /v1/videos: 405",
    "delete_then_404": "the docs page has no DELETE /v1/videos/{id}: 405",
    "remix_lineage": "the docs page has no POST /v1/videos/{id}/remix: 404, so no remix can name its source",
    "auth_required": "the key is probed on GET /v1/videos, which answers 405 before any auth",
    "missing_required_header": "(schemathesis) the same: 405 instead of 401 on the operations the docs lack",
    "status_code_conformance": "(schemathesis) 405 is undocumented for the operations the docs lack",
    "positive_data_acceptance": "(schemathesis) a JSON create body is refused: the docs page documents multipart only",
}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
# create_and_poll keeps polling only while the status is queued/in_progress, so `processing` ends the
# wait before the video exists, and the download that follows is refused.
EXPECTED_PYTHON_SDK = (
    "create_and_poll returned status=processing; download_content raised ConflictError 409 video_not_ready"
)
