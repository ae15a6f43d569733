"""Deterministic YAML in and out.

Generated files are committed and drift-checked, so the same document must always dump to the
same bytes: keys stay in insertion order (the order carries meaning: the page's table order),
the line width is fixed, no anchors/aliases appear, and Chinese text stays readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mockserver.specgen.errors import SpecgenError

LINE_WIDTH = 100


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # Shared sub-objects (e.g. one error example used by many operations) must be written
        # out in full: anchors would make the files hard to read and tools disagree on them.
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump(document: Any, header: str = "") -> str:
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=LINE_WIDTH,
        default_flow_style=False,
        indent=2,
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def load_text(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecgenError(f"{where}: not valid YAML: {problem}") from None


def load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecgenError(f"{path}: cannot read: {exc.strerror}") from None
    return load_text(text, str(path))
