"""`mockserver conform`: check a server (this fake or a real provider) against the contract."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mockserver.conformance.report import REPORT_FORMATS, Redactor, render_text, write_reports
from mockserver.contract.loading import ContractError
from mockserver.core.keys import is_credential_header

try:
    from mockserver.conformance.lifecycle import LifecycleSettings
    from mockserver.conformance.retries import RetryPolicy
    from mockserver.conformance.runner import PHASES, ConformOptions, make_plan, run_conformance

    MISSING: str | None = None
except ImportError as exc:  # the `conform` extra is not installed
    MISSING = str(exc)
    PHASES = ("lifecycle", "examples", "coverage", "fuzzing", "stateful")

KEY_ENV = "OPENAI_API_KEY"
SECOND_KEY_ENV = "OPENAI_API_KEY_2"  # isolation.py's curl lines read it under this name


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockserver conform",
        description=(
            "Check a server that speaks the OpenAI video API (this fake, a gateway, a provider) against the contract: "
            "lifecycle checks over real jobs, then schemathesis (examples, coverage, fuzzing, stateful). "
            "Every request that could start a paid job counts against --max-creates. Deviations (what the contract "
            "permits but the official API does not do, e.g. ids of another shape, extra fields) are reported without "
            "failing the run. "
            "429/503 answers are retried after the wait the server asks for, within --max-attempts and --retry-budget, "
            "and never counted as failures. "
            "Exit code 0 when no check failed (and, with --strict, nothing deviated)."
        ),
    )
    p.add_argument("--base-url", required=True, help="the base URL you give the SDK, e.g. http://127.0.0.1:8000/v1")
    p.add_argument(
        "--api-key", default=None, help=f"API key to send (default: ${KEY_ENV}); it never appears in output or reports"
    )
    p.add_argument(
        "--second-api-key",
        default=None,
        help=f"another key of the same server (default: ${SECOND_KEY_ENV}): the first key's job must be 404 for it; "
        "without one the isolation check is skipped. Never printed either",
    )
    p.add_argument(
        "--spec",
        default="reference",
        help="contract: reference, docs, or a path to an OpenAPI file (default: reference)",
    )
    p.add_argument(
        "--max-creates",
        type=int,
        default=3,
        help="most job-creating requests (paid jobs) in the whole run, fuzzed ones included (default: 3)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan (operations, phases, creates) and send nothing"
    )
    p.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated phases to run (default: {','.join(PHASES)})"
    )
    p.add_argument(
        "--max-examples", type=int, default=10, help="schemathesis examples per operation and phase (default: 10)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed for schemathesis' data generation (reproducible runs)")
    p.add_argument("--report", default="", help=f"comma-separated report files to write: {','.join(REPORT_FORMATS)}")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("conform-reports"),
        help="where --report files go (default: ./conform-reports)",
    )
    p.add_argument(
        "--deadline", type=float, default=600.0, help="seconds a job may take to reach completed/failed (default: 600)"
    )
    p.add_argument("--max-polls", type=int, default=200, help="most status polls per job (default: 200)")
    p.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="fixed seconds between polls (default: the server's openai-poll-after-ms hint, else a backoff)",
    )
    p.add_argument("--max-poll-interval", type=float, default=10.0, help="longest wait between polls (default: 10)")
    p.add_argument(
        "--mock-duration",
        type=float,
        default=2.0,
        help="X-Mock-Duration sent on creates: seconds a job takes on the fake; real servers ignore it (default: 2; "
        "negative to not send it)",
    )
    p.add_argument(
        "--no-failed-job",
        action="store_true",
        help="do not try to produce a failed job (saves one create on a real provider)",
    )
    p.add_argument("--model", default=None, help="model for the lifecycle jobs (default: the contract's default)")
    p.add_argument("--request-timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    p.add_argument(
        "--max-attempts",
        type=int,
        default=4,
        help="tries of one request answered 429/503, the first included (default: 4; 1: no retries)",
    )
    p.add_argument(
        "--retry-budget",
        type=float,
        default=120.0,
        help="seconds of waiting for 429/503 retries in the whole run (default: 120)",
    )
    p.add_argument(
        "--exclude-checks", default="", help="comma-separated check names not to run (lifecycle or schemathesis names)"
    )
    p.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="extra header on every request (repeatable)"
    )
    p.add_argument(
        "--strict", action="store_true", help="deviations fail the run too (exit code 1), not only failed checks"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        import schemathesis  # noqa: F401
    except ImportError as exc:
        MISSING_NOW: str | None = str(exc)
    else:
        MISSING_NOW = MISSING
    if MISSING_NOW:
        print(
            f"mockserver conform needs schemathesis ({MISSING_NOW}): pip install 'mockserver[conform]'", file=sys.stderr
        )
        return 2
    api_key = args.api_key or os.environ.get(KEY_ENV, "")
    second_key = args.second_api_key or os.environ.get(SECOND_KEY_ENV) or None
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            p.error(f"--header {item!r}: use NAME:VALUE")
        headers[name.strip()] = value.strip()
    formats = _csv(args.report)
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        p.error(f"--report {','.join(unknown)}: choose from {','.join(REPORT_FORMATS)}")
    settings = LifecycleSettings(
        deadline=args.deadline,
        max_polls=args.max_polls,
        poll_interval=args.poll_interval,
        max_poll_interval=args.max_poll_interval,
        mock_duration=args.mock_duration if args.mock_duration >= 0 else None,
        model=args.model,
        failed_job=not args.no_failed_job,
    )
    try:
        options = ConformOptions(
            base_url=args.base_url,
            api_key=api_key,
            second_api_key=second_key,
            spec=args.spec,
            max_creates=args.max_creates,
            phases=tuple(_csv(args.phases)),
            max_examples=args.max_examples,
            seed=args.seed,
            request_timeout=args.request_timeout,
            headers=headers,
            exclude_checks=tuple(_csv(args.exclude_checks)),
            lifecycle=settings,
            retry=RetryPolicy(max_attempts=args.max_attempts, budget_seconds=args.retry_budget),
        )
    except ValueError as exc:
        p.error(str(exc))
    if second_key is not None and second_key == api_key:
        p.error("--second-api-key is the same key as --api-key: isolation needs another key of the same server")
    credentials = [value for name, value in headers.items() if is_credential_header(name)]
    redact = Redactor(api_key, [*credentials, *([second_key] if second_key else [])])
    try:
        plan = make_plan(options)
    except ContractError as exc:
        print(f"mockserver conform: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(redact(plan.render(options.base_url)))
        print("\nNothing was sent (--dry-run).")
        return 0
    if not api_key:
        p.error(f"no API key: pass --api-key or set ${KEY_ENV}")

    def progress(line: str) -> None:
        if not args.quiet:
            print(redact(line), file=sys.stderr, flush=True)

    report = run_conformance(options, progress=progress)
    print(render_text(report, redact))
    if formats:
        for path in write_reports(report, formats, args.report_dir, redact):
            print(f"report: {path}")
    if args.strict and report.deviation_checks():
        print(f"--strict: deviations fail the run ({', '.join(report.deviation_checks())})")
        return 1
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
