"""The `mockserver` command: serve | spec | conform | proxy | profiles."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver import __version__, profiles
from mockserver.config import (
    DEFAULT_JOURNAL_SIZE,
    DEFAULT_MAX_UPLOAD_MB,
    ConfigError,
    ServerConfig,
    load_config_file,
    parse_api_keys,
    parse_timings,
)
from mockserver.control.faults import FaultError, startup_rules
from mockserver.control.webhooks import WebhookSettings
from mockserver.core.keys import KeyRules
from mockserver.render import settings as media_settings

if TYPE_CHECKING:
    from mockserver.store import Store


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_serve_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the fake video API server",
        description=(
            "Run the fake OpenAI video API. Point the official SDK at the printed base URL: "
            "OpenAI(base_url='http://127.0.0.1:8000/v1', api_key='sk-anything')."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind, 0 for any free port (default: 8000)")
    p.add_argument(
        "--spec",
        default="reference",
        help="contract to serve: reference, docs, or a path to an OpenAPI file (default: reference)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="multiply every planned job duration: 1 = realistic, 0.1 = ten times faster, 0 = jobs finish at once "
        "(default: 1)",
    )
    p.add_argument("--seed", type=int, default=None, help="make ids and injected faults reproducible")
    p.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept only this key (repeatable); default: any sk-... key",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config file (api_keys with deny_models, timings, ...); flags override it",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=None,
        help=f"largest request body accepted, in MB (default: {DEFAULT_MAX_UPLOAD_MB}); larger gets 413",
    )
    p.add_argument(
        "--fixtures",
        type=Path,
        default=None,
        help="directory of media to serve (default: the fixtures/ shipped in the package)",
    )
    p.add_argument(
        "--profile",
        default=None,
        choices=profiles.NAMES,
        help="speak a real provider's dialect (see `mockserver profiles`; default: reference)",
    )
    p.add_argument(
        "--profile-option",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="an option of the chosen profile, e.g. kling_ms_timestamps=true (repeatable)",
    )
    p.add_argument("--admin-token", default=None, help="require this token (Bearer) on the /__mock control API")
    p.add_argument(
        "--fault",
        action="append",
        default=None,
        metavar="SPEC",
        help="inject a fault (repeatable): [METHOD] [PATH] key=value..., keys status (429/500/502/503/504), "
        "probability, latency_ms, times, retry_after; e.g. 'POST /v1/videos status=503 probability=0.2'",
    )
    p.add_argument(
        "--rate-limit",
        default=None,
        metavar="N/SECONDS",
        help="per API key: at most N requests per SECONDS, then 429 with Retry-After",
    )
    p.add_argument(
        "--latency-ms", type=int, default=None, metavar="MS", help="add this much latency to every API request"
    )
    p.add_argument(
        "--journal-size",
        type=int,
        default=None,
        metavar="N",
        help="how many requests the /__mock/journal keeps (default: 1000; 0 turns it off)",
    )
    p.add_argument(
        "--webhook-url",
        action="append",
        default=None,
        metavar="URL",
        help="send signed video.completed/video.failed events here (repeatable)",
    )
    p.add_argument(
        "--webhook-secret",
        default=None,
        metavar="whsec_...",
        help="Standard Webhooks secret for --webhook-url endpoints (default: generated and printed)",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="where jobs and settings live: memory: (default; gone when the server stops), sqlite:///PATH "
        "(survives restarts; shared by --workers on one host), redis://HOST:PORT/DB[?prefix=NAME] (shared by several "
        "hosts)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: 1); more than one needs a shared --store",
    )
    media_settings.add_arguments(p)
    p.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="replay a cassette written by `mockserver proxy --record DIR`: matching creates get the recorded jobs",
    )
    p.add_argument(
        "--replay-unmatched",
        choices=["error", "fake"],
        default="error",
        help="with --replay, a create no recorded one matches: error (400 naming the nearest, the default) or fake",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log verbosity (default: info)",
    )
    p.set_defaults(run=run_serve)


def build_config(args: argparse.Namespace, file: dict[str, Any]) -> ServerConfig:
    """The flags over the config file's mapping (`file`, {} without one)."""
    where = str(args.config or "flags")
    api_keys: dict[str, KeyRules] = parse_api_keys(file.get("api_keys"), where)
    for key in args.api_key or []:
        api_keys.setdefault(key, KeyRules())
    max_upload_mb = (
        args.max_upload_mb
        if args.max_upload_mb is not None
        else float(file.get("max_upload_mb", DEFAULT_MAX_UPLOAD_MB))
    )
    speed = args.speed if args.speed is not None else float(file.get("speed", 1.0))
    # `not (a <= x <= b)` is also true for NaN, which float() reads from "nan" as readily as "1e400".
    if not 0 <= speed <= 1_000_000:
        raise ConfigError(f"--speed must be between 0 and 1000000, got {speed}")
    if not 0 < max_upload_mb <= 1_000_000:
        raise ConfigError(f"--max-upload-mb must be more than 0 and at most 1000000, got {max_upload_mb}")
    try:
        faults = startup_rules(
            file.get("faults"), flags=args.fault or (), rate_limit=args.rate_limit, latency_ms=args.latency_ms
        )
    except FaultError as exc:
        raise ConfigError(str(exc)) from None
    journal_size = (
        args.journal_size if args.journal_size is not None else file.get("journal_size", DEFAULT_JOURNAL_SIZE)
    )
    store = args.store or str(file.get("store", "memory:"))
    if not isinstance(journal_size, int) or journal_size < 0:
        raise ConfigError(f"journal size must be a whole number >= 0, got {journal_size!r}")
    return ServerConfig(
        spec=args.spec if args.spec != "reference" else str(file.get("spec", "reference")),
        speed=speed,
        seed=args.seed if args.seed is not None else file.get("seed"),
        api_keys=api_keys,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        fixtures_dir=args.fixtures or (Path(file["fixtures"]) if "fixtures" in file else None),
        timings=parse_timings(file.get("timings"), where),
        admin_token=args.admin_token or file.get("admin_token"),
        loopback_only=_is_loopback(args.host),
        bind_host=args.host,
        faults=faults,
        journal_size=journal_size,
        store=store,
        profile=args.profile or str(file.get("profile", "reference")),
        profile_options=profiles.options_from(file.get("profile_options"), args.profile_option),
        webhooks=_webhook_settings(file, args),
        media=_media_settings(file, args),
        replay=args.replay,
        replay_unmatched=args.replay_unmatched,
    )


