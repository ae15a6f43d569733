"""`mockserver proxy`: a pass-through proxy in front of a real provider that judges its answers.

    mockserver proxy --upstream https://gateway.example/v1 --port 8100 [--record DIR]

Every request goes upstream as the client sent it (forward.py); each exchange and the lifecycle
of each job across its exchanges are judged with the `conform` checks (observe.py); violations
are printed one per line, served at `/__mock/violations` and written as JUnit and JSON reports
when the proxy stops. `--record DIR` writes a cassette (cassette.py) that `serve --replay DIR`
plays back (mockserver/core/replay.py).

May import: `core` (keys and their masking among it), `contract`, `conformance` (its checks, traces
and reports), `http` (request ids, the multipart splitter) and `control.journal` (which headers
carry credentials).
Only the `mockserver proxy` command imports it; the server never does.
"""
