"""`mockserver conform` against every profile: the reference profile is clean, and each dialect trips
exactly the named checks its module declares (EXPECTED_CONFORMANCE_FAILURES), no more, no fewer,
each with its severity: `error` checks fail the run, `deviation` checks are only reported.

This is the checker's own test as much as the profiles': a check that stops catching a known
deviation, or starts flagging something a dialect does not do, fails here by name.
The deterministic phases run (lifecycle, schemathesis examples and coverage); fuzzing and
stateful generation would add noise without naming anything new.
"""

from __future__ import annotations

import pytest

from mockserver import profiles
from mockserver.conformance import CHECKS, DEVIATION, ConformOptions, LifecycleSettings, Report, run_conformance
from tests.processes import serve

KEY = "sk-conform-profiles-4242"
SECOND_KEY = "sk-conform-profiles-other-7777"  # the isolation checks run against every profile
PHASES = ("lifecycle", "examples", "coverage")


def conform(*serve_args: str, phases: tuple[str, ...] = PHASES, model: str | None = None) -> Report:
    with serve(*serve_args, "--speed", "0", "--seed", "11", "--log-level", "warning") as server:
        report = run_conformance(
            ConformOptions(
                base_url=server.base_url, api_key=KEY, second_api_key=SECOND_KEY, spec="reference", phases=phases,
                max_creates=50, max_examples=5, seed=7,
                # short jobs that still pass through every phase
                lifecycle=LifecycleSettings(mock_duration=0.6, model=model),
            )
        )
    assert not report.errors, report.errors
    return report


def is_deviation(check: str) -> bool:
    return check in CHECKS and CHECKS[check].severity == DEVIATION


def assert_flags_exactly(name: str, report: Report, expected: dict[str, str]) -> None:
    flagged = set(report.failed_checks()) | set(report.deviation_checks())
    unexplained = {check: [f.actual[:200] for f in report.findings(check)][:3] for check in flagged - set(expected)}
    missed = {check: expected[check] for check in set(expected) - flagged}
    assert not unexplained, f"{name}: conform flags checks the profile does not declare: {unexplained}"
    assert not missed, f"{name}: declared deviations no check caught: {missed}"
    # Each is reported under its own severity: deviations never as failures, and the other way round.
    assert set(report.deviation_checks()) == {check for check in expected if is_deviation(check)}, name
    assert report.passed == all(is_deviation(check) for check in expected), name


@pytest.mark.parametrize("name", profiles.NAMES)
def test_conform_reports_exactly_the_deviations_each_profile_declares(name: str) -> None:
    report = conform("--profile", name)
    assert_flags_exactly(name, report, profiles.expected_conformance_failures(name))


def test_newapis_kling_millisecond_option_trips_the_timestamp_checks_too() -> None:
    module = profiles.module("newapi")
    expected = {**module.EXPECTED_CONFORMANCE_FAILURES, **module.OPTION_CONFORMANCE_FAILURES["kling_ms_timestamps"]}
    lifecycle_only = {check: why for check, why in expected.items() if check in CHECKS}
    report = conform("--profile", "newapi", "--profile-option", "kling_ms_timestamps=true", phases=("lifecycle",), model="kling-v1")
    assert_flags_exactly("newapi kling_ms_timestamps", report, lifecycle_only)
    finding = report.findings("timestamps_in_seconds")[0]
    assert "milliseconds" in finding.actual and "created_at" in finding.actual


def test_the_reference_profile_declares_nothing_and_every_dialect_declares_a_reason_per_check() -> None:
    assert profiles.expected_conformance_failures("reference") == {}
    for name in profiles.NAMES[1:]:
        expected = profiles.expected_conformance_failures(name)
        assert expected and all(reason.strip() for reason in expected.values()), name
