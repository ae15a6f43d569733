"""`vllm-omni`: vLLM-Omni's own /v1/videos server (vllm_omni/entrypoints/openai/protocol/videos.py).

Its `VideoResponse` is a pydantic model serialised whole: ids `video_gen_<hex>`, statuses as
OpenAI's, plus `quality: "default"`, `media_type: "video/mp4"`, `file_name`, `inference_time_s`,
`stage_durations` and `peak_memory_mb` on every Video (null/empty until the job has run) and
`prompt` always present.
"""

from __future__ import annotations

from mockserver.core.ids import IdFactory
from mockserver.core.jobs import Job, JobState, Phase
from mockserver.profiles.base import Document, Profile, RenderContext, hex_part

# Illustrative peak memory of a Wan2.2 run, so a client reading the field sees a plausible number.
PEAK_MEMORY_MB = 38912.0


class VllmOmni(Profile):
    name = "vllm-omni"
    summary = (
        "`video_gen_` ids; extra quality, media_type, file_name, inference_time_s, stage_durations, peak_memory_mb"
    )
    changes = (
        "ids are `video_gen_<hex>`",
        'every Video carries quality "default", media_type "video/mp4", prompt, and file_name, '
        "inference_time_s, stage_durations, peak_memory_mb (null / {} / 0.0 until the job has run)",
    )
    source = "github.com/vllm-project/vllm-omni vllm_omni/entrypoints/openai/protocol/videos.py @079d7a560f99"

    def new_id(self, ids: IdFactory, prefix: str) -> str:
        return f"video_gen_{hex_part(ids, prefix)}" if prefix == "video" else ids.new(prefix)

    def video(self, doc: Document, job: Job, state: JobState, ctx: RenderContext) -> Document:
        finished = state.phase is Phase.COMPLETED
        render = round(job.render_seconds, 3)
        return {
            **doc,
            "prompt": job.prompt or "",
            "quality": "default",
            "media_type": "video/mp4",
            "file_name": f"{job.id}.mp4" if finished else None,
            "inference_time_s": render if finished else None,
            "stage_durations": {"denoise": round(render * 0.9, 3), "vae_decode": round(render * 0.1, 3)}
            if finished
            else {},
            "peak_memory_mb": PEAK_MEMORY_MB if finished else 0.0,
        }


PROFILE = VllmOmni

# What `mockserver conform` (reference contract; lifecycle, examples and coverage phases) reports.
# The schema permits all of it (ids are strings; a Video may carry fields it does not name), so
# these are checks of severity `deviation`: listed, but `conform` still passes.
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {
    "id_format": "(deviation) ids are `video_gen_<hex>`: `gen_` is not hex",
    "undeclared_fields": "(deviation) media_type, file_name, inference_time_s, stage_durations, peak_memory_mb",
    "optional_extras": '(deviation) `quality: "default"`, an extra the contract only permits',
}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
EXPECTED_PYTHON_SDK = "works"
