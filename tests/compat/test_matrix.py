"""The client compatibility matrix: the Python SDK column in CI, the npm and LiteLLM columns opt-in.

Neither test rewrites docs/compat-matrix.md; both fail when what a real client does against a
profile no longer matches the committed cell. Regenerate with `python -m tests.compat.matrix`.
"""

from __future__ import annotations

import pytest

from mockserver import profiles
from tests.compat import matrix

REGENERATE_HINT = "the committed docs/compat-matrix.md is stale: regenerate it with `python -m tests.compat.matrix`"


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, str]]:
    return matrix.parse(matrix.DOC.read_text(encoding="utf-8"))


def test_the_committed_matrix_has_a_row_for_every_profile_and_says_how_it_was_made(committed: dict[str, dict[str, str]]) -> None:
    assert list(committed) == list(profiles.NAMES), REGENERATE_HINT
    text = matrix.DOC.read_text(encoding="utf-8")
    assert "GENERATED" in text and "python -m tests.compat.matrix" in text
    assert all(set(cells) == set(matrix.COLUMNS) for cells in committed.values()), "a column is missing: " + REGENERATE_HINT


@pytest.mark.parametrize("profile", profiles.NAMES)
def test_openai_python_sdk_against_each_profile(profile: str, committed: dict[str, dict[str, str]]) -> None:
    observed = matrix.run_profile(profile, [matrix.COLUMNS["python"]])["python"]
    assert observed == profiles.expected_python_sdk(profile)
    assert committed[profile]["python"] == observed, REGENERATE_HINT


@pytest.mark.slow
@pytest.mark.parametrize("column", ["npm", "litellm"])
def test_npm_and_litellm_columns_match_the_committed_matrix(column: str, committed: dict[str, dict[str, str]]) -> None:
    rows, _ = matrix.run_matrix([column])
    drift = {name: cells[column] for name, cells in rows.items() if committed[name][column] != cells[column]}
    assert not drift, f"{REGENERATE_HINT}; observed now: {drift}"
