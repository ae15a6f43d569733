"""Pagination and the list's default order, over the jobs the run already has (no extra creates).

The step walks `GET /videos?limit=1` in the default order, asking for each next page with
`after=<last_id>` as the SDKs' auto-pagination does (`data[-1].id` when `last_id` is missing), until
`has_more` is false, a page is empty, an id comes back (the loop an SDK would never leave), or
MAX_PAGES pages. By the time it runs the key has the completed job and, when the budget allowed,
its remix, plus whatever the key made before the run.

The contract's default order is its `order` parameter's default (`desc`: newest first, "by
timestamp", read as `created_at`). `created_at` is in whole seconds, so jobs created in the same
second tie; ties may come in either order, and a list whose jobs all tie cannot show its order
(the check is then skipped, saying so).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mockserver.conformance.checks import Failed, Passed, Skipped, Verdict, check
from mockserver.conformance.exchange import Exchange
from mockserver.conformance.lifecycle import JobTrace, Lifecycle, LifecycleRun
from mockserver.conformance.records import missing_record
from mockserver.contract.loading import Contract

RECORD = "pagination"
MAX_PAGES = 10  # a bound on the walk; a key with more jobs than this is judged on the first ones
PAGE_LIMIT = 1
TIMESTAMP = "created_at"


@dataclass
class PagesTrace:
    pages: list[Exchange] = field(default_factory=list)  # in the order they were asked for

    def exchanges(self) -> Iterator[Exchange]:
        yield from self.pages


def _items(page: Exchange) -> list[Any]:
    data = page.json.get("data") if isinstance(page.json, dict) else None
    return data if isinstance(data, list) else []


def _ids(page: Exchange) -> list[str]:
    """The page's video ids (an id that is not a string is video_schema's to judge)."""
    return [item["id"] for item in _items(page) if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _cursor(page: Exchange) -> str | None:
    body = page.json if isinstance(page.json, dict) else {}
    last = body.get("last_id")
    if isinstance(last, str) and last:
        return last
    ids = _ids(page)
    return ids[-1] if ids else None


def _pages_on(contract: Contract) -> bool:
    op = contract.find("GET", "/videos")
    return op is not None and op.query is not None and {"after", "limit"} <= set(op.query.properties)


def pages_step(lifecycle: Lifecycle, trace: JobTrace, path: str) -> None:
    """Walk the list one job per page (a `JobStep`)."""
    record = PagesTrace()
    lifecycle.run.records[RECORD] = record
    if not _pages_on(lifecycle.contract):
        return
    seen: set[str] = set()
    params = {"limit": str(PAGE_LIMIT)}
    for number in range(1, MAX_PAGES + 1):
        page = lifecycle.client.send(
            f"list page {number} (limit={PAGE_LIMIT})", "GET /videos", "GET", "/videos", params=params
        )
        record.pages.append(page)
        ids = _ids(page)
        body = page.json if isinstance(page.json, dict) else {}
        cursor = _cursor(page)
        if not page.ok or not ids or body.get("has_more") is not True or cursor is None or seen & set(ids):
            break
        seen.update(ids)
        params = {"limit": str(PAGE_LIMIT), "after": cursor}
    lifecycle.progress(f"lifecycle: walked {len(record.pages)} list page(s) of {PAGE_LIMIT}")


def _walk(run: LifecycleRun) -> tuple[list[Exchange], Skipped | None]:
    record = run.records.get(RECORD)
    if not _pages_on(run.contract):
        return [], Skipped("the contract has no GET /videos with `after` and `limit`")
    if not isinstance(record, PagesTrace):
        return [], missing_record(run)
    if not record.pages or not record.pages[0].ok:
        first = record.pages[0].describe_response() if record.pages else "no request"
        return [], Skipped(f"the list answered {first} (listed_after_create judges it)")
    return record.pages, None


@check("`after` pages forward: limit=1 pages repeat no id, and the last one says has_more false")
def list_pagination(run: LifecycleRun) -> Iterator[Verdict]:
    pages, skipped = _walk(run)
    if skipped is not None:
        yield skipped
        return
    first_seen: dict[str, int] = {}
    for number, page in enumerate(pages, start=1):
        if not page.ok:
            yield Failed(page, "200 with the next page", page.describe_response())
            return
        ids = _ids(page)
        if len(_items(page)) > PAGE_LIMIT:
            yield Failed(
                page, f"at most {PAGE_LIMIT} video(s) on a page (limit={PAGE_LIMIT})", f"{len(_items(page))} videos"
            )
            return
        repeated = [i for i in ids if i in first_seen]
        if repeated:
            yield Failed(
                page,
                "a page after the previous one (after=<its last_id>), with ids not listed before",
                f"{repeated[0]!r} again, first listed on page {first_seen[repeated[0]]}: "
                "auto-pagination would never end",
            )
            return
        first_seen.update({i: number for i in ids})
        yield Passed()
    last = pages[-1]
    body = last.json if isinstance(last.json, dict) else {}
    if not _items(last) and len(pages) > 1:
        yield Failed(
            pages[-2], "has_more false on the last page that lists a video", "has_more true, and the next page is empty"
        )
    elif body.get("has_more") is True and not _items(last):
        yield Failed(last, "has_more false on an empty page", "an empty page that says has_more true")
    elif body.get("has_more") is True and _cursor(last) is None:
        yield Failed(
            last,
            "last_id (or an id on the page) to ask for the next page with",
            "has_more true and no id to go on from",
        )
    elif body.get("has_more") is True:
        yield Skipped(f"stopped after {len(pages)} pages with has_more still true (the walk's bound)")


@check("each page's first_id and last_id are the ids of its first and last video")
def list_page_ids(run: LifecycleRun) -> Iterator[Verdict]:
    pages, skipped = _walk(run)
    if skipped is not None:
        yield skipped
        return
    for page in pages:
        if not page.ok or not isinstance(page.json, dict):
            continue
        ids = _ids(page)
        expected = (ids[0], ids[-1]) if ids else (None, None)
        got = (page.json.get("first_id"), page.json.get("last_id"))
        if got == expected:
            yield Passed()
        else:
            yield Failed(
                page,
                f"first_id {expected[0]!r}, last_id {expected[1]!r} (the page's own videos)",
                f"first_id {got[0]!r}, last_id {got[1]!r}",
            )


def default_order(contract: Contract) -> str | None:
    op = contract.find("GET", "/videos")
    default = op.query.defaults.get("order") if op is not None and op.query is not None else None
    return default if default in ("asc", "desc") else None


@check("the list's default order is the contract's (created_at descending: newest first); ties in any order")
def list_default_order(run: LifecycleRun) -> Iterator[Verdict]:
    pages, skipped = _walk(run)
    if skipped is not None:
        yield skipped
        return
    order = default_order(run.contract)
    if order is None:
        yield Skipped("the contract's GET /videos declares no default order")
        return
    listed = [
        (page, item["id"], item[TIMESTAMP])
        for page in pages
        if page.ok
        for item in _items(page)
        if isinstance(item, dict) and isinstance(item.get(TIMESTAMP), int)
    ]
    distinct = len({video_id for _, video_id, _ in listed})
    if distinct < 2:
        yield Skipped(f"only {distinct} job listed: the order cannot be told")
        return
    if len({stamp for _, _, stamp in listed}) < 2:
        yield Skipped(f"the {len(listed)} listed jobs share one {TIMESTAMP}: the order cannot be told")
        return
    words = "descending (newest first" if order == "desc" else "ascending (oldest first"
    for (_, before_id, before), (page, after_id, after) in itertools.pairwise(listed):
        if (after > before) if order == "desc" else (after < before):
            yield Failed(
                page,
                f"{TIMESTAMP} {words}, the contract's default order)",
                f"{before_id!r} ({TIMESTAMP} {before}) listed before {after_id!r} ({TIMESTAMP} {after})",
            )
            return
    yield Passed()
