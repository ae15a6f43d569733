"""Benchmarks: the mock side by side with its baselines (bare Starlette, Prism, nginx), one run.

Run with `./scripts/bench` (installs wrk, nginx and Prism when missing) or `python -m benchmarks`.
Not part of the test suite; tests/test_benchmarks_smoke.py only checks that the harness works.
"""
