"""`docs`: exactly what the provider's docs page says (openapi/source/openai-video-format.zh.md).

The page is new-api's `docs.newapi.pro/api/openai-video`, mirrored verbatim by many deployments
(uiuiapi, 4allapi, jieagi, ...). It differs from the code behind it: it documents `processing`
where the code says `in_progress`, shows `quality` and a top-level `url` on the finished video,
and shows errors as `{"error": {message, type, code}}` without `param`.

The status words come from the contract itself: this profile implies `--spec docs`, whose Video
enum is `queued | processing | completed | failed`.
"""

from __future__ import annotations

from mockserver.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext, drop_param


class Docs(Profile):
    name = "docs"
    summary = "the docs page as written: status `processing`, top-level `url` and `quality`, errors without `param`"
    changes = (
        "serves openapi/docs.yaml (unless --spec says otherwise), so the running phase is `processing`",
        "every Video carries `quality: \"standard\"` (the docs' example value)",
        "a completed Video carries a top-level `url`: this server's /content URL",
        "error bodies are {\"error\": {message, type, code}} with the docs' error types and no `param`",
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

EXPECTED_CONFORMANCE_FAILURES: frozenset[str] = frozenset({"status_vocabulary", "unknown_fields", "error_envelope"})
