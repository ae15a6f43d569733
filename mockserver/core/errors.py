"""The OpenAI error envelope, and the exception every layer raises to produce one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Used when the loaded contract has no example naming a `type` for a status.
_DEFAULT_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def default_error_type(status: int) -> str:
    return _DEFAULT_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


class APIError(Exception):
    """An error a client caused or must handle; rendered as `{"error": {...}}` with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"APIError({self.status}, {self.message!r}, code={self.code!r}, param={self.param!r})"

    def body(self, error_type: str | None = None) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type or error_type or default_error_type(self.status),
                "param": self.param,
                "code": self.code,
            }
        }


def not_found(kind: str, ident: str) -> APIError:
    return APIError(404, f"No {kind} found with id '{ident}'.", code=f"{kind}_not_found", param=f"{kind}_id")


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_value") -> APIError:
    return APIError(400, message, code=code, param=param)
