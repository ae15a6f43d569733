"""The errors spec generation reports to people: each says where and what, never a traceback."""

from __future__ import annotations


class SpecgenError(Exception):
    """Generation cannot go on; str(error) is the whole message for the user."""


class PageError(SpecgenError):
    """Something on the documentation page we cannot read; carries the page line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


class OverlayError(SpecgenError):
    """An overlay action that cannot be applied (bad JSONPath, no match, clashing types)."""


class ExampleError(SpecgenError):
    """An example in the generated document that its own schema rejects."""
