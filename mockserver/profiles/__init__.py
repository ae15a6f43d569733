"""Real-world dialects of the video API, each a documented transform of the reference behaviour.

`mockserver serve --profile NAME` applies one; `mockserver profiles` lists them. A dialect is one
module of this package, found by its file name (`vllm_omni.py` is `--profile vllm-omni`); nothing
else registers it. The module holds:

- `PROFILE`: its Profile subclass (base.py says what each hook may change);
- `EXPECTED_CONFORMANCE_FAILURES`: check name -> the deviation that trips it, the checks
  `mockserver conform` must report against it (severity `error` and `deviation` alike);
- `EXPECTED_PYTHON_SDK`: its cell of the compatibility matrix for the official Python SDK
  (docs/compat-matrix.md), what the suite holds a real SDK run to.

May import: `core` (jobs, ids) and `contract` (the vocabulary). Never `http` or `control`: the
server calls a profile's hooks, a profile never calls the server.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from mockserver.profiles.base import Profile, ProfileError, ProfileIds, RenderContext

_NOT_DIALECTS = frozenset({"base", "command"})
# The contract as written, then the docs page as written; the gateways follow by name.
_FIRST = ("reference", "docs")


def _modules() -> dict[str, str]:
    """name -> module, in the order `mockserver profiles` lists them; no module is imported to find them."""
    found = {
        info.name.replace("_", "-"): f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if info.name not in _NOT_DIALECTS and not info.name.startswith("_")
    }
    order = [*(name for name in _FIRST if name in found), *sorted(name for name in found if name not in _FIRST)]
    return {name: found[name] for name in order}


MODULES: dict[str, str] = _modules()
NAMES: tuple[str, ...] = tuple(MODULES)


def module(name: str) -> ModuleType:
    if name not in MODULES:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(NAMES)}")
    return importlib.import_module(MODULES[name])


def profile_class(name: str) -> type[Profile]:
    cls: type[Profile] = module(name).PROFILE
    return cls


def load(name: str, options: Mapping[str, Any] | None = None) -> Profile:
    return profile_class(name)(options)


def expected_conformance_failures(name: str) -> dict[str, str]:
    """check name -> the deviation of this profile that trips it (`mockserver conform`, reference contract).

    Both severities: `report.failed_checks()` holds the `error` ones, `report.deviation_checks()` the others.
    """
    failures: dict[str, str] = module(name).EXPECTED_CONFORMANCE_FAILURES
    return failures


def expected_python_sdk(name: str) -> str:
    """What the unmodified official Python SDK does against this profile: its compatibility-matrix cell."""
    cell: str = module(name).EXPECTED_PYTHON_SDK
    return cell


__all__ = [
    "MODULES",
    "NAMES",
    "Profile",
    "ProfileError",
    "ProfileIds",
    "RenderContext",
    "expected_conformance_failures",
    "expected_python_sdk",
    "load",
    "module",
    "profile_class",
]


def options_from(file_section: Any, flags: list[str] | None) -> dict[str, str]:
    """Profile options from the config file's `profile_options:` mapping, overridden by `--profile-option K=V`."""
    if file_section is not None and not isinstance(file_section, dict):
        raise ProfileError("profile_options in the config file must be a mapping, e.g. {kling_ms_timestamps: true}")
    options = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (file_section or {}).items()}
    for flag in flags or []:
        name, sep, value = flag.partition("=")
        if not sep or not name.strip():
            raise ProfileError(f"--profile-option expects NAME=VALUE, got {flag!r}")
        options[name.strip()] = value.strip()
    return options
