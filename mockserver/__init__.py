"""Reference server and conformance kit for the OpenAI video-generation API format."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mockserver")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
