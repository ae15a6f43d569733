"""The baseline: a bare Starlette + uvicorn app doing the least each mock endpoint must do.

- poll: return the same JSON the mock returns for the job (a dict serialised per request, as the
  mock does), with no auth, lookup, lifecycle or extra headers;
- create: parse the same multipart form (reading any file) and return a JSON object;
- download: `FileResponse` of the same file (Range handled by Starlette, as in the mock).

Run: python -m benchmarks.bare --port P --video-json FILE --file MP4 [--workers N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route


def create_app(video: dict[str, Any], download: Path) -> Starlette:
    async def poll(request: Request) -> Response:
        return JSONResponse(video)

    async def create(request: Request) -> Response:
        form = await request.form(max_files=16, max_fields=256)
        fields: dict[str, Any] = {}
        for key, item in form.multi_items():
            fields[key] = len(await item.read()) if isinstance(item, UploadFile) else item
        return JSONResponse({**video, "prompt": fields.get("prompt")})

    async def content(request: Request) -> Response:
        return FileResponse(download, media_type="video/mp4", filename="video.mp4", content_disposition_type="attachment")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/videos", create, methods=["POST"]),
            Route("/v1/videos/{video_id}", poll),
            Route("/v1/videos/{video_id}/content", content),
            Route("/health", health),
        ]
    )


def app_factory() -> Starlette:
    """For `uvicorn --factory` with several workers: the settings come through the environment."""
    import os

    return create_app(json.loads(os.environ["BENCH_VIDEO_JSON"]), Path(os.environ["BENCH_DOWNLOAD"]))


def main(argv: list[str] | None = None) -> int:
    import os

    import uvicorn

    p = argparse.ArgumentParser(prog="python -m benchmarks.bare", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--video-json", type=Path, default=None, help="the JSON to answer polls with")
    p.add_argument("--file", type=Path, default=None, help="the file to serve for downloads")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--access-log", action="store_true", help="log each request, as `mockserver serve` does at info level")
    args = p.parse_args(argv)
    video = json.loads(args.video_json.read_text()) if args.video_json else {"id": "video_bare", "object": "video"}
    os.environ["BENCH_VIDEO_JSON"] = json.dumps(video)
    os.environ["BENCH_DOWNLOAD"] = str(args.file or Path(__file__))
    level = "info" if args.access_log else "warning"
    uvicorn.run(
        "benchmarks.bare:app_factory", factory=True, host="127.0.0.1", port=args.port,
        workers=args.workers, log_level=level, access_log=args.access_log,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
