"""The loaded OpenAPI contract: operations, request validators compiled once, the lifecycle vocabulary.

May import: `mockserver.core` (errors, the job phases). Never `http` or `control`.
"""
