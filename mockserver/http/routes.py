"""HTTP handlers for the video API: translate requests into service calls and results into wire shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mockserver.core import jsonbody, outcomes
from mockserver.core.clock import ClockSettings
from mockserver.core.errors import bad_request
from mockserver.core.jobs import Job, seconds_until_change
from mockserver.core.videos import JobView, VideoService
from mockserver.http import limits, wire
from mockserver.http.downloads import Downloads
from mockserver.http.inputs import Body, parse_body, parse_query
from mockserver.http.routing import Handler

if TYPE_CHECKING:
    from mockserver.http.app import Server
    from mockserver.http.pipeline import Call

POLL_AFTER_HEADER = "openai-poll-after-ms"
_POLL_AFTER_RAW = POLL_AFTER_HEADER.encode("latin-1")
_JSON_TYPE = (b"content-type", b"application/json")


class CompactJSONResponse(JSONResponse):
    """Starlette's JSONResponse, byte for byte, rendered with the shared encoder."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):  # encoded already (Server.video_body); no JSON document is bytes
            return content
        return jsonbody.dumps(content)  # json.dumps with options builds a new encoder on every call

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        # The common case (no headers given, a status with a body) in two tuples: Starlette's general
        # version checks every header name and formats the length through str, on every poll.
        if headers is None and self.status_code >= 200 and self.status_code not in (204, 304):
            self.raw_headers = [(b"content-length", b"%d" % len(self.body)), _JSON_TYPE]
        else:
            super().init_headers(headers)


class VideoRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.contract = server.contract
        self.service = server.service
        self.vocabulary = server.contract.vocabulary
        self.downloads = Downloads()

    def table(self) -> dict[tuple[str, str], Handler]:
        """Which handler answers each operation a contract may have (method, path template)."""
        return {
            ("POST", "/videos"): self.create,
            ("GET", "/videos"): self.list,
            ("GET", "/videos/{video_id}"): self.retrieve,
            ("DELETE", "/videos/{video_id}"): self.delete,
            ("GET", "/videos/{video_id}/content"): self.content,
            ("POST", "/videos/{video_id}/remix"): self.remix,
            ("POST", "/videos/edits"): self.edit,
            ("POST", "/videos/extensions"): self.extend,
            ("POST", "/videos/characters"): self.create_character,
            ("GET", "/videos/characters/{character_id}"): self.get_character,
        }

    # -- helpers ---------------------------------------------------------------------------

    def _service(self, call: Call) -> VideoService:
        return self.service.with_clock(call.clock)

    def _video_response(self, view: JobView, request: Request) -> Response:
        response = CompactJSONResponse(self.server.video_body(view, request.scope))
        remaining = seconds_until_change(view.job, view.now)
        if remaining is not None:
            response.raw_headers.append((_POLL_AFTER_RAW, b"%d" % _poll_after_ms(remaining, view.settings)))
        return response

    async def _body(self, request: Request, call: Call, method: str, path: str) -> Body:
        """The validated body of this operation (the contract's validators), noted on `call` for the journal."""
        op = self.contract.find(method, path)
        assert op is not None  # routes exist only for operations the contract has
        body = await parse_body(request, op, self.server.config.max_upload_bytes)
        call.body, call.uploads = body.sent, body.upload_records()
        return body

    def _script(self, request: Request, prompt: str | None) -> outcomes.ScriptedOutcome:
        return outcomes.from_headers(request.headers).merged_over(outcomes.from_prompt(prompt))

    def _extras(self, body: Body, stored: tuple[str, ...]) -> dict[str, Any]:
        # Only fields the contract declares: an unknown field is accepted and not kept with the job
        # (it would be memory any client could take, for as long as the job lives).
        # Long strings in what is kept (an image_url data: URL) keep their start and length only.
        return {k: limits.trimmed(v) for k, v in body.values.items() if k in body.known and k not in stored}

    # -- handlers --------------------------------------------------------------------------

    async def create(self, request: Request, call: Call) -> Response:
        owner, rules = self.server.auth.authenticate(request)
        body = await self._body(request, call, "POST", "/videos")
        values = body.values
        model = str(values.get("model", "sora-2"))
        self.server.auth.check_model(rules, model)
        view = await self._service(call).create(
            owner,
            model=model,
            prompt=values.get("prompt"),
            size=str(values.get("size", "720x1280")),
            seconds=str(values.get("seconds", "4")),
            script=self._script(request, values.get("prompt")),
            extras=self._extras(body, ("model", "prompt", "size", "seconds")),
        )
        return self._video_response(view, request)

    async def retrieve(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        return self._video_response(self._service(call).get(owner, request.path_params["video_id"]), request)

    async def list(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        op = self.contract.find("GET", "/videos")
        assert op is not None
        query = parse_query(request, op)
        limit = int(query.get("limit", 20))
        service = self._service(call)
        page, _ = service.page(
            owner, after=query.get("after") or None, limit=limit, descending=query.get("order", "desc") != "asc"
        )
        items = [self.server.render_video(service.view(job), request.scope) for job in page.jobs]
        return CompactJSONResponse(wire.video_list(items, page.has_more))

    async def delete(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        job = self._service(call).delete(owner, request.path_params["video_id"])
        return CompactJSONResponse(wire.deleted(job))

    async def content(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        op = self.contract.find("GET", "/videos/{video_id}/content")
        assert op is not None
        query = parse_query(request, op)
        variant = str(query.get("variant") or self.vocabulary.default_variant)
        if variant not in self.service.media.variants():
            raise bad_request(
                f"Unknown variant {variant!r}; this server has {', '.join(self.service.media.variants())}.",
                param="variant",
            )
        video_id = request.path_params["video_id"]
        job = self._service(call).downloadable(owner, video_id)  # the request's clock says if it is done
        replay = self.service.replay  # `serve --replay`: a replayed job serves what the recording downloaded
        media = (replay.media(job.id, variant) if replay else None) or await self.service.media.fetch(job, variant)
        return await self.downloads.response(request, media.path, media.media_type, f"{video_id}{media.path.suffix}")

    async def remix(self, request: Request, call: Call) -> Response:
        owner, rules = self.server.auth.authenticate(request)
        source = self._service(call).completed_source(owner, request.path_params["video_id"])
        body = await self._body(request, call, "POST", "/videos/{video_id}/remix")
        self.server.auth.check_model(rules, source.model)
        prompt = body.values.get("prompt")
        view = await self._service(call).create(
            owner,
            model=source.model,
            prompt=prompt,
            size=source.size,
            seconds=source.seconds,
            script=self._script(request, prompt),
            source=source,
        )
        return self._video_response(view, request)

    async def _derived(
        self, request: Request, call: Call, path: str, seconds: Callable[[Job | None, dict[str, Any]], str]
    ) -> Response:
        """Edits and extensions: a new job built on a completed video given by id, or on an upload."""
        owner, rules = self.server.auth.authenticate(request)
        body = await self._body(request, call, "POST", path)
        source = self._source_from(call, owner, body)
        # The API infers the model from a source video; an uploaded video needs it set explicitly.
        model = source.model if source else str(body.values.get("model", "sora-2"))
        self.server.auth.check_model(rules, model)
        prompt = body.values.get("prompt")
        view = await self._service(call).create(
            owner,
            model=model,
            prompt=prompt,
            size=source.size if source else str(body.values.get("size", "720x1280")),
            seconds=seconds(source, body.values),
            script=self._script(request, prompt),
            source=source,
        )
        return self._video_response(view, request)

    async def edit(self, request: Request, call: Call) -> Response:
        return await self._derived(
            request,
            call,
            "/videos/edits",
            lambda source, values: source.seconds if source else str(values.get("seconds", "4")),
        )

    async def extend(self, request: Request, call: Call) -> Response:
        def stitched(source: Job | None, values: dict[str, Any]) -> str:
            extension = str(values.get("seconds", "4"))
            return VideoService.extended_seconds(source, extension) if source else extension

        return await self._derived(request, call, "/videos/extensions", stitched)

    def _source_from(self, call: Call, owner: str, body: Body) -> Job | None:
        video = body.values.get("video")
        if isinstance(video, dict) and "id" in video:
            return self._service(call).completed_source(owner, str(video["id"]))
        return None  # an uploaded video file: a new job with no source in this server

    async def create_character(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        body = await self._body(request, call, "POST", "/videos/characters")
        return CompactJSONResponse(
            wire.character(self._service(call).create_character(owner, str(body.values.get("name", ""))))
        )

    async def get_character(self, request: Request, call: Call) -> Response:
        owner, _ = self.server.auth.authenticate(request)
        return CompactJSONResponse(
            wire.character(self._service(call).get_character(owner, request.path_params["character_id"]))
        )


def _poll_after_ms(remaining_virtual: float, settings: ClockSettings) -> int:
    # Tell the SDK's poll() to come back about when something will have changed, within sane bounds.
    if settings.frozen or settings.speed == 0:
        return 1000
    real_ms = remaining_virtual / settings.speed * 1000
    return 50 if real_ms < 50 else 2000 if real_ms > 2000 else int(real_ms)
