"""`serve --workers N`: N uvicorn worker processes on one socket, over one shared store.

uvicorn starts each worker by importing an app factory, so the parent hands its configuration
down in an environment variable (a pickle of the ServerConfig: it never leaves this machine's
process tree). Each worker builds its own Server on the same store URL and does not boot it:
the parent already installed the start-up faults and webhook endpoints, once.
"""

from __future__ import annotations

import base64
import os
import pickle
from collections.abc import Callable

from starlette.applications import Starlette

from mockserver.config import ServerConfig

CONFIG_ENV = "MOCKSERVER_WORKER_CONFIG"


def create_worker_app() -> Starlette:
    """The uvicorn factory each worker process calls."""
    from mockserver.http.app import Server, create_app

    config: ServerConfig = pickle.loads(base64.b64decode(os.environ[CONFIG_ENV]))
    return create_app(server=Server(config, boot=False))


def run(
    config: ServerConfig,
    workers: int,
    *,
    host: str,
    port: int,
    log_level: str,
    access_log: bool,
    announce: Callable[[str, int], None],
) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mockserver.http.protocol import HTTP_PROTOCOL

    os.environ[CONFIG_ENV] = base64.b64encode(pickle.dumps(config)).decode()
    uvicorn_config = uvicorn.Config(
        f"{__name__}:create_worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        http=HTTP_PROTOCOL,
    )
    sock = uvicorn_config.bind_socket()  # bound here, so the URL (even for --port 0) is known before workers start
    announce(*sock.getsockname()[:2])
    try:
        Multiprocess(uvicorn_config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("mockserver: stopped", flush=True)
    return 0
