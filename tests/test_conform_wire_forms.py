"""conform does not report a multipart field whose "invalid" value is valid once it is text on the wire.

schemathesis' negative cases change a field's type; in a multipart form the server sees text either
way, so a server that accepts `name=-1521` for a string field is right and must not be reported.
"""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.conformance.wire_forms import negative_on_the_wire
from mockserver.contract.loading import Contract

REFERENCE = Contract.load("reference")
MULTIPART = "multipart/form-data"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/videos/characters", {"name": -1521, "video": b"\x00\x01"}),  # an integer is the text "-1521"
        ("/videos/characters", {"name": {"": []}, "video": 1.5e16}),  # JSON text; anything in a file part is a file
        ("/videos", {"prompt": None}),  # the text "null" is a prompt
        ("/videos", {"prompt": "x", "\x8cpf": {"a": [1]}, "": [1, None]}),  # undeclared parts, repeated or not
    ],
)
def test_values_that_are_valid_as_multipart_text_are_not_negative(path: str, body: dict[str, Any]) -> None:
    assert negative_on_the_wire(REFERENCE, "post", path, MULTIPART, body) is False


@pytest.mark.parametrize(
    ("path", "media_type", "body"),
    [
        ("/videos", MULTIPART, {"prompt": "x", "seconds": 5}),  # "5" is not one of the allowed seconds
        ("/videos", MULTIPART, {"seconds": "4"}),  # the prompt is missing, whatever the types
        ("/videos", MULTIPART, {"prompt": "x", "model": ["sora-2", "sora-2-pro"]}),  # one field, two parts
        ("/videos", "application/json", {"prompt": 7}),  # JSON keeps its types: 7 is not a string
        ("/videos/unheard-of", MULTIPART, {"prompt": "x"}),  # an operation the contract does not have
    ],
)
def test_values_that_stay_invalid_or_cannot_be_judged_stay_negative(path: str, media_type: str, body: dict[str, Any]) -> None:
    assert negative_on_the_wire(REFERENCE, "POST", path, media_type, body) is True
