"""The contract's response rules for one observed exchange: the status is declared, the body fits it.

`conform` has these from schemathesis (`status_code_conformance`, `response_schema_conformance`),
which judges the requests it generates itself. The proxy judges requests someone else sent, so
it asks the same contract the same two questions directly, with the contract's own validators,
and reports under the same names.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from mockserver.conformance.checks import Failed, Passed, Verdict
from mockserver.conformance.exchange import Exchange
from mockserver.contract.loading import Contract

# Answers HTTP allows to a request that asked for them, whatever an operation declares.
_ASKED_FOR = {206: "range", 304: "if-none-match"}


@dataclass(frozen=True)
class SchemaCheck:
    name: str
    description: str


SCHEMA_CHECKS = {
    "status_code_conformance": SchemaCheck(
        "status_code_conformance", "every answer has a status the contract declares for that operation"
    ),
    "response_schema_conformance": SchemaCheck(
        "response_schema_conformance", "every JSON answer validates against the contract's schema for its status"
    ),
}

_validators: weakref.WeakKeyDictionary[Contract, dict[tuple[str, str, str], Draft202012Validator | None]] = (
    weakref.WeakKeyDictionary()
)


def _responses(contract: Contract, method: str, template: str) -> dict[str, Any]:
    operation = contract.document["paths"].get(template, {}).get(method.lower(), {})
    return {str(code): response for code, response in (operation.get("responses") or {}).items()}


def _declared(responses: dict[str, Any], status: int) -> str | None:
    """The response key that covers a status: exact, then `4XX`, then `default`."""
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses or key.lower() in responses:
            return key if key in responses else key.lower()
    return None


def _validator(contract: Contract, method: str, template: str, key: str) -> Draft202012Validator | None:
    cache = _validators.setdefault(contract, {})
    slot = (method, template, key)
    if slot not in cache:
        response = contract.resolve(_responses(contract, method, template)[key])
        media = (response.get("content") or {}).get("application/json")
        cache[slot] = contract.validator_for(contract.resolve(media["schema"])) if media and "schema" in media else None
    return cache[slot]


def judge(
    contract: Contract, exchange: Exchange, template: str, request_headers: dict[str, str]
) -> Iterator[tuple[str, Verdict]]:
    """(check name, verdict) for one exchange of the operation `exchange.method template`."""
    status = exchange.status
    if status is None:
        return
    responses = _responses(contract, exchange.method if exchange.method != "HEAD" else "GET", template)
    key = _declared(responses, status)
    if key is None:
        if _ASKED_FOR.get(status) in request_headers:
            return
        declared = ", ".join(sorted(responses)) or "none"
        yield (
            "status_code_conformance",
            Failed(exchange, f"one of the statuses the contract declares ({declared})", exchange.describe_response()),
        )
        return
    yield "status_code_conformance", Passed()
    if exchange.json is None or not exchange.media_type.endswith("json"):
        return
    validator = _validator(contract, exchange.method if exchange.method != "HEAD" else "GET", template, key)
    if validator is None:
        return
    errors = sorted(validator.iter_errors(exchange.json), key=lambda e: list(e.absolute_path))
    if not errors:
        yield "response_schema_conformance", Passed()
        return
    where = "/".join(str(p) for p in errors[0].absolute_path) or "(body)"
    yield (
        "response_schema_conformance",
        Failed(
            exchange,
            f"a body valid against the contract's {key} response of {exchange.method} {template}",
            f"{len(errors)} problem(s), first at {where}: {errors[0].message}",
        ),
    )
