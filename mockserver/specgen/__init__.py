"""From the provider's documentation page to the OpenAPI contract.

parse (page -> sections, tables, examples with line numbers) -> build (OpenAPI 3.1 dict) ->
overlay (docs -> reference) -> yamlio (deterministic YAML); diff explains docs vs reference;
command is the `mockserver spec` CLI.

May import: nothing of the server (it runs before there is a contract to serve).
"""

from mockserver.specgen.command import generate, main
from mockserver.specgen.errors import ExampleError, OverlayError, PageError, SpecgenError

__all__ = ["ExampleError", "OverlayError", "PageError", "SpecgenError", "generate", "main"]
