"""The /__mock control plane: its one access guard, the routes a test drives (clock, outcomes, faults,
journal, webhooks, reset) and the run-time machinery behind them (fault book, journal, webhook dispatcher).

May import: `core`, `store`, `contract`. Never `http`: the request pipeline applies the guard, the
faults and the journal, and the app mounts these routes.
"""
