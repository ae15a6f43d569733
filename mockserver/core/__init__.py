"""The job domain: jobs and their derived state, the videos service, clock, scripted outcomes, ids, media,
API keys, errors. Like moto's models: the rules, no HTTP.

May import: `mockserver.store` (the interface its records live behind). Never Starlette, `contract`,
`profiles`, `control` or `http`.
"""
