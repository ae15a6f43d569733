"""Schemathesis itself, all default checks, positive and negative data, and the stateful phase
following the contract's links, against the fake in process."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.core.parameters import ParameterLocation

from mockserver.http.app import create_app
from mockserver.config import ServerConfig

# speed 0: jobs finish when created, so links to content, remix and delete reach their 2xx paths.
app = create_app(ServerConfig(speed=0, seed=7))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.update(headers={"Authorization": "Bearer sk-schemathesis"})
NEGATIVE_DATA_REJECTION = CHECKS.get_by_names(["negative_data_rejection"])

# derandomize: the same examples on every run, so CI is reproducible; change the seed to explore.
HYPOTHESIS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _negative_multipart(case: schemathesis.Case) -> bool:
    body = case.meta.components.get(ParameterLocation.BODY) if case.meta else None
    return case.media_type == "multipart/form-data" and body is not None and body.mode.is_negative


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_against_the_reference_contract(case: schemathesis.Case) -> None:
    # A multipart part is text: a negative "integer name" or "array prompt" arrives as the text
    # "121512" or "[]", a valid string. Those bodies cannot be told from valid ones on the wire, so
    # only for them the negative-rejection check is skipped; JSON bodies (same schemas) keep it.
    excluded = NEGATIVE_DATA_REJECTION if _negative_multipart(case) else None
    case.call_and_validate(excluded_checks=excluded)


# The stateful phase follows the links with valid data (negative data is covered above, where the
# multipart caveat can be applied per case).
stateful_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
stateful_schema.config.update(headers={"Authorization": "Bearer sk-schemathesis-stateful"})
stateful_schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])


class StatefulLinks(stateful_schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Every scenario starts from a reset, seeded server: hypothesis replays a scenario to shrink it, and
        # the links it follows draw from the answers (ids, pages), which must be the same on every replay.
        app.state.server.control.reset()


TestStatefulLinks = StatefulLinks.TestCase
TestStatefulLinks.settings = settings(HYPOTHESIS, max_examples=20, stateful_step_count=6)
