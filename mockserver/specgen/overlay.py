"""Apply an OpenAPI Overlay 1.0 document (https://spec.openapis.org/overlay/v1.0.0.html).

Actions run in order. `remove: true` deletes every node the target selects. `update` merges into
each selected node: objects merge key by key (recursively), arrays in both are concatenated,
scalars are replaced, and an update aimed at an array is appended to it. Concatenating arrays
is what overlay tools do, so an enum or `required` list is *replaced* by a remove action
followed by an update action; our overlay is written that way to stay portable.

Two rules are stricter than the specification, because an overlay that silently does nothing
after the docs page changed is a bug we want to hear about: a target that matches nothing is an
error, and every action needs a `description` (the reason shown by `mockserver spec diff`).

JSONPath: only the subset overlays on an OpenAPI document need is implemented: `$`, `.name`,
`['name']` (or `["name"]`), and `[*]` / `.*`. Anything else is refused with a clear message.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from mockserver.specgen.errors import OverlayError

Key = str | int
Path = tuple[Key, ...]


class _Wildcard:
    def __repr__(self) -> str:
        return "[*]"


WILDCARD = _Wildcard()
Segment = str | _Wildcard

_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]*")
_QUOTED_RE = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")
_WILDCARD_RE = re.compile(r"\[\s*\*\s*\]|\.\*")
SUPPORTED = "only $, .name, ['name'] and [*] are supported (no filters, recursive descent, indexes or slices)"


@dataclass(frozen=True)
class AppliedAction:
    number: int  # 1-based, as people count actions
    line: int | None  # where the action starts in the overlay file
    target: str
    description: str
    kind: str  # "update" | "remove"
    touched: tuple[Path, ...]  # the document paths the action created, changed or removed


def parse_jsonpath(expression: str) -> list[Segment]:
    if not expression.startswith("$"):
        raise OverlayError(f"JSONPath `{expression}` must start with `$`")
    segments: list[Segment] = []
    position = 1
    while position < len(expression):
        rest = expression[position:]
        if match := _WILDCARD_RE.match(rest):
            segments.append(WILDCARD)
        elif rest.startswith(".") and (match := _NAME_RE.match(rest, 1)):
            segments.append(match.group(0))
        elif match := _QUOTED_RE.match(rest):
            raw = match.group(1) if match.group(1) is not None else match.group(2)
            segments.append(re.sub(r"\\(.)", r"\1", raw))
        else:
            raise OverlayError(
                f"unsupported JSONPath `{expression}` at character {position + 1} (`{rest[:12]}`): {SUPPORTED}"
            )
        position += match.end()
    return segments


def select(document: Any, segments: list[Segment]) -> list[Path]:
    """Every concrete path in `document` that the segments match, in document order."""
    paths: list[Path] = [()]
    for segment in segments:
        next_paths: list[Path] = []
        for path in paths:
            node = get(document, path)
            if segment is WILDCARD:
                if isinstance(node, Mapping):
                    next_paths.extend((*path, key) for key in node)
                elif isinstance(node, list):
                    next_paths.extend((*path, index) for index in range(len(node)))
            elif isinstance(node, Mapping) and isinstance(segment, str) and segment in node:
                next_paths.append((*path, segment))
        paths = next_paths
    return paths


def get(document: Any, path: Path) -> Any:
    node = document
    for key in path:
        node = node[key]
    return node


def apply_overlay(
    document: dict[str, Any], overlay: Any, overlay_name: str, overlay_text: str = ""
) -> tuple[dict[str, Any], list[AppliedAction]]:
    """Return a changed copy of `document` and what each action touched (for `spec diff`)."""
    actions = _check_overlay(overlay, overlay_name)
    lines = _action_lines(overlay_text)
    result = copy.deepcopy(document)
    applied: list[AppliedAction] = []
    for number, action in enumerate(actions, start=1):
        line = lines[number - 1] if number - 1 < len(lines) else None
        where = f"{overlay_name}:{line}" if line else overlay_name
        label = f"{where}: action {number} (target `{action['target']}`)"
        try:
            segments = parse_jsonpath(action["target"])
        except OverlayError as exc:
            raise OverlayError(f"{label}: {exc}") from None
        paths = select(result, segments)
        if not paths:
            raise OverlayError(f"{label}: the target matches nothing in the document; was the docs page changed?")
        if action.get("remove") is True:
            touched = _remove(result, paths, label)
            kind = "remove"
        else:
            touched = tuple(t for path in paths for t in _update(result, path, action["update"], label))
            kind = "update"
        applied.append(AppliedAction(number, line, action["target"], action["description"], kind, touched))
    return result, applied


def _check_overlay(overlay: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(overlay, Mapping):
        raise OverlayError(f"{name}: an overlay document must be a mapping with `overlay`, `info` and `actions`")
    version = str(overlay.get("overlay", ""))
    if not re.fullmatch(r"1\.0\.\d+", version):
        raise OverlayError(
            f"{name}: `overlay: {version or '(missing)'}` is not supported; this tool reads Overlay 1.0.x"
        )
    info = overlay.get("info")
    if not isinstance(info, Mapping) or "title" not in info or "version" not in info:
        raise OverlayError(f"{name}: `info` with `title` and `version` is required")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise OverlayError(f"{name}: `actions` must be a non-empty list")
    for number, action in enumerate(actions, start=1):
        label = f"{name}: action {number}"
        if not isinstance(action, Mapping) or not isinstance(action.get("target"), str):
            raise OverlayError(f"{label}: every action needs a `target` string")
        if not str(action.get("description", "")).strip():
            raise OverlayError(f"{label} (target `{action['target']}`): add a one-line `description` giving the reason")
        has_update, removes = "update" in action, action.get("remove") is True
        if has_update == removes:
            raise OverlayError(f"{label} (target `{action['target']}`): give exactly one of `update` or `remove: true`")
    return list(actions)


def _action_lines(text: str) -> list[int]:
    """The 1-based line each action starts on, so errors can point into the overlay file."""
    if not text:
        return []
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "actions" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _remove(document: Any, paths: list[Path], label: str) -> tuple[Path, ...]:
    if () in paths:
        raise OverlayError(f"{label}: the document root cannot be removed")
    # Delete list items from the highest index down so earlier deletions do not shift later ones.
    for path in sorted(paths, key=lambda p: [(0, k) if isinstance(k, int) else (1, str(k)) for k in p], reverse=True):
        parent = get(document, path[:-1])
        del parent[path[-1]]
    return tuple(paths)


def _update(document: Any, path: Path, update: Any, label: str) -> list[Path]:
    node = get(document, path)
    if isinstance(node, list):
        node.append(copy.deepcopy(update))
        return [(*path, len(node) - 1)]
    if not isinstance(node, dict) or not isinstance(update, Mapping):
        raise OverlayError(
            f"{label}: an update must be an object merged into an object (or an entry appended to an array); here the "
            f"target is {_kind(node)} and the update is {_kind(update)}"
        )
    return _merge(node, update, path, label)


def _merge(target: dict[str, Any], update: Mapping[str, Any], path: Path, label: str) -> list[Path]:
    touched: list[Path] = []
    for key, value in update.items():
        here = (*path, key)
        if key not in target:
            target[key] = copy.deepcopy(value)
            touched.append(here)
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            touched.extend(_merge(target[key], value, here, label))
        elif isinstance(target[key], list) and isinstance(value, list):
            target[key].extend(copy.deepcopy(value))
            touched.append(here)
        elif not isinstance(target[key], (dict, list)) and not isinstance(value, (Mapping, list)):
            target[key] = value
            touched.append(here)
        else:
            where = "/".join(str(k) for k in here)
            raise OverlayError(
                f"{label}: cannot merge {_kind(value)} into {_kind(target[key])} at `{where}`; remove the old value "
                "first"
            )
    return touched


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"the scalar `{value!r}`"
