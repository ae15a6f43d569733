"""The files the package ships beside its code: the contracts, the control API's document, the
provider's documentation page and the media fixtures.

They live at the top of the repository (`openapi/`, `fixtures/`) and the build maps them into the
package as `mockserver.openapi` and `mockserver.fixtures` (setup.py), so a wheel, an sdist and an
editable checkout all find them the same way: through the import system, never by walking up from
a source file. Everything here is a plain directory on disk (wheels install unzipped), because
Starlette's FileResponse and the YAML loader want real paths.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


class ResourceMissingError(RuntimeError):
    """The installation does not carry a file the package needs; reinstall it."""


def _package_dir(package: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        raise ResourceMissingError(f"{package} is missing from this installation; reinstall mockserver") from exc
    if not isinstance(root, Path):
        raise ResourceMissingError(f"{package} is not a directory on disk ({root!r}); install mockserver unzipped")
    return root


def openapi_dir() -> Path:
    """`openapi/`: docs.yaml, reference.yaml, control.yaml, overlays/ and source/."""
    return _package_dir("mockserver.openapi")


def fixtures_dir() -> Path:
    """`fixtures/`: the MP4s, thumbnails and spritesheets a completed job serves, with their README."""
    return _package_dir("mockserver.fixtures")
