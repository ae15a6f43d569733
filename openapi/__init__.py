"""Not code: this directory is packaged as `mockserver.openapi` (see setup.py and mockserver/resources.py)."""
