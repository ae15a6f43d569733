"""`mockserver proxy --upstream URL/v1 [--port N] [--record DIR]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from mockserver import __version__
from mockserver.conformance.report import REPORT_FORMATS
from mockserver.contract.loading import Contract, ContractError
from mockserver.proxy.forward import ProxyApp, Upstream
from mockserver.proxy.observe import Observation, Violation

DEFAULT_PORT = 8100
REPORT_FILES = {"junit": "proxy-junit.xml", "json": "proxy-report.json"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockserver proxy",
        description=(
            "Forward the video API to a real provider unchanged and check every answer against the contract: "
            "point your application at the printed base URL instead of the provider's. Violations are printed as they "
            "happen, served at /__mock/violations, and written as JUnit and JSON reports when the proxy stops (Ctrl-C)."
        ),
    )
    p.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the provider's base URL, as you give it to the SDK, e.g. https://api.openai.com/v1",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to bind, 0 for any free port (default: {DEFAULT_PORT})"
    )
    p.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="write a cassette of the session into DIR (a new directory) for `serve --replay DIR`",
    )
    p.add_argument(
        "--spec",
        default="reference",
        help="the contract to check against: reference, docs, or a path (default: reference)",
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("proxy-reports"),
        help="where the reports go when the proxy stops (default: proxy-reports/)",
    )
    p.add_argument(
        "--report", default="junit,json", help="report formats, comma-separated: junit, json (default: both)"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the upstream on one request (default: 600)"
    )
    p.add_argument(
        "--quiet", action="store_true", help="do not print violations as they happen (the reports still have them)"
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log verbosity (default: warning)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = parser().parse_args(argv)
    formats = [f.strip() for f in args.report.split(",") if f.strip()]
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    try:
        if unknown:
            raise ValueError(f"--report: unknown format(s) {', '.join(unknown)}; use {', '.join(REPORT_FORMATS)}")
        upstream = Upstream(args.upstream)
        contract = Contract.load(args.spec)
    except (ValueError, ContractError) as exc:
        print(f"mockserver proxy: {exc}", file=sys.stderr)
        return 2

    def shout(violation: Violation) -> None:
        if not args.quiet:
            print(violation.line(), flush=True)

    observation = Observation(contract, upstream.url, upstream.base_path, on_violation=shout)
    spool = None
    if args.record is not None:
        from mockserver.proxy.cassette import CassetteWriter

        try:
            writer = CassetteWriter(args.record, observation)
        except (FileExistsError, OSError) as exc:
            print(f"mockserver proxy: --record {args.record}: {exc}", file=sys.stderr)
            return 2
        spool = writer.spool_dir

    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "role": "proxy",
            "upstream": upstream.url,
            "exchanges": observation.exchanges,
            "recording": str(args.record) if args.record else None,
        }

    def stopped() -> None:
        written = write_reports(observation, formats, args.report_dir, args.spec)
        summary = observation.summary()
        print(
            f"mockserver proxy: stopped after {summary['exchanges']} exchanges, {summary['jobs']} jobs; "
            f"{len(summary['violations'])} violation(s)"
            + (f"; failed checks: {', '.join(summary['failed_checks'])}" if summary["failed_checks"] else "")
            + (f"; deviations: {', '.join(summary['deviation_checks'])}" if summary["deviation_checks"] else "")
            + (f"; reports: {', '.join(str(p) for p in written)}" if written else ""),
            flush=True,
        )

    app = ProxyApp(
        upstream,
        observation,
        spool_dir=spool,
        timeout=args.timeout,
        on_shutdown=stopped,
        local={"/__mock/health": health, "/__mock/violations": observation.summary},
    )

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            for listener in self.servers:
                for sock in listener.sockets:
                    host, port = sock.getsockname()[:2]
                    shown = f"[{host}]" if ":" in host else host
                    base_url = f"http://{shown}:{port}{upstream.base_path}"
                    print(f"mockserver proxy {__version__}: base URL {base_url} -> {upstream.url}", flush=True)
                    print(
                        f"  violations: http://{shown}:{port}/__mock/violations"
                        + (f"   recording into {args.record}" if args.record else ""),
                        flush=True,
                    )
                    return

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # The upstream's Date and Server headers pass through; uvicorn must not add its own.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.log_level in ("info", "debug"),
        server_header=False,
        date_header=False,
        lifespan="on",
    )
    # uvicorn re-raises Ctrl-C once it has shut down (the reports are written by then).
    with contextlib.suppress(KeyboardInterrupt):
        AnnouncingServer(config).run()
    return 0


def write_reports(observation: Observation, formats: list[str], directory: Path, spec: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        path = directory / REPORT_FILES[fmt]
        if fmt == "junit":
            path.write_text(observation.junit(spec), encoding="utf-8")
        else:
            path.write_text(json.dumps(observation.report_json(spec), indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    sys.exit(main())
