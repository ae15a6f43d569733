"""The official `openai` Python SDK as a matrix client: create_and_poll, then download_content."""

from __future__ import annotations

import warnings
from importlib.metadata import version

import openai

from tests.compat import scenario

NAME = "openai Python SDK"


def client_version() -> str:
    return version("openai")


def _error(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        # The SDK hands over the inner `error` object when there is one, else the whole body.
        body = exc.body if isinstance(exc.body, dict) else {}
        code = body.get("code")
        return f"{type(exc).__name__} {exc.status_code}" + (f" {code}" if code else "")
    return f"{type(exc).__name__}: {exc}"


def run(base_url: str, api_key: str = "sk-compat-matrix") -> str:
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # every videos.* method is @deprecated (Sora shutdown)
        try:
            video = client.videos.create_and_poll(
                model=scenario.MODEL, prompt=scenario.PROMPT, seconds=scenario.SECONDS, size=scenario.SIZE
            )
        except Exception as exc:  # the cell reports whatever a user would see
            return scenario.clean(f"create_and_poll raised {_error(exc)}")
        try:
            data = client.videos.download_content(video.id).content
        except Exception as exc:
            return scenario.clean(f"create_and_poll returned status={video.status}; download_content raised {_error(exc)}")
    return scenario.verdict(video.status, "completed", data)
