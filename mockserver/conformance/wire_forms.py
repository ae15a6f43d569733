"""What a multipart form says once it is on the wire, for judging schemathesis' negative cases.

schemathesis makes a negative case by changing a field's type (a string becomes an object, null,
a number) and expects the server to refuse it. In multipart/form-data every field is text, so such
a change often vanishes on the way: `{"": []}` or `null` in a `name` part is a perfectly good
string, and anything in a file part is a perfectly good file. A server that accepts those is right,
and reporting it would be a false failure (schemathesis 4.32 filters this for urlencoded bodies and
whole-body mutations, not for multipart fields). So a `negative_data_rejection` finding on a
multipart case is kept only when the form, read the way a multipart server reads it, is invalid.
"""

from __future__ import annotations

import json
from typing import Any

from mockserver.contract.loading import FILE_PLACEHOLDER, Contract

MULTIPART = "multipart/form-data"


def negative_on_the_wire(contract: Contract, method: str, path: str, media_type: str | None, body: Any) -> bool:
    """False when a multipart case schemathesis meant as invalid is valid as sent; True otherwise.

    Anything this cannot read with certainty (other media types, repeated parts, raw bytes in a
    text field, an operation the contract lacks) counts as negative, so the finding stands.
    """
    if not media_type or not media_type.startswith(MULTIPART) or not isinstance(body, dict):
        return True
    operation = contract.operations.get((method.upper(), path))
    validator = operation.bodies.get(MULTIPART) if operation is not None else None
    if validator is None:
        return True
    form: dict[str, Any] = {}
    for name, value in body.items():
        if name in validator.file_fields:
            form[name] = FILE_PLACEHOLDER  # sent as a file part: any bytes are a file
        elif isinstance(value, str):
            form[name] = validator.coerce(name, value)
        elif name not in validator.types:
            # An undeclared field: repeated parts or not, only its presence matters to the schema.
            form[name] = json.dumps(value, default=str)
        elif isinstance(value, (list, bytes, bytearray)):
            return True  # repeated parts for a single field, or raw bytes in a text part: not clear-cut
        else:
            # schemathesis spells non-text values in JSON (`null`, `true`, `{"a": 1}`), as text parts.
            form[name] = validator.coerce(name, json.dumps(value))
    return bool(validator.errors(form))
