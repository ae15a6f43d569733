"""Conformance checking: hold any server that speaks the OpenAI video API to the contract.

    from mockserver.conformance import ConformOptions, run_conformance

    report = run_conformance(ConformOptions(base_url="http://127.0.0.1:8000/v1", api_key="sk-..."))
    report.failed_checks()     # e.g. ["delete_then_404", "id_stable"]: these fail the run
    report.deviation_checks()  # e.g. ["id_format"]: permitted by the contract, reported, do not fail it

The CLI is `mockserver conform` (command.py). Lifecycle check names are listed in `CHECKS`.

A client of the server under test, never part of it. May import: `contract`, `core` (the job phases,
key masking). Never `http`, `control` or `store`.
"""

from mockserver.conformance import dialect_checks  # noqa: F401  (registers its checks in CHECKS)
from mockserver.conformance.budget import CreateBudget, job_creating_operations
from mockserver.conformance.checks import CHECKS
from mockserver.conformance.lifecycle import LifecycleSettings
from mockserver.conformance.report import DEVIATION, ERROR, CheckResult, Finding, Report
from mockserver.conformance.runner import PHASES, ConformOptions, make_plan, run_conformance

__all__ = [
    "CHECKS",
    "DEVIATION",
    "ERROR",
    "PHASES",
    "CheckResult",
    "ConformOptions",
    "CreateBudget",
    "Finding",
    "LifecycleSettings",
    "Report",
    "job_creating_operations",
    "make_plan",
    "run_conformance",
]
