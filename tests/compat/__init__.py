"""The client compatibility matrix: which real clients survive which dialect (docs/compat-matrix.md)."""
