"""The file answer of `GET /videos/{id}/content`: Starlette's FileResponse, with its Range errors in the envelope.

Starlette answers a Range header it cannot parse (`bytes=abc`, `pages=0-1`) with a plain-text 400 and
an unsatisfiable one (`bytes=999999999-`) with an empty 416. Here both raise APIError instead, which
the request pipeline renders as every other error: `param` "range", and for 416 the `Content-Range:
bytes */SIZE` RFC 9110 asks for. Which ranges are valid stays Starlette's decision.
"""

from __future__ import annotations

from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable

from mockserver.core.errors import APIError


class MediaFileResponse(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as exc:
            raise APIError(
                400,
                f"Malformed Range header {http_range[:100]!r}: {exc.content.rstrip('.')}. Send e.g. 'bytes=0-1023'.",
                code="invalid_range",
                param="range",
            ) from None
        except RangeNotSatisfiable as exc:
            raise APIError(
                416,
                f"The Range {http_range[:100]!r} starts beyond the end of the file ({exc.max_size} bytes).",
                code="range_not_satisfiable",
                param="range",
                headers={"content-range": f"bytes */{exc.max_size}"},
            ) from None
