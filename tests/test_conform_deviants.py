"""`conform` against deliberately non-conforming servers fails on the right, named check.

Each deviant (tests/deviants.py) is the real fake with one thing changed, served by uvicorn. The
lifecycle phase alone catches these, so most runs skip schemathesis to stay fast.
"""

from __future__ import annotations

import pytest

from mockserver.conformance import ConformOptions, LifecycleSettings, Report, run_conformance
from tests.deviants import serve_deviant

KEY = "sk-deviant-check-0123456789"
SECOND_KEY = "sk-deviant-other-tenant-5555"  # every run checks isolation between the two keys


def check(
    deviant: str, phases: tuple[str, ...] = ("lifecycle",), failed_job: bool = False, **options: object
) -> Report:
    # Short jobs polled often, so that a deviation in the running phase is seen several times.
    fast = LifecycleSettings(poll_interval=0.2, mock_duration=1.2, deadline=30, max_polls=60, failed_job=failed_job)
    with serve_deviant(deviant) as server:
        return run_conformance(
            ConformOptions(
                base_url=server.base_url, api_key=KEY, second_api_key=SECOND_KEY,
                phases=phases, lifecycle=fast, **options,
            )
        )


# Deviants that break exactly one rule, so exactly one check may fail on them (the MP4 deviant's JSON
# is right and only its file is not; the looping list still has page ids that match its pages).
ONE_CHECK_ONLY = (
    "shared_upstream", "pagination_loops", "oldest_first", "has_more_forever", "page_ids_null", "lineage_lost",
    "prompt_rewritten", "mp4_not_the_job",
)


@pytest.mark.parametrize(
    ("deviant", "check_name", "words"),
    [
        ("status_word", "status_vocabulary", "'processing'"),
        ("missing_field", "required_fields", "missing model"),
        ("seconds_int", "seconds_is_string", "seconds 4 (int)"),
        ("progress_backwards", "progress_monotonic", "progress"),
        ("completed_regresses", "terminal_is_final", "'completed' then 'in_progress'"),
        ("content_type", "content_media_type", "application/octet-stream"),
        ("content_early", "content_before_completion", "HTTP 200 video/mp4"),
        ("bare_errors", "error_envelope", 'not an {"error": {...}} object'),
        ("no_auth", "auth_required", "HTTP 200"),
        ("content_while_running", "content_matches_status", "HTTP 200 video/mp4"),
        ("pending_with_error", "status_fields", "status 'in_progress' with error {'code': 'internal_error'"),
        ("progress_full_early", "progress_matches_status", "progress 100"),
        ("seconds_not_asked", "job_matches_request", "seconds '12'"),
        ("list_disagrees", "list_matches_retrieve", "the list entry has expires_at"),
        ("shared_upstream", "key_isolation", "the second key could read the first key's job"),
        ("pagination_loops", "list_pagination", "auto-pagination would never end"),
        ("oldest_first", "list_default_order", "listed before"),
        ("has_more_forever", "list_pagination", "has_more true, and the next page is empty"),
        ("page_ids_null", "list_page_ids", "first_id None, last_id None"),
        ("lineage_lost", "remix_lineage", "remixed_from_video_id None"),
        ("prompt_rewritten", "prompt_matches_request", "prompt 'Cinematic, 4k, award-winning: A calico cat"),
        ("mp4_not_the_job", "video_matches_job", "1280x720 frames in the MP4's header"),
    ],
)
def test_each_deviation_fails_its_named_check_with_a_useful_message(deviant: str, check_name: str, words: str) -> None:
    report = check(deviant)
    assert check_name in report.failed_checks(), report.failed_checks()
    assert not report.passed
    finding = report.findings(check_name)[0]
    assert words in finding.actual
    assert finding.expected and finding.operation.startswith(("GET ", "POST ", "DELETE "))
    assert finding.curl.startswith("curl ") and finding.operation.split(" ")[0] in ("GET", "POST", "DELETE")
    assert KEY not in finding.curl and SECOND_KEY not in finding.curl
    # The checks that have nothing to do with this deviation still pass.
    assert "create_accepted" not in report.failed_checks()
    if deviant in ONE_CHECK_ONLY:
        assert report.failed_checks() == [check_name]


def test_content_served_once_the_job_runs_is_caught_by_the_content_asked_for_at_each_pending_poll() -> None:
    # The content request right after the create is refused (the job is queued then), so the check of that one
    # request passes; the answers at the later polls are judged against the statuses around them.
    report = check("content_while_running")
    assert report.checks["content_before_completion"].status == "pass"
    assert report.failed_checks() == ["content_matches_status"]
    finding = report.findings("content_matches_status")[0]
    assert finding.step.startswith("content at poll ")
    assert "'in_progress' at poll" in finding.expected and "so there is no content yet" in finding.expected
    assert finding.curl.endswith('/content -H "Authorization: Bearer $OPENAI_API_KEY"')


def test_a_server_that_cannot_fail_a_job_gets_skipped_failed_job_checks_never_passed() -> None:
    report = check("no_failures", failed_job=True)
    for name in ("failed_job_error", "failed_job_no_content"):
        result = report.checks[name]
        assert result.status == "skipped" and result.passed == 0
        assert any("could not produce a failed job" in reason for reason in result.skip_reasons)
    assert report.passed  # a skip is not a failure


def test_schemathesis_flags_the_bare_error_bodies_too() -> None:
    report = check("bare_errors", phases=("lifecycle", "examples"), max_examples=3, max_creates=4, seed=1)
    assert "error_envelope" in report.failed_checks()
    schemathesis_failures = [name for name in report.failed_checks() if report.checks[name].source == "schemathesis"]
    assert schemathesis_failures, report.failed_checks()


def test_a_gateway_that_shares_one_upstream_key_leaks_every_job_to_every_key() -> None:
    report = check("shared_upstream")
    actual = {f.operation: f.actual for f in report.findings("key_isolation")}
    assert set(actual) == {
        "GET /videos/{video_id}", "GET /videos/{video_id}/content", "POST /videos/{video_id}/remix",
        "DELETE /videos/{video_id}", "GET /videos",
    }, actual
    assert "could delete the first key's job" in actual["DELETE /videos/{video_id}"]
    assert "is listed for the second key" in actual["GET /videos"]
    # Reproducing a second-key request reads that key from its own variable; neither key is written out.
    curls = [f.curl for f in report.findings("key_isolation")]
    assert all('"Authorization: Bearer $OPENAI_API_KEY_2"' in curl for curl in curls), curls
    # The second key deleted the job: the first key's delete is not sent, and its check says why.
    delete = report.checks["delete_then_404"]
    assert delete.status == "skipped" and "the second key deleted it" in delete.skip_reasons[0]
    # Its remix counted against the budget like any job-creating request.
    assert report.creates_sent == 3

