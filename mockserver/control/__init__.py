"""The /__mock control plane: clock, outcomes, faults, journal, webhooks, reset.

May import: `core`, `store`, `contract`. Never `http`.
"""
