"""Read the provider's documentation page into sections, tables and examples.

The page is a scraped doc site, so its structure lives in line shapes rather than markup:
a few fixed Chinese labels (`API 端点`, `请求参数`, ...), pipe tables, curl commands, status lines
such as `200 - 成功响应`, and JSON blocks. Every piece keeps the line it came from, so that a
generation error (and the generated spec, via `x-source-line`) can point back at the page.

Reading rules, in the order a page is written:
- line 1 is the page title; the plain lines before the first operation heading are the intro;
- an operation is a heading line, optional description lines, `API 端点`, then `METHOD /path`;
- the labelled blocks after it (tables, curl, responses) belong to that operation;
- `错误响应` starts the page-wide error list: the status lines after it apply to every operation.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from mockserver.specgen.errors import PageError

# The words the page uses in a table's "type" column; `file` is a multipart upload.
KNOWN_TYPES = ("string", "integer", "number", "boolean", "object", "array", "file")

ENDPOINT_LABEL = "API 端点"
# label -> which parameter table it introduces
PARAMETER_LABELS = {"请求头": "header", "请求参数": "body", "路径参数": "path", "查询参数": "query"}
REQUEST_EXAMPLE_LABEL = "请求示例"
RESPONSES_LABEL = "响应格式"
FIELDS_LABEL = "响应字段说明"
HEADERS_LABEL = "响应头说明"
ERRORS_LABEL = "错误响应"
ALL_LABELS = {
    ENDPOINT_LABEL,
    REQUEST_EXAMPLE_LABEL,
    RESPONSES_LABEL,
    FIELDS_LABEL,
    HEADERS_LABEL,
    ERRORS_LABEL,
    *PARAMETER_LABELS,
}

# Column titles -> the meaning we give them.
COLUMN_MEANINGS = {"参数": "name", "字段": "name", "类型": "type", "必填": "required", "描述": "description"}
REQUIRED_WORDS = {"是": True, "否": False}

ENDPOINT_RE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(/\S*)$")
STATUS_RE = re.compile(r"^(\d{3})\s*-\s*(.+)$")
MARKDOWN_RULE_RE = re.compile(r"^\|?\s*:?-{3,}")


@dataclass(frozen=True)
class Row:
    line: int
    name: str
    type: str
    description: str
    required: bool | None = None  # None: the table has no 必填 column (response fields)


@dataclass(frozen=True)
class Table:
    line: int
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class JsonExample:
    line: int
    value: Any


@dataclass(frozen=True)
class CurlExample:
    line: int
    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Response:
    line: int
    status: int
    description: str
    example: JsonExample | None = None
    text: list[str] = field(default_factory=list)  # prose such as "直接返回视频文件流,Content-Type为 video/mp4"
    fields: Table | None = None
    headers: Table | None = None


@dataclass
class Section:
    line: int
    title: str
    description: list[str]
    method: str = ""
    path: str = ""
    path_line: int = 0
    parameters: dict[str, Table] = field(default_factory=dict)  # keyed by "header" | "body" | "path" | "query"
    request_examples: list[CurlExample] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)


@dataclass
class DocsPage:
    source: str
    title: str
    intro: list[str]
    operations: list[Section]
    errors: list[Response]


def parse_page(text: str, source: str) -> DocsPage:
    """Parse the page text; `source` is the name used in error messages (`name:line: ...`)."""
    return _PageReader(text.splitlines(), source).read()


class _PageReader:
    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = [line.rstrip() for line in lines]
        self.source = source
        self.index = 0  # 0-based; line numbers shown to people are index + 1
        self.operations: list[Section] = []
        self.errors: list[Response] = []
        self.pending_text: list[tuple[int, str]] = []
        self.label: str | None = None  # the labelled block we are in
        self.in_errors = False
        self.intro: list[tuple[int, str]] = []

    # -- helpers ---------------------------------------------------------------------------

    def fail(self, line: int, message: str) -> PageError:
        return PageError(self.source, line, message)

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    @property
    def current(self) -> Section | None:
        return self.operations[-1] if self.operations else None

    def _responses(self) -> list[Response]:
        if self.in_errors:
            return self.errors
        if self.current is None:
            raise self.fail(self.index + 1, "status line outside any operation")
        return self.current.responses

    # -- main loop -------------------------------------------------------------------------

    def read(self) -> DocsPage:
        if not self.lines or not self.lines[0].strip():
            raise self.fail(1, "the page is empty or does not start with a title line")
        title = self.lines[0].strip()
        self.index = 1
        while (line := self.peek()) is not None:
            number = self.index + 1
            stripped = line.strip()
            if not stripped:
                self.index += 1
            elif stripped in ALL_LABELS:
                self._enter_label(stripped, number)
                self.index += 1
            elif stripped.startswith("|"):
                self._read_table()
            elif stripped.startswith(("{", "[")):
                self._attach_json(self._read_json())
            elif stripped.startswith("curl "):
                self._read_curl()
            elif self.label == ENDPOINT_LABEL and (match := ENDPOINT_RE.match(stripped)):
                self._set_endpoint(match, number)
                self.index += 1
            elif self.label in (RESPONSES_LABEL, ERRORS_LABEL) and (match := STATUS_RE.match(stripped)):
                self._responses().append(Response(number, int(match.group(1)), match.group(2).strip()))
                self.index += 1
            else:
                self._read_text(stripped, number)
                self.index += 1
        return self._finish(title)

    def _finish(self, title: str) -> DocsPage:
        intro = [text for _, text in self.intro]
        if not self.operations:
            raise self.fail(
                len(self.lines), f"no operation found: expected a heading, `{ENDPOINT_LABEL}` and `METHOD /path`"
            )
        for operation in self.operations:
            if not operation.method:
                raise self.fail(
                    operation.line, f"operation `{operation.title}` has `{ENDPOINT_LABEL}` but no `METHOD /path` line"
                )
        return DocsPage(self.source, title, intro, self.operations, self.errors)

    # -- blocks ----------------------------------------------------------------------------

    def _enter_label(self, label: str, number: int) -> None:
        if label == ENDPOINT_LABEL:
            self._start_operation(number)
        elif label == ERRORS_LABEL:
            self.in_errors = True
        elif self.current is None or self.in_errors:
            raise self.fail(
                number,
                f"`{label}` appears outside an operation (before the first `{ENDPOINT_LABEL}` or after "
                f"`{ERRORS_LABEL}`)",
            )
        self.label = label

    def _start_operation(self, number: int) -> None:
        if self.in_errors:
            raise self.fail(number, f"`{ENDPOINT_LABEL}` after `{ERRORS_LABEL}`: the error list must come last")
        if not self.pending_text:
            raise self.fail(number, f"`{ENDPOINT_LABEL}` has no heading line above it")
        if not self.operations:
            # Nothing marks where the page intro ends and the first heading starts, so the first
            # operation gets its heading line only (the page gives it no description line).
            self.intro = self.pending_text[:-1]
            heading = self.pending_text[-1:]
        else:
            heading = self.pending_text
        line, title = heading[0]
        self.operations.append(Section(line, title, [text for _, text in heading[1:]]))
        self.pending_text = []

    def _set_endpoint(self, match: re.Match[str], number: int) -> None:
        operation = self.current
        assert operation is not None  # _enter_label created it
        if operation.method:
            raise self.fail(
                number, f"second endpoint line in operation `{operation.title}` (first at line {operation.path_line})"
            )
        operation.method, operation.path, operation.path_line = match.group(1), match.group(2), number

    def _read_text(self, text: str, number: int) -> None:
        if self.label in (RESPONSES_LABEL,) and self.current and self.current.responses:
            # Prose under a status line describes that response (e.g. its media type).
            self.current.responses[-1].text.append(text)
            return
        if self.label == ENDPOINT_LABEL and self.current and not self.current.method:
            raise self.fail(number, f"expected `METHOD /path` after `{ENDPOINT_LABEL}`, got `{text}`")
        if self.in_errors:
            raise self.fail(
                number, f"unexpected text in the error list: `{text}` (expected `NNN - description` or JSON)"
            )
        # Anything else is a heading or description of the next operation.
        self.pending_text.append((number, text))
        self.label = None

    def _read_table(self) -> None:
        start = self.index + 1
        raw_rows: list[tuple[int, list[str]]] = []
        while (line := self.peek()) is not None and line.strip().startswith("|"):
            if not MARKDOWN_RULE_RE.match(line.strip()):
                raw_rows.append((self.index + 1, _split_row(line)))
            self.index += 1
        table = self._table_from_rows(raw_rows)
        self._attach_table(table, start)

    def _table_from_rows(self, raw_rows: list[tuple[int, list[str]]]) -> Table:
        header_line, header = raw_rows[0]
        columns: list[str] = []
        for title in header:
            if title not in COLUMN_MEANINGS:
                known = ", ".join(COLUMN_MEANINGS)
                raise self.fail(header_line, f"unknown table column `{title}` (known columns: {known})")
            columns.append(COLUMN_MEANINGS[title])
        for needed in ("name", "type", "description"):
            if needed not in columns:
                raise self.fail(header_line, f"table header has no `{needed}` column: {header}")
        rows = tuple(self._row(number, cells, columns, header) for number, cells in raw_rows[1:])
        if not rows:
            raise self.fail(header_line, "table has a header but no rows")
        return Table(header_line, tuple(columns), rows)

    def _row(self, number: int, cells: list[str], columns: list[str], header: list[str]) -> Row:
        if len(cells) != len(columns):
            raise self.fail(number, f"table row has {len(cells)} cells, header has {len(columns)}")
        values = dict(zip(columns, cells, strict=True))
        if not values["name"]:
            raise self.fail(number, "table row has an empty name cell")
        type_word = values["type"]
        if type_word not in KNOWN_TYPES:
            raise self.fail(
                number, f"unknown type `{type_word}` for `{values['name']}` (known types: {', '.join(KNOWN_TYPES)})"
            )
        required = None
        if "required" in values:
            if values["required"] not in REQUIRED_WORDS:
                raise self.fail(number, f"required column must be 是 or 否, got `{values['required']}`")
            required = REQUIRED_WORDS[values["required"]]
        return Row(number, values["name"], type_word, values["description"], required)

    def _attach_table(self, table: Table, number: int) -> None:
        label = self.label
        operation = self.current
        if label in PARAMETER_LABELS and operation is not None:
            kind = PARAMETER_LABELS[label]
            if kind in operation.parameters:
                raise self.fail(number, f"second `{label}` table in operation `{operation.title}`")
            if "required" not in table.columns:
                raise self.fail(table.line, f"a `{label}` table needs a 必填 column")
            operation.parameters[kind] = table
        elif label in (FIELDS_LABEL, HEADERS_LABEL) and operation is not None and operation.responses:
            response = operation.responses[-1]
            slot = "fields" if label == FIELDS_LABEL else "headers"
            if getattr(response, slot) is not None:
                raise self.fail(number, f"second `{label}` table for response {response.status}")
            setattr(response, slot, table)
        else:
            raise self.fail(number, f"table in an unexpected place (after `{label or 'plain text'}`)")
        self.label = label

    def _read_json(self) -> JsonExample:
        start = self.index
        depth = 0
        in_string = escaped = False
        while self.index < len(self.lines):
            for char in self.lines[self.index]:
                if in_string:
                    escaped = not escaped and char == "\\"
                    if char == '"' and not escaped:
                        in_string = False
                elif char == '"':
                    in_string = True
                elif char in "{[":
                    depth += 1
                elif char in "}]":
                    depth -= 1
            self.index += 1
            if depth <= 0:
                break
        else:
            raise self.fail(start + 1, "JSON example starting here never closes")
        text = "\n".join(self.lines[start : self.index])
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(start + exc.lineno, f"invalid JSON example: {exc.msg} (column {exc.colno})") from None
        return JsonExample(start + 1, value)

    def _attach_json(self, example: JsonExample) -> None:
        if self.label not in (RESPONSES_LABEL, ERRORS_LABEL):
            raise self.fail(example.line, f"JSON example outside a response (after `{self.label or 'plain text'}`)")
        responses = self._responses()
        if not responses:
            raise self.fail(example.line, "JSON example without a status line (`200 - ...`) above it")
        if responses[-1].example is not None:
            raise self.fail(
                example.line,
                f"second JSON example for response {responses[-1].status} (first at line {responses[-1].example.line})",
            )
        responses[-1].example = example

    def _read_curl(self) -> None:
        start = self.index + 1
        parts: list[str] = []
        while (line := self.peek()) is not None:
            self.index += 1
            parts.append(line.rstrip().removesuffix("\\"))
            if not line.rstrip().endswith("\\"):
                break
        if self.label != REQUEST_EXAMPLE_LABEL or self.current is None:
            raise self.fail(start, f"curl example outside `{REQUEST_EXAMPLE_LABEL}`")
        self.current.request_examples.append(_parse_curl(" ".join(parts), start, self.fail))


def _split_row(line: str) -> list[str]:
    cells = line.strip().split("|")
    # A row is `| a | b |`, so the first and last pieces are the empty outsides of the pipes.
    if cells and not cells[0].strip():
        cells = cells[1:]
    if cells and not cells[-1].strip():
        cells = cells[:-1]
    return [cell.strip() for cell in cells]


def _parse_curl(command: str, line: int, fail: Any) -> CurlExample:
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise fail(line, f"cannot read the curl example: {exc}") from None
    method, url = "", ""
    headers: dict[str, str] = {}
    form: dict[str, str] = {}
    words_iter = iter(words[1:])
    for word in words_iter:
        if word in ("-H", "--header"):
            name, _, value = next(words_iter, "").partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-F", "--form"):
            name, _, value = next(words_iter, "").partition("=")
            form[name] = value
        elif word in ("-X", "--request"):
            method = next(words_iter, "")
        elif word in ("-o", "--output", "-d", "--data"):
            next(words_iter, None)
        elif not word.startswith("-") and not url:
            url = word
    if not url:
        raise fail(line, "curl example has no URL")
    method = method or ("POST" if form else "GET")
    return CurlExample(line, method, url, headers, form)
