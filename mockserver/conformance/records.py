"""Why a job step left no record: the completed job it runs on was not there.

The steps (lineage.py, pagination.py, isolation.py) run on the completed job only, between its
listing and its delete; when that job was not made or did not complete, their checks say so.
"""

from __future__ import annotations

from mockserver.conformance.checks import Skipped, _created
from mockserver.conformance.lifecycle import LifecycleRun


def missing_record(run: LifecycleRun) -> Skipped:
    """The reason a step's record is absent: the completed job it runs on was not there."""
    job, skipped = _created(run, "completed")
    if job is None:
        return skipped or Skipped("no completed job was attempted")
    return Skipped(f"the job did not complete (last status {job.final_status()!r})")
