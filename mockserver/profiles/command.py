"""`mockserver profiles`: the dialects `serve --profile` knows, one line each on what they change."""

from __future__ import annotations

import argparse

from mockserver import profiles


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="mockserver profiles",
        description="List the real-world dialects `mockserver serve --profile NAME` can speak.",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list every deviation, option and source, and the checks conform reports",
    )
    args = p.parse_args(argv)
    width = max(map(len, profiles.NAMES))
    for name in profiles.NAMES:
        cls = profiles.profile_class(name)
        print(f"{name:<{width}}  {cls.summary}")
        if args.verbose:
            for change in cls.changes:
                print(f"{'':<{width}}    - {change}")
            for option, help_text in cls.options.items():
                print(f"{'':<{width}}    option {option}: {help_text}")
            if cls.spec:
                print(f"{'':<{width}}    contract: --spec {cls.spec}")
            print(f"{'':<{width}}    source: {cls.source}")
            for check, deviation in profiles.expected_conformance_failures(name).items():
                print(f"{'':<{width}}    conform reports {check}: {deviation}")
    if not args.verbose:
        print("\nmockserver serve --profile NAME   (mockserver profiles --verbose lists every deviation)")
    return 0
