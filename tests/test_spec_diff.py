"""`mockserver spec diff`: the plain-words report of how the docs page differs from the official API."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import yaml

from mockserver.specgen.command import main
from mockserver.specgen.yamlio import dump

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "openapi" / "docs.yaml"


@pytest.fixture(scope="module")
def report() -> str:
    # capsys is per test; the report is computed once for the module, so capture by hand.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["diff"]) == 0
    return out.getvalue()


def section(report: str, title_start: str) -> str:
    """The lines of the report section whose title starts with `title_start`."""
    blocks = report.split("\n\n")
    matches = [b for b in blocks if b.startswith(title_start)]
    assert matches, f"no section starting with {title_start!r} in:\n{report}"
    return matches[0]


def test_status_vocabulary(report: str) -> None:
    video = section(report, "Object VideoResource")
    assert "the docs say `status` `processing`; the SDKs expect `in_progress`" in video
    assert "poll()" in video, "the overlay's reason is printed"


def test_missing_prompt_and_required_nullable_fields(report: str) -> None:
    video = section(report, "Object VideoResource")
    assert "adds required field `prompt`: string or null" in video
    assert "`completed_at` is now required" in video and "`completed_at` can now be null" in video
    assert "`error` changes from object to `VideoError` object" in video


def test_quality_and_url_are_kept_optional(report: str) -> None:
    video = section(report, "Object VideoResource")
    assert "`quality` is no longer required (kept as an optional field)" in video
    assert "`url` stays optional" in video
    assert "the official schema lacks it" in video


def test_list_and_delete_endpoints_are_reported_as_added(report: str) -> None:
    assert "not on the docs page; the reference adds it" in section(report, "GET /videos (ListVideos)")
    assert "VideoListResource" in section(report, "GET /videos (ListVideos)")
    assert "not on the docs page" in section(report, "DELETE /videos/{video_id} (DeleteVideo)")
    for title in ("POST /videos/{video_id}/remix", "POST /videos/edits", "POST /videos/extensions", "POST /videos/characters", "GET /videos/characters/{character_id}"):
        assert "not on the docs page" in section(report, title)


def test_request_content_types_enums_and_errors(report: str) -> None:
    create = section(report, "POST /videos (createVideo)")
    assert "request: also accepts application/json" in create
    assert "adds response 413 `ContentTooLarge` (error code `file_too_large`)" in create
    assert "Retry-After" in create
    content = section(report, "GET /videos/{video_id}/content")
    assert "response 200 may also be image/webp" in content
    assert "adds response 409 `Conflict` (error code `video_not_ready`), with header x-should-retry" in content
    assert "header Content-Length changes from string to integer" in content
    body = section(report, "Object CreateVideoMultipartBody")
    assert "`seconds`: allowed values are now `4`, `8`, `12`" in body
    assert "`prompt`: length now 1..32000" in body
    envelope = section(report, "Object ErrorResponse")
    assert "adds required field `error.param`: string or null" in envelope


def test_every_difference_has_a_reason_from_the_overlay(report: str) -> None:
    lines = [line for line in report.splitlines() if line.startswith(("  - ", "      why: "))]
    unexplained = [line for line, after in zip(lines, lines[1:] + [""]) if line.startswith("  - ") and not after.startswith("      why: ")]
    assert not unexplained


def test_report_is_derived_from_the_documents_not_a_fixed_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = yaml.safe_load(DOCS.read_text(encoding="utf-8"))
    changed = yaml.safe_load(DOCS.read_text(encoding="utf-8"))
    changed["components"]["schemas"]["VideoStatus"]["enum"] = ["queued", "running", "completed", "failed"]
    (tmp_path / "docs.yaml").write_text(dump(docs), encoding="utf-8")
    (tmp_path / "other.yaml").write_text(dump(changed), encoding="utf-8")

    code = main(["diff", "--docs", str(tmp_path / "docs.yaml"), "--reference", str(tmp_path / "other.yaml"), "--overlay", str(tmp_path / "none.yaml")])

    out = capsys.readouterr().out
    assert code == 0
    assert "the docs say `status` `processing`; the SDKs expect `running`" in out
    assert "ListVideos" not in out and "prompt" not in out


def test_identical_documents_have_no_differences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--reference", str(DOCS), "--overlay", str(tmp_path / "none.yaml")]) == 0
    assert "No differences." in capsys.readouterr().out
