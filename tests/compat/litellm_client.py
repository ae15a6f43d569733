"""LiteLLM's SDK as a matrix client; runs inside its own venv (`litellm==1.106.2`), not the test venv.

Usage: <litellm-venv>/bin/python tests/compat/litellm_client.py <base_url>
Prints one JSON line: {"cell": "...", "version": "..."}.
It uses video_generation / video_status / video_content with `api_base` pointing at the fake,
polls like OpenAI's docs loop, and downloads with the id `video_generation` returned (LiteLLM's
status responses re-wrap the id without the model, see gateways.md section 4.3).
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of the cost map at import
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scenario.py, by file: this venv has no `tests`

import scenario  # noqa: E402


def describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    if "validation error" in text:
        # pydantic: "1 validation error for VideoObject\nseconds\n  Input should be a valid string [type=...]"
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        field = lines[1] if len(lines) > 1 else "?"
        reason = lines[2].split(" [")[0] if len(lines) > 2 else text
        return f"ValidationError: {field}: {reason}"
    status = getattr(exc, "status_code", None)
    if status:
        # LiteLLM wraps the server's body in its message: keep only the error code a user would act on.
        code = _error_code(text)
        return f"{name} {status}" + (f" {code}" if code else "")
    return f"{name}: {text}"


def _error_code(text: str) -> str | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        body = json.loads(text[start:])
    except ValueError:
        return None
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None


def main(base_url: str) -> str:
    import litellm

    common = {"api_base": base_url, "api_key": "sk-compat-matrix", "custom_llm_provider": "openai"}
    try:
        created = litellm.video_generation(
            model=f"openai/{scenario.MODEL}", prompt=scenario.PROMPT, seconds=scenario.SECONDS, size=scenario.SIZE,
            api_base=base_url, api_key="sk-compat-matrix",
        )
    except Exception as exc:
        return f"video_generation raised {describe(exc)}"
    video = created
    deadline = time.monotonic() + scenario.POLL_DEADLINE_S
    while video.status in scenario.WAITING_STATUSES:
        if time.monotonic() > deadline:
            return f"video_status still {video.status} after {scenario.POLL_DEADLINE_S:.0f}s"
        time.sleep(scenario.POLL_INTERVAL_S)
        try:
            video = litellm.video_status(video_id=created.id, **common)
        except Exception as exc:
            return f"video_status raised {describe(exc)}"
    try:
        data = litellm.video_content(video_id=created.id, **common)
    except Exception as exc:
        return f"status loop ended at status={video.status}; video_content raised {describe(exc)}"
    return scenario.verdict(video.status, "completed", bytes(data))


if __name__ == "__main__":
    cell = main(sys.argv[1])
    print(json.dumps({"cell": scenario.clean(cell), "version": version("litellm")}))
