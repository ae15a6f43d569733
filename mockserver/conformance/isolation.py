"""Isolation between keys: another API key cannot see, download, remix or delete a key's job.

Given a second key (`--second-api-key`, or `$OPENAI_API_KEY_2`), the step asks for the completed
job of the first key with it: retrieve, content, the second key's list (up to LIST_PAGES pages),
remix (a request that could start a paid job, so it takes a create from `--max-creates` when one
is left over) and delete, last. Each must answer 404, as for an id that does not exist; a 2xx means
the job leaked. An answer other than 404 that the first key got from the same operation too (a
405 for a DELETE the server does not have) says nothing about isolation and is skipped. When the
second key deleted the job, the first key's own delete is not sent (delete_then_404 says why).

Neither key is ever printed: the exchanges' curl lines read `$OPENAI_API_KEY_2` for the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mockserver.conformance.checks import Failed, Passed, Skipped, Verdict, check
from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobStep, JobTrace, Lifecycle, LifecycleClient, LifecycleRun
from mockserver.conformance.lineage import RECORD as LINEAGE_RECORD
from mockserver.conformance.lineage import REMIX, REMIX_LABEL, REMIX_PROMPT, LineageTrace
from mockserver.conformance.records import missing_record

RECORD = "isolation"
SECOND_KEY_ENV = "OPENAI_API_KEY_2"
SECOND_KEY_PLACEHOLDER = f"${SECOND_KEY_ENV}"
NO_SECOND_KEY = f"no second API key (--second-api-key or ${SECOND_KEY_ENV})"
LIST_PAGES = 5
# What a leak lets the second key do, by probe.
VERBS = {"retrieve": "read", "content": "download", "remix": "remix", "delete": "delete"}


@dataclass
class IsolationTrace:
    video_id: str
    not_sent: str | None = None  # why nothing was asked with a second key
    probes: dict[str, Exchange] = field(default_factory=dict)  # "retrieve", "content", "remix", "delete"
    listing: list[Exchange] = field(default_factory=list)  # the second key's list, page by page
    remix_not_sent: str | None = None

    def exchanges(self) -> Iterator[Exchange]:
        yield from self.probes.values()
        yield from self.listing


def _list_pages(client: LifecycleClient) -> list[Exchange]:
    pages: list[Exchange] = []
    params: dict[str, str] = {}
    for number in range(1, LIST_PAGES + 1):
        page = client.send(f"second key: list page {number}", "GET /videos", "GET", "/videos", params=params or None)
        pages.append(page)
        body = page.json if isinstance(page.json, dict) else {}
        data = body.get("data") if isinstance(body.get("data"), list) else []
        last = data[-1].get("id") if data and isinstance(data[-1], dict) else None
        if not page.ok or body.get("has_more") is not True or not isinstance(last, str):
            break
        params = {"after": last}
    return pages


def isolation_step(second_key: str | None) -> JobStep:
    """The `JobStep` that asks for the completed job with `second_key` (or records that there is none)."""

    def step(lifecycle: Lifecycle, trace: JobTrace, path: str) -> None:
        assert trace.video_id is not None  # steps run on a created job
        record = IsolationTrace(trace.video_id)
        lifecycle.run.records[RECORD] = record
        if not second_key:
            record.not_sent = NO_SECOND_KEY
            return
        lifecycle.progress("lifecycle: the job asked for with the second key")
        first = lifecycle.client
        client = LifecycleClient(
            first.base_url,
            second_key,
            lifecycle.settings,
            first.extra_headers,
            retries=first.retries,
            budget=first.budget,
            key_placeholder=SECOND_KEY_PLACEHOLDER,
        )
        contract = lifecycle.contract
        try:
            record.probes["retrieve"] = client.send("second key: get", "GET /videos/{video_id}", "GET", path)
            record.probes["content"] = client.send(
                "second key: content", "GET /videos/{video_id}/content", "GET", path + "/content"
            )
            if contract.find("GET", "/videos") is not None:
                record.listing = _list_pages(client)
            if contract.find(*REMIX) is None:
                record.remix_not_sent = f"the contract has no {REMIX_LABEL}"
            elif not lifecycle.spend_optional(REMIX_LABEL):
                record.remix_not_sent = (
                    f"the remix was not sent: create budget spent (--max-creates {lifecycle.budget.limit})"
                )
            else:
                record.probes["remix"] = client.send(
                    "second key: remix",
                    REMIX_LABEL,
                    "POST",
                    path + "/remix",
                    form={"prompt": REMIX_PROMPT},
                    headers=lifecycle.create_headers(),
                    creates_job=True,
                )
            if contract.find("DELETE", "/videos/{video_id}") is not None:
                delete = record.probes["delete"] = client.send(
                    "second key: delete", "DELETE /videos/{video_id}", "DELETE", path
                )
                if delete.ok:
                    trace.removed = "the second key deleted it (see key_isolation)"
        finally:
            client.close()

    return step


def _own_answer(run: LifecycleRun, probe: str, job: JobTrace) -> Exchange | None:
    """The first key's request to the same operation, for telling a missing operation from a refusal."""
    if probe == "retrieve":
        return job.polls[-1] if job.polls else None
    if probe == "content":
        return next(iter(job.content.values()), None)
    if probe == "delete":
        return job.delete
    lineage = run.records.get(LINEAGE_RECORD)
    return lineage.create if isinstance(lineage, LineageTrace) else None


