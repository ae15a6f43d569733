"""`reference`: the contract as written. The identity transform, and the baseline of the matrix."""

from __future__ import annotations

from mockserver.profiles.base import Profile


class Reference(Profile):
    pass


PROFILE = Reference

# `mockserver conform` against this profile must find nothing, of any severity.
EXPECTED_CONFORMANCE_FAILURES: dict[str, str] = {}

# The official Python SDK (create_and_poll, then download_content) against this profile: its cell in
# docs/compat-matrix.md, which the suite checks with a real SDK run.
EXPECTED_PYTHON_SDK = "works"
