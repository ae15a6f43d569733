"""`omnimaas`: OmniMaaS's documented dialect (docs page "OpenAI视频格式（Sora）", api.omnimaas.com).

A new job is `processing` from the moment it is created and ends `succeeded`; `seconds` is an
integer; errors are `{"error": {message, type}}` (404 included). The official Python SDK's
`create_and_poll` stops at the first `processing` and LiteLLM rejects the integer `seconds`.
"""

from __future__ import annotations

from mockserver.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext


class OmniMaaS(Profile):
    name = "omnimaas"
    summary = "status `processing` (also while queued) then `succeeded`; integer `seconds`; errors {message, type} only"
    changes = (
        "queued and running jobs both say `processing`; completed jobs say `succeeded`",
        "`seconds` is an integer (e.g. 4), not a string",
        "error bodies are {\"error\": {message, type}}: no `param`, no `code`",
    )
    source = "OmniMaaS docs page \"OpenAI视频格式（Sora）\" (see gateways.md section 3)"
    status_names = {Phase.QUEUED: "processing", Phase.RUNNING: "processing", Phase.COMPLETED: "succeeded"}

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

EXPECTED_CONFORMANCE_FAILURES: frozenset[str] = frozenset({"status_vocabulary", "seconds_is_string", "error_envelope"})
