"""Lineage: a job made from another video names that video in the field the contract declares.

The step remixes the completed job (one create, taken from `--max-creates` but never the one the
failed job still needs) and fetches the new job once; the check compares the field on both
answers with the source's id. The field is the one the contract's remix operation names in its
description (`remixed_from_video_id` in the reference contract, as in the official API, whose
Video declares it "if this video is a remix"). Edits and extensions are not remixed: neither the
official API nor the reference contract declares a field naming their source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from mockserver.conformance.checks import Failed, Passed, Skipped, Verdict, _video_schema, check
from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobTrace, Lifecycle, LifecycleRun
from mockserver.conformance.records import missing_record
from mockserver.contract.loading import Contract

RECORD = "lineage"
REMIX = ("POST", "/videos/{video_id}/remix")
REMIX_LABEL = "POST /videos/{video_id}/remix"
REMIX_PROMPT = "The same scene at night, lit by stage lights"


@dataclass
class LineageTrace:
    source_id: str
    field: str | None  # the Video field that names the source; None: the contract declares none
    not_sent: str | None = None  # why no remix was made
    create: Exchange | None = None
    retrieve: Exchange | None = None

    def exchanges(self) -> Iterator[Exchange]:
        yield from (ex for ex in (self.create, self.retrieve) if ex is not None)


def lineage_field(contract: Contract) -> str | None:
    """The Video field the contract's remix operation says names its source, if it says one."""
    operation = contract.document["paths"].get(REMIX[1], {}).get("post")
    if not isinstance(operation, dict):
        return None
    words = set(re.findall(r"\w+", f"{operation.get('summary', '')} {operation.get('description', '')}"))
    fields = contract.deep_resolve(_video_schema(contract)).get("properties", {})
    return next((name for name in fields if name.endswith("_id") and name in words), None)


def remix_step(lifecycle: Lifecycle, trace: JobTrace, path: str) -> None:
    """Remix the completed job and fetch the remix once (a `JobStep`)."""
    assert trace.video_id is not None  # steps run on a created job
    record = LineageTrace(trace.video_id, lineage_field(lifecycle.contract))
    lifecycle.run.records[RECORD] = record
    if lifecycle.contract.find(*REMIX) is None:
        record.not_sent = f"the contract has no {REMIX_LABEL}"
    elif record.field is None:
        record.not_sent = f"the contract's {REMIX_LABEL} names no Video field that holds its source"
    elif not lifecycle.spend_optional(REMIX_LABEL):
        record.not_sent = f"create budget spent (--max-creates {lifecycle.budget.limit}): no remix was made"
    if record.not_sent is not None:
        lifecycle.progress(f"lifecycle: lineage not checked: {record.not_sent}")
        return
    client = lifecycle.client
    record.create = client.send(
        "remix",
        REMIX_LABEL,
        "POST",
        path + "/remix",
        form={"prompt": REMIX_PROMPT},
        headers=lifecycle.create_headers(),
        creates_job=True,
    )
    body = record.create.json
    if record.create.ok and isinstance(body, dict) and isinstance(body.get("id"), str):
        record.retrieve = client.send(
            "get the remix", "GET /videos/{video_id}", "GET", f"/videos/{quote(body['id'], safe='')}"
        )
    lifecycle.progress(f"lifecycle: remix of {trace.video_id}: {record.create.describe_response()[:120]}")


@check("a remix names its source video in the field the contract declares (remixed_from_video_id)")
def remix_lineage(run: LifecycleRun) -> Iterator[Verdict]:
    record = run.records.get(RECORD)
    if not isinstance(record, LineageTrace):
        yield missing_record(run)
        return
    if record.not_sent is not None or record.create is None:
        yield Skipped(record.not_sent or "no remix was made")
        return
    for exchange in (record.create, record.retrieve):
        if exchange is None:
            continue
        if not exchange.ok or not isinstance(exchange.json, dict):
            yield Failed(exchange, "200 with the remix job", exchange.describe_response())
            continue
        named = exchange.json.get(record.field or "")
        if named == record.source_id:
            yield Passed()
        else:
            yield Failed(
                exchange, f"{record.field} {record.source_id!r} (the remixed video)", f"{record.field} {named!r}"
            )
