"""The cost guard: every request that could start a paid job counts against `--max-creates`.

Which requests could start a job is read from the contract, not hard-coded: a POST whose success
response is the Video schema (create, remix, edits, extensions in the reference contract). The
budget is shared by the lifecycle phase and by every request schemathesis sends, fuzzed or not;
a request the budget no longer covers is never sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from mockserver.contract.loading import Contract


class CreateBudgetSpent(Exception):
    """Raised instead of sending a job-creating request once `--max-creates` is used up."""

    def __init__(self, operation: str, limit: int) -> None:
        super().__init__(
            f"not sent: {operation} could start a paid job and the create budget (--max-creates {limit}) is used up"
        )
        self.operation = operation
        self.limit = limit


class CreateBudget:
    """A thread-safe counter of job-creating requests: sent ones, and the ones it refused."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("--max-creates must be >= 0")
        self.limit = limit
        self.sent = 0
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        with self._lock:
            return self.limit - self.sent

    def spend(self, operation: str, keep: int = 0) -> bool:
        """Take one create from the budget, leaving `keep` for later; False (counted as refused) otherwise."""
        with self._lock:
            if self.sent + keep < self.limit:
                self.sent += 1
                return True
            self.refused[operation] += 1
            return False

    def require(self, operation: str) -> None:
        if not self.spend(operation):
            raise CreateBudgetSpent(operation, self.limit)

    @property
    def refused_total(self) -> int:
        with self._lock:
            return sum(self.refused.values())

    def __repr__(self) -> str:
        return f"CreateBudget(limit={self.limit}, sent={self.sent}, refused={self.refused_total})"


def _same_schema(contract: Contract, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if "$ref" in a and "$ref" in b:
        return a["$ref"] == b["$ref"]
    return contract.resolve(a) == contract.resolve(b)


def _success_json_schema(contract: Contract, operation: Mapping[str, Any]) -> Mapping[str, Any] | None:
    responses = operation.get("responses", {})
    response = responses.get("200") or responses.get(200) or responses.get("201") or responses.get(201)
    if response is None:
        return None
    media = contract.resolve(response).get("content", {}).get("application/json")
    return media.get("schema") if media else None


def job_creating_operations(contract: Contract) -> frozenset[tuple[str, str]]:
    """(method, path template) of every operation that could start a job: POSTs answering with a Video."""
    paths = contract.document["paths"]
    video_op = paths.get("/videos/{video_id}", {}).get("get")
    video_schema = _success_json_schema(contract, video_op) if video_op else None
    found: set[tuple[str, str]] = set()
    for path, item in paths.items():
        post = item.get("post") if isinstance(item, dict) else None
        if not isinstance(post, dict):
            continue
        schema = _success_json_schema(contract, post)
        if schema is None:
            continue
        if video_schema is not None and _same_schema(contract, schema, video_schema):
            found.add(("POST", path))
    return frozenset(found)
