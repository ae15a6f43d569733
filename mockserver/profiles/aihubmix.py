"""`aihubmix`: aihubmix's documented dialect (aihubmix.mintlify.app/en/api/Video-Gen).

Ids are base64-encoded JSON (they start `eyJ`, the encoding of `{"`), and the Video carries
`duration`, `width` and `height` next to the OpenAI fields. Statuses follow OpenAI.
The ids use the URL-safe base64 alphabet so that they never contain `/`.
"""

from __future__ import annotations

import base64
import json
import re

from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState
from mockserver.profiles.base import Document, Profile, RenderContext, hex_part

_WXH = re.compile(r"^(\d+)x(\d+)$")


class AiHubMix(Profile):
    name = "aihubmix"
    summary = "base64-JSON ids (`eyJ...`); extra `duration`, `width`, `height`"
    changes = (
        "ids are URL-safe base64 of a JSON object, e.g. eyJwcm92aWRlciI6ImFpaHVibWl4Ii... (no `video_` prefix)",
        "every Video carries `duration` (integer seconds), `width` and `height` (integers, from `size`)",
    )
    source = "aihubmix.mintlify.app/en/api/Video-Gen; docs.aihubmix.com/en/api/Video-Gen"

    def new_id(self, ids: IdFactory, prefix: str) -> str:
        payload = json.dumps(
            {"provider": "aihubmix", "kind": prefix, "id": hex_part(ids, prefix)}, separators=(",", ":")
        )
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        match = _WXH.match(job.size)
        width, height = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        try:
            duration: int | None = int(float(job.seconds))
        except ValueError:
            duration = None
        return {**doc, "duration": duration, "width": width, "height": height}


PROFILE = AiHubMix

# What `mockserver conform` (reference contract; lifecycle, examples and coverage phases) reports.
# The schema permits both (ids are strings; a Video may carry fields it does not name), so both
# are checks of severity `deviation`: listed, but `conform` still passes.
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {
    "id_format": "(deviation) ids are base64 JSON (`eyJ...`), not `video_<hex>`",
    "undeclared_fields": "(deviation) every Video carries `duration`, `width`, `height`",
}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
EXPECTED_PYTHON_SDK = "works"
