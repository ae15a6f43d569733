"""The job domain: jobs and their derived state, the videos service, clock, outcomes, ids, media, errors.

May import: the standard library and `mockserver.store`. Never Starlette, `http`, `control` or `profiles`.
"""
