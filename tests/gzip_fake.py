"""The fake behind Starlette's GZipMiddleware: a provider behind a gateway that compresses every answer.

python -m uvicorn tests.gzip_fake:app --port PORT
"""

from starlette.middleware.gzip import GZipMiddleware

from mockserver.config import ServerConfig
from mockserver.http.app import create_app

# Media too (Starlette leaves already-compressed types alone by default): the proxy must judge the bytes underneath.
app = GZipMiddleware(create_app(ServerConfig(speed=0)), minimum_size=0, exclude_content_types=())
