"""uvicorn's HTTP protocol with its one answer of its own in the OpenAI envelope.

A request the HTTP parser cannot read (an unknown method for httptools, a Content-Length that is
not a number or too large for one, Content-Length together with chunked encoding, a malformed
header line, TLS spoken to the plain port) never reaches the app: uvicorn answers it itself, with
`400 text/plain "Invalid HTTP request received."`, and closes the connection. These subclasses
change only that answer, to the envelope every other error of this server has; the parser, the
connection handling and everything else stay uvicorn's. `serve` (one process or --workers) and the
pytest plugin's server use them through `uvicorn.Config(http=...)`.

What uvicorn still answers in its own words: nothing else with this configuration. Its plain 500
(an app that raises before answering) does not happen, as the request pipeline answers every error,
and its plain 503 belongs to `limit_concurrency`, which is not set here. A client that closes the
connection mid-request gets no answer at all.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

MESSAGE = (
    "Invalid HTTP request received: the server could not parse the request line, a header, "
    "Content-Length or Transfer-Encoding (or the request was not HTTP/1.1 at all)."
)
_BODY = json.dumps(
    {"error": {"message": MESSAGE, "type": "invalid_request_error", "param": None, "code": "invalid_http_request"}},
    separators=(",", ":"),
).encode("ascii")
_RESPONSE = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class EnvelopeH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        # h11's connection state is past saving after a parse error; the bytes are written directly.
        self.transport.write(_RESPONSE)
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is an optional speed-up of uvicorn: without it, h11 parses
    HTTP_PROTOCOL = f"{__name__}:EnvelopeH11Protocol"
else:

    class EnvelopeHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            self.transport.write(_RESPONSE)
            self.transport.close()

    HTTP_PROTOCOL = f"{__name__}:EnvelopeHttpToolsProtocol"
