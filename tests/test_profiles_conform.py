"""`mockserver conform` against every profile: the reference profile passes, and each dialect trips
exactly the named checks its module declares (EXPECTED_CONFORMANCE_FAILURES), no more, no fewer.

This is the checker's own test as much as the profiles': a check that stops catching a known
deviation, or starts flagging something a dialect does not do, fails here by name.
The deterministic phases run (lifecycle, schemathesis examples and coverage); fuzzing and
stateful generation would add noise without naming anything new.
"""

from __future__ import annotations

import pytest

from mockserver import profiles
from mockserver.conformance import ConformOptions, LifecycleSettings, run_conformance
from tests.processes import serve

KEY = "sk-conform-profiles-4242"
PHASES = ("lifecycle", "examples", "coverage")


@pytest.mark.parametrize("name", profiles.NAMES)
def test_conform_reports_exactly_the_deviations_each_profile_declares(name: str) -> None:
    with serve("--profile", name, "--speed", "0", "--seed", "11", "--log-level", "warning") as server:
        report = run_conformance(
            ConformOptions(
                base_url=server.base_url, api_key=KEY, spec="reference", phases=PHASES,
                max_creates=50, max_examples=5, seed=7,
                lifecycle=LifecycleSettings(mock_duration=0.6),  # short jobs that still pass through every phase
            )
        )
    assert not report.errors, report.errors
    expected = profiles.expected_conformance_failures(name)
    failed = set(report.failed_checks())
    unexplained = {check: [f.actual[:200] for f in report.findings(check)][:3] for check in failed - set(expected)}
    missed = {check: expected[check] for check in set(expected) - failed}
    assert not unexplained, f"{name}: conform flags checks the profile does not declare: {unexplained}"
    assert not missed, f"{name}: declared deviations no check caught: {missed}"


def test_the_reference_profile_is_clean_and_every_dialect_trips_something_or_says_why_not() -> None:
    assert profiles.expected_conformance_failures("reference") == {}
    for name in profiles.NAMES[1:]:
        module = profiles.module(name)
        assert module.EXPECTED_CONFORMANCE_FAILURES or module.PERMITTED_DEVIATIONS, name
