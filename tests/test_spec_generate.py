"""`mockserver spec generate`: reproducible output, drift check, and clear errors for bad pages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mockserver.specgen.command import main
from mockserver.specgen.errors import OverlayError, PageError
from mockserver.specgen.overlay import apply_overlay, parse_jsonpath, select
from mockserver.specgen.parse import parse_page

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "openapi" / "source" / "openai-video-format.zh.md"
OVERLAY = REPO / "openapi" / "overlays" / "reference.overlay.yaml"
COMMITTED = {name: REPO / "openapi" / name for name in ("docs.yaml", "reference.yaml")}


def generate_into(out_dir: Path, source: Path = PAGE) -> int:
    return main(["generate", "--source", str(source), "--overlay", str(OVERLAY), "--out-dir", str(out_dir)])


# -- reproducibility ----------------------------------------------------------------------------


def test_regenerating_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    assert generate_into(tmp_path) == 0
    for name, committed in COMMITTED.items():
        assert (tmp_path / name).read_bytes() == committed.read_bytes(), f"{name} is stale: run `mockserver spec generate`"


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert generate_into(first) == 0 and generate_into(second) == 0
    for name in COMMITTED:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_generated_files_say_where_they_come_from() -> None:
    docs_head = COMMITTED["docs.yaml"].read_text(encoding="utf-8").splitlines()[:2]
    reference_head = COMMITTED["reference.yaml"].read_text(encoding="utf-8").splitlines()[:2]
    assert "mockserver spec generate" in docs_head[0] and "openapi/source/openai-video-format.zh.md" in docs_head[0]
    assert "Do not edit" in docs_head[1]
    assert "reference.overlay.yaml" in reference_head[0] and "Do not edit" in reference_head[1]


def test_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_names_the_drifted_file_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, committed in COMMITTED.items():
        shutil.copy(committed, tmp_path / name)
    drifted = tmp_path / "reference.yaml"
    drifted.write_text(drifted.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    before = drifted.read_bytes()

    code = main(["generate", "--check", "--out-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 1
    assert "reference.yaml" in err and "docs.yaml" not in err
    assert drifted.read_bytes() == before


def test_check_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--check", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "docs.yaml is missing" in err and "reference.yaml is missing" in err


def test_python_dash_m_entry_point_explains_itself() -> None:
    result = subprocess.run([sys.executable, "-m", "mockserver.specgen", "generate", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0
    assert "mockserver spec generate" in result.stdout and "--check" in result.stdout


# -- what is read from the page ------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs() -> dict:
    return yaml.safe_load(COMMITTED["docs.yaml"].read_text(encoding="utf-8"))


def test_docs_paths_operation_ids_and_server_come_from_the_page(docs: dict) -> None:
    assert docs["servers"][0]["url"] == "/v1"
    operations = {(method, path): op["operationId"] for path, item in docs["paths"].items() for method, op in item.items()}
    assert operations == {
        ("post", "/videos"): "createVideo",
        ("get", "/videos/{video_id}"): "GetVideo",
        ("get", "/videos/{video_id}/content"): "RetrieveVideoContent",
    }


def test_docs_defaults_and_enums_are_parsed_from_descriptions(docs: dict) -> None:
    body = docs["components"]["schemas"]["CreateVideoMultipartBody"]
    assert body["required"] == ["prompt"]
    props = body["properties"]
    assert props["model"]["default"] == "sora-2"
    assert props["seconds"]["default"] == "4" and props["seconds"]["type"] == "string"
    assert props["size"]["default"] == "720x1280"
    assert props["input_reference"] == {"type": "string", "format": "binary", "description": "可选图片参考,用于指导生成"}
    assert docs["components"]["schemas"]["VideoStatus"]["enum"] == ["queued", "processing", "completed", "failed"]
    video = docs["components"]["schemas"]["VideoResource"]["properties"]
    assert video["object"]["enum"] == ["video"]
    assert (video["progress"]["minimum"], video["progress"]["maximum"]) == (0, 100)
    # "默认为MP4视频" is prose, not a value: no default is invented for it.
    variant = docs["paths"]["/videos/{video_id}/content"]["get"]["parameters"][1]
    assert variant["name"] == "variant" and "default" not in variant["schema"]


def test_docs_merges_the_two_retrieve_sections_and_says_so(docs: dict) -> None:
    get = docs["paths"]["/videos/{video_id}"]["get"]
    assert [m["line"] for m in get["x-merged-from"]] == [46, 82]
    assert "merged" in get["description"]
    examples = get["responses"]["200"]["content"]["application/json"]["examples"]
    assert list(examples) == ["查询视频", "获取视频任务状态"]
    video = docs["components"]["schemas"]["VideoResource"]
    # union of fields; only fields every section lists are required
    assert {"url", "completed_at", "expires_at", "remixed_from_video_id", "error", "quality"} <= set(video["properties"])
    assert "url" not in video["required"] and "quality" in video["required"]
    # the page's example shows these as null, so they are nullable
    assert video["properties"]["error"]["type"] == ["object", "null"]


def test_docs_content_errors_and_security(docs: dict) -> None:
    content = docs["paths"]["/videos/{video_id}/content"]["get"]["responses"]["200"]
    assert list(content["content"]) == ["video/mp4"]
    assert list(content["headers"]) == ["Content-Type", "Content-Length", "Content-Disposition"]
    for item in docs["paths"].values():
        for operation in item.values():
            assert {"400", "401", "403", "429", "500"} <= set(operation["responses"])
            assert operation["security"] == [{"ApiKeyAuth": []}]
    assert docs["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    envelope = docs["components"]["schemas"]["ErrorResponse"]["properties"]["error"]
    assert envelope["required"] == ["message", "type", "code"]


# -- damaged pages ---------------------------------------------------------------------------------


def damage(tmp_path: Path, line: int, new_text: str) -> Path:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = new_text
    page = tmp_path / PAGE.name
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return page


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (14, "| seconds | string | 视频时长(秒),默认为 4 秒 | ", ":14: table row has 3 cells, header has 4"),
        (12, "| prompt | strnig | 是 | 描述要生成视频的文本提示词 | ", ":12: unknown type `strnig`"),
        (27, '  "model": "sora-2"', ":28: invalid JSON example"),
        (13, "| model | string | maybe | 视频生成模型 | ", ":13: required column must be 是 or 否"),
        (36, "| 字段 | 类别 | 描述 | ", ":36: unknown table column `类别`"),
        (49, "GET /v1/videos/{id}", ":49: path parameter `id` has no row"),
        (15, "| size | string | 否 | 输出分辨率 (a: 甲, b: 乙),默认为 720x1280 | ", ":15: default `720x1280` of `size` is not one of"),
    ],
    ids=["missing-column", "unknown-type", "invalid-json", "bad-required", "unknown-column", "path-parameter", "default-outside-enum"],
)
def test_a_damaged_page_fails_with_its_line_number_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int, text: str, expected: str) -> None:
    page = damage(tmp_path, line, text)
    out_dir = tmp_path / "out"

    code = generate_into(out_dir, source=page)

    err = capsys.readouterr().err
    assert code != 0
    assert f"openai-video-format.zh.md{expected}" in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_an_example_its_own_table_contradicts_is_a_generation_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = damage(tmp_path, 29, '  "progress": "zero",')
    code = generate_into(tmp_path / "out", source=page)
    err = capsys.readouterr().err
    assert code == 1
    assert "openai-video-format.zh.md:24:" in err and "progress" in err and "is not of type 'integer'" in err
    assert not (tmp_path / "out").exists()


def test_an_unclosed_json_example_names_where_it_starts() -> None:
    text = PAGE.read_text(encoding="utf-8")
    broken = text[: text.rindex("}")]  # drop the last closing brace of the page
    with pytest.raises(PageError, match=r"page\.md:180: JSON example starting here never closes"):
        parse_page(broken, "page.md")


# -- overlay mechanics -----------------------------------------------------------------------------


def test_jsonpath_subset_and_its_error() -> None:
    assert parse_jsonpath("$.paths['/videos'].post[*]") == ["paths", "/videos", "post", parse_jsonpath("$[*]")[0]]
    doc = {"a": {"x": {"v": 1}, "y": {"v": 2}}}
    assert select(doc, parse_jsonpath("$.a[*].v")) == [("a", "x", "v"), ("a", "y", "v")]
    with pytest.raises(OverlayError, match=r"only \$, \.name, \['name'\] and \[\*\] are supported"):
        parse_jsonpath("$.paths[?(@.get)]")
    with pytest.raises(OverlayError, match="supported"):
        parse_jsonpath("$..schema")


def _overlay(*actions: dict) -> dict:
    return {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": list(actions)}


def test_overlay_update_merges_objects_concatenates_arrays_and_remove_deletes() -> None:
    doc = {"s": {"enum": ["a"], "keep": 1, "drop": 2}}
    result, applied = apply_overlay(
        doc,
        _overlay(
            {"target": "$.s", "description": "merge", "update": {"enum": ["b"], "new": {"k": True}}},
            {"target": "$.s.drop", "description": "remove", "remove": True},
        ),
        "o.yaml",
    )
    assert result == {"s": {"enum": ["a", "b"], "keep": 1, "new": {"k": True}}}
    assert doc == {"s": {"enum": ["a"], "keep": 1, "drop": 2}}, "the input document is not changed"
    assert applied[0].touched == (("s", "enum"), ("s", "new"))


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"target": "$.nothing", "description": "x", "remove": True}, "matches nothing"),
        ({"target": "$.s", "update": {"k": 1}}, "add a one-line `description`"),
        ({"target": "$.s", "description": "x"}, "exactly one of `update` or `remove: true`"),
        ({"target": "$.s.k", "description": "x", "update": {"a": 1}}, "an update must be an object"),
    ],
)
def test_overlay_errors_are_explicit(action: dict, message: str) -> None:
    with pytest.raises(OverlayError, match=message):
        apply_overlay({"s": {"k": 1}}, _overlay(action), "o.yaml")
