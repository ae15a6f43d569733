"""Real-world dialects of the video API, each a documented transform of the reference behaviour.

`mockserver serve --profile NAME` applies one; `mockserver profiles` lists them. Each module holds
one dialect and the conformance checks its deviations must trip (EXPECTED_CONFORMANCE_FAILURES:
check name -> the deviation that trips it, checks of severity `error` and `deviation` alike).

May import: `core` (jobs, ids) and `contract` (the vocabulary). Never `http` or `control`: the
server calls a profile's hooks, a profile never calls the server.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from mockserver.profiles.base import Profile, ProfileError, ProfileIds, RenderContext

# name -> module, in the order `mockserver profiles` lists them.
MODULES: dict[str, str] = {
    "reference": "mockserver.profiles.reference",  # the contract as written
    "docs": "mockserver.profiles.docs",  # the docs page: processing, top-level url, quality
    "newapi": "mockserver.profiles.newapi",  # new-api's code: task_ ids, metadata.url, 400 task_not_exist, no list/delete
    "omnimaas": "mockserver.profiles.omnimaas",  # processing/succeeded, integer seconds
    "aihubmix": "mockserver.profiles.aihubmix",  # base64-JSON ids, duration/width/height
    "vllm-omni": "mockserver.profiles.vllm_omni",  # video_gen_ ids, inference extras
}
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


__all__ = [
    "MODULES",
    "NAMES",
    "Profile",
    "ProfileError",
    "ProfileIds",
    "RenderContext",
    "expected_conformance_failures",
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
