"""Reference server and conformance kit for the OpenAI video-generation API format."""

# pyproject.toml reads the package version from here (setuptools' dynamic version).
__version__ = "0.1.0"

__all__ = ["__version__"]