def _listed(pages: list[Exchange], video_id: str) -> Exchange | None:
    for page in pages:
        data = page.json.get("data") if isinstance(page.json, dict) else None
        if isinstance(data, list) and any(isinstance(item, dict) and item.get("id") == video_id for item in data):
            return page
    return None


@check("a second API key gets 404 for the first key's job (retrieve, content, remix, delete) and does not list it")
def key_isolation(run: LifecycleRun) -> Iterator[Verdict]:
    record = run.records.get(RECORD)
    job = run.jobs.get("completed")
    if not isinstance(record, IsolationTrace) or job is None:
        yield missing_record(run)
        return
    if record.not_sent is not None:
        yield Skipped(record.not_sent)
        return
    # The second key's own list tells a refused key from a refused job (a 401 or 403 for the job alone
    # still tells the second key that the id exists).
    refused = next((ex for ex in (record.listing or record.exchanges()) if ex.status == 401), None)
    if refused is not None:
        yield Skipped(f"the server refused the second key (HTTP 401 on {refused.operation}): give one it accepts")
        return
    not_found = f"404, as for an id that does not exist: {record.video_id!r} belongs to the first key"
    for probe, exchange in record.probes.items():
        own = _own_answer(run, probe, job)
        if exchange.status == 404:
            yield Passed()
        elif exchange.ok:
            yield Failed(
                exchange,
                not_found,
                f"{exchange.describe_response()}: the second key could {VERBS[probe]} the first key's job",
            )
        elif own is not None and own.status == exchange.status:
            yield Skipped(f"{exchange.operation} answered HTTP {exchange.status} to both keys")
        else:
            yield Failed(exchange, not_found, exchange.describe_response())
    if record.remix_not_sent is not None:
        yield Skipped(record.remix_not_sent)
    if record.listing:
        leaked = _listed(record.listing, record.video_id)
        last = record.listing[-1]
        if leaked is not None:
            yield Failed(
                leaked,
                f"the second key's list without {record.video_id!r}",
                f"{record.video_id!r} is listed for the second key",
            )
        elif all(page.ok for page in record.listing):
            yield Passed()
        elif job.listing and job.listing[0].status == last.status:
            yield Skipped(f"GET /videos answered HTTP {last.status} to both keys")
        else:
            yield Failed(last, "200 with the second key's own list", last.describe_response())
