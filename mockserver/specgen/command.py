"""`mockserver spec generate | diff`: build the contract files and explain how they differ."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from mockserver.resources import openapi_dir
from mockserver.specgen import diff as diff_module
from mockserver.specgen.build import build_document
from mockserver.specgen.errors import SpecgenError
from mockserver.specgen.examples import check_examples
from mockserver.specgen.overlay import AppliedAction, apply_overlay
from mockserver.specgen.parse import parse_page
from mockserver.specgen.yamlio import dump, load_text

DEFAULT_OUT_DIR = openapi_dir()
DEFAULT_SOURCE = DEFAULT_OUT_DIR / "source" / "openai-video-format.zh.md"
DEFAULT_OVERLAY = DEFAULT_OUT_DIR / "overlays" / "reference.overlay.yaml"
DOCS_FILE = "docs.yaml"
REFERENCE_FILE = "reference.yaml"


@dataclass(frozen=True)
class Generated:
    docs_text: str
    reference_text: str
    applied: list[AppliedAction]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args, sys.stdout))
    except SpecgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver spec",
        description=(
            "The contract: openapi/docs.yaml is generated from the provider's documentation page "
            "(openapi/source/), openapi/reference.yaml is docs.yaml with the hand-written overlay "
            "(openapi/overlays/reference.overlay.yaml) applied, matching the official OpenAI Videos API."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{generate,diff}")

    generate = commands.add_parser(
        "generate",
        help="write openapi/docs.yaml and openapi/reference.yaml from the page and the overlay",
        description=(
            "Read the documentation page, build docs.yaml (OpenAPI 3.1, every example checked against its "
            "schema), apply the overlay to get reference.yaml, and write both. Same input, same bytes."
        ),
    )
    generate.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name each file that differs from what would be generated (for CI)",
    )
    _add_input_options(generate)
    generate.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help=f"where docs.yaml and reference.yaml go (default: {_display(DEFAULT_OUT_DIR)})",
    )
    generate.set_defaults(run=_run_generate)

    diff = commands.add_parser(
        "diff",
        help="explain in plain words how the docs page differs from the official API",
        description=(
            "Compare docs.yaml with reference.yaml and print every difference, grouped by endpoint, "
            "with the overlay's reason where an overlay action made the change."
        ),
    )
    diff.add_argument(
        "--docs",
        type=Path,
        default=DEFAULT_OUT_DIR / DOCS_FILE,
        metavar="FILE",
        help=f"the docs spec (default: {_display(DEFAULT_OUT_DIR / DOCS_FILE)})",
    )
    diff.add_argument(
        "--reference",
        type=Path,
        default=DEFAULT_OUT_DIR / REFERENCE_FILE,
        metavar="FILE",
        help=f"the reference spec (default: {_display(DEFAULT_OUT_DIR / REFERENCE_FILE)})",
    )
    diff.add_argument(
        "--overlay",
        type=Path,
        default=DEFAULT_OVERLAY,
        metavar="FILE",
        help=f"the overlay whose action descriptions explain the changes (default: {_display(DEFAULT_OVERLAY)})",
    )
    diff.set_defaults(run=_run_diff)
    return parser


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        metavar="PAGE",
        help=f"the provider's documentation page (default: {_display(DEFAULT_SOURCE)})",
    )
    parser.add_argument(
        "--overlay",
        type=Path,
        default=DEFAULT_OVERLAY,
        metavar="FILE",
        help=f"the Overlay 1.0 document that turns docs into reference (default: {_display(DEFAULT_OVERLAY)})",
    )


# -- generate ---------------------------------------------------------------------------------


def generate(source: Path, overlay_path: Path) -> Generated:
    """Build both files in memory; raise SpecgenError (with a page or overlay line) on any problem."""
    source_name = _display(source)
    source_text = _read(source)
    page = parse_page(source_text, source_name)
    docs = build_document(page, source_name, source_text)
    check_examples(docs, DOCS_FILE, page_name=source_name)
    docs_text = dump(docs, _header(source_name))

    overlay_name = _display(overlay_path)
    overlay_text = _read(overlay_path)
    overlay = load_text(overlay_text, overlay_name)
    # The overlay is applied to what docs.yaml says (re-read), so reference.yaml is exactly
    # "docs.yaml + overlay" for anyone who repeats it with another overlay tool.
    reference, applied = apply_overlay(yaml.safe_load(docs_text), overlay, overlay_name, overlay_text)
    check_examples(reference, REFERENCE_FILE)
    reference_text = dump(reference, _header(source_name, overlay_name))
    return Generated(docs_text, reference_text, applied)


def _run_generate(args: argparse.Namespace, out: TextIO) -> int:
    result = generate(args.source, args.overlay)
    targets = {args.out_dir / DOCS_FILE: result.docs_text, args.out_dir / REFERENCE_FILE: result.reference_text}
    if args.check:
        drifted = [
            path for path, text in targets.items() if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        for path in drifted:
            state = "is missing" if not path.exists() else "differs from what the page and overlay generate"
            print(f"{_display(path)} {state}; run `mockserver spec generate` and commit the result", file=sys.stderr)
        if not drifted:
            print("openapi specs are up to date", file=out)
        return 1 if drifted else 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {_display(path)}", file=out)
    return 0


def _header(source_name: str, overlay_name: str | None = None) -> str:
    made_from = f"{source_name} with the overlay {overlay_name} applied" if overlay_name else source_name
    change = "the page or the overlay" if overlay_name else "the page"
    return (
        f"Generated by `mockserver spec generate` from {made_from}.\n"
        f"Do not edit: change {change} and run `mockserver spec generate` again."
    )


# -- diff -------------------------------------------------------------------------------------


def _run_diff(args: argparse.Namespace, out: TextIO) -> int:
    docs = load_text(_read(args.docs), _display(args.docs))
    reference = load_text(_read(args.reference), _display(args.reference))
    applied: list[AppliedAction] = []
    if args.overlay.exists():
        overlay_text = _read(args.overlay)
        overlay_name = _display(args.overlay)
        replayed, applied = apply_overlay(docs, load_text(overlay_text, overlay_name), overlay_name, overlay_text)
        if replayed != reference:
            print(
                f"note: {_display(args.reference)} is not {_display(args.docs)} + {overlay_name}; run `mockserver "
                "spec generate`.\n",
                file=out,
            )
    report = diff_module.describe(
        docs, reference, applied, docs_name=_display(args.docs), reference_name=_display(args.reference)
    )
    out.write(report)
    return 0


# -- helpers ----------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecgenError(f"{_display(path)}: cannot read: {exc.strerror}") from None


def _display(path: Path) -> str:
    """Paths among the packaged contracts are shown (and written into headers) as `openapi/...`,
    wherever the package is installed."""
    try:
        return path.resolve().relative_to(DEFAULT_OUT_DIR.resolve().parent).as_posix()
    except ValueError:
        return str(path)
