"""`omnimaas`: OmniMaaS's documented dialect (docs page "OpenAI视频格式（Sora）", api.omnimaas.com).

A new job is `processing` from the moment it is created and ends `succeeded`; `seconds` is an
integer; errors are `{"error": {message, type}}` (404 included). The official Python SDK's
`create_and_poll` stops at the first `processing` and LiteLLM rejects the integer `seconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mockserver.core.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext


class OmniMaaS(Profile):
    name = "omnimaas"
    summary = "status `processing` (also while queued) then `succeeded`; integer `seconds`; errors {message, type} only"
    changes = (
        "queued and running jobs both say `processing`; completed jobs say `succeeded`",
        "`seconds` is an integer (e.g. 4), not a string",
        'error bodies are {"error": {message, type}}: no `param`, no `code`',
    )
    source = 'OmniMaaS docs page "OpenAI视频格式（Sora）" (API host api.omnimaas.com)'
    status_names: ClassVar[Mapping[Phase, str]] = {
        Phase.QUEUED: "processing",
        Phase.RUNNING: "processing",
        Phase.COMPLETED: "succeeded",
    }

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        seconds = doc.get("seconds")
        if isinstance(seconds, str) and seconds.isdigit():
            doc = {**doc, "seconds": int(seconds)}
        return doc

    def error(self, status: int, body: Document, *, method: str, path: str) -> tuple[int, Document]:
        error = body.get("error")
        if isinstance(error, dict):
            body = {"error": {"message": error.get("message"), "type": error.get("type")}}
        return status, body


PROFILE = OmniMaaS

# What `mockserver conform` (reference contract; lifecycle, examples and coverage phases) must
# report against this profile, each check tied to the deviation that trips it (all of severity `error`).
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {
    "status_vocabulary": "`processing` and `succeeded` are not the contract's words",
    "seconds_is_string": "`seconds` is an integer",
    "video_schema": "the status words and the integer `seconds`",
    "error_envelope": "errors carry neither `param` nor `code`",
    "response_schema_conformance": "(schemathesis) the same, seen by schemathesis",
}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
# create_and_poll keeps polling only while the status is queued/in_progress, so `processing` ends the
# wait before the video exists, and the download that follows is refused.
EXPECTED_PYTHON_SDK = "create_and_poll returned status=processing; download_content raised ConflictError 409"