def _webhook_settings(file: dict[str, Any], args: argparse.Namespace) -> WebhookSettings:
    try:
        return WebhookSettings.parse(file.get("webhooks"), args.webhook_url or (), args.webhook_secret)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _media_settings(file: dict[str, Any], args: argparse.Namespace) -> media_settings.MediaSettings:
    try:
        return media_settings.from_config(file, args)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _workers(args: argparse.Namespace, file: dict[str, Any]) -> int:
    workers = args.workers if args.workers is not None else int(file.get("workers", 1))
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return workers


def _check_shared(workers: int, store: Store) -> None:
    # Asked of the opened store rather than of how its URL is spelled (memory:, memory://, a config file's value).
    if workers > 1 and not store.shared:
        raise ConfigError(
            f"--workers {workers} needs a store the workers share. The memory: store lives inside one process, so each "
            "worker would keep its own jobs and a client would get 404 for a job another worker created. Use "
            "--store sqlite:///mockserver.db (workers on one host) or --store redis://127.0.0.1:6379/0 (several hosts)."
        )


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockserver.contract.loading import ContractError
    from mockserver.http.app import Server, create_app
    from mockserver.http.protocol import HTTP_PROTOCOL
    from mockserver.profiles import ProfileError
    from mockserver.store import StoreError

    try:
        file: dict[str, Any] = load_config_file(args.config) if args.config else {}
        config = build_config(args, file)
        workers = _workers(args, file)
        # The parent boots the store once (start-up faults and webhook endpoints); workers only use it.
        server = Server(config)
        _check_shared(workers, server.store)
    except (ConfigError, ProfileError, ContractError, StoreError) as exc:
        print(f"mockserver serve: {exc}", file=sys.stderr)
        return 2
    base_path = server.contract.base_path
    webhooks = server.webhooks
    if webhooks.startup_urls and not config.webhooks.secret:
        print(f"mockserver: webhook secret (generated; fix it with --webhook-secret): {webhooks.secret}", flush=True)
        # Workers get this configuration: a reset one of them answers re-registers the start-up
        # endpoints, and must sign with the secret printed here, not one of its own.
        config = dataclasses.replace(config, webhooks=dataclasses.replace(config.webhooks, secret=webhooks.secret))

    def announce(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(f"mockserver {__version__}: base URL http://{shown}:{port}{base_path}", flush=True)
        print(f"  health: http://{shown}:{port}/__mock/health   spec: http://{shown}:{port}/openapi.yaml", flush=True)
        print(f"  store: {server.store.url}" + (f"   workers: {workers}" if workers > 1 else ""), flush=True)
        print(f"  media: {server.media.describe()}", flush=True)
        # The token is the user's own; it is not printed (logs of CI runs are read by many).
        fragment = "#token=<admin token>" if config.admin_token else ""
        print(f"  dashboard: http://{shown}:{port}/__mock/ui{fragment}", flush=True)

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            for listener in self.servers:
                for sock in listener.sockets:
                    announce(*sock.getsockname()[:2])
                    return

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # uvicorn formats each access-log line's arguments whenever the logger has a handler, even at a
    # level that drops the line; so ask for the access log only at a level that prints it.
    access_log = args.log_level in ("info", "debug")
    if workers > 1:
        from mockserver import workers as worker_app

        server.store.close()
        return worker_app.run(
            config,
            workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=access_log,
            announce=announce,
        )
    app = create_app(server=server)  # with workers, each builds its own (mockserver/workers.py)
    uvicorn_server = AnnouncingServer(
        uvicorn.Config(
            app, host=args.host, port=args.port, log_level=args.log_level, access_log=access_log, http=HTTP_PROTOCOL
        )
    )
    # uvicorn has already shut down gracefully when it re-raises Ctrl-C for the caller to see.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn_server.run()
    server.store.close()
    print("mockserver: stopped", flush=True)
    return 0


def _delegate(module: str, prog: str, help_text: str, extra: str | None = None) -> Callable[[Any], None]:
    """A subcommand whose options live in its own module; the rest of argv goes to that module's main().

    `extra`: the pyproject extra that module needs (its imports are not installed with the server).
    """

    def add(subparsers: Any) -> None:
        # No option prefix here, so `-v`/`--help` reach the module's own parser instead of failing at this level.
        p = subparsers.add_parser(prog, help=help_text, add_help=False, description=help_text, prefix_chars="\0")
        p.add_argument("rest", nargs=argparse.REMAINDER)

        def run(args: argparse.Namespace) -> int:
            import importlib

            try:
                command = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if extra is None or (exc.name or "").startswith("mockserver"):
                    raise
                # `./scripts/serve` installs the server alone; say what to install instead of a traceback.
                print(
                    f"mockserver {prog}: needs the '{extra}' extra ({exc.name} is not installed): "
                    f"pip install 'mockserver[{extra}]', or from a checkout .venv/bin/pip install -e '.[{extra}]'",
                    file=sys.stderr,
                )
                return 2
            return int(command.main(args.rest) or 0)

        p.set_defaults(run=run)

    return add


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockserver",
        description="Reference server and conformance kit for the OpenAI video API format (/v1/videos).",
    )
    p.add_argument("--version", action="version", version=f"mockserver {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    add_serve_parser(sub)
    _delegate("mockserver.profiles.command", "profiles", "list the real-world dialects serve --profile can speak")(sub)
    _delegate(
        "mockserver.specgen.command",
        "spec",
        "generate the OpenAPI contract from the docs page, or diff docs vs reference",
    )(sub)
    _delegate(
        "mockserver.conformance.command",
        "conform",
        "check a server (this fake or a real provider) against the contract",
        extra="conform",
    )(sub)
    # The proxy judges with conform's checks, which need that extra's `requests`.
    _delegate(
        "mockserver.proxy.command",
        "proxy",
        "forward to a real provider, check its answers, record a cassette",
        extra="conform",
    )(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "run", None):
        p.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
