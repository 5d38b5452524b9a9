"""The OpenAI-compatible HTTP API over a decoding :class:`~osum.decode.engine.Engine`.

    app = create_app(Engine(Speech2Text("exported/osum")).start(), Settings())
    uvicorn.run(app, host="127.0.0.1", port=8000)      # python -m osum.bin.serve does this

Routes: ``POST /v1/audio/transcriptions`` (multipart, as OpenAI's: json, text, srt, vtt,
verbose_json; ASR, or SRWT where word times are asked for), ``POST /v1/chat/completions``
(one audio part; the task from ``task``, a prompt, or STTC with the text as question;
``stream`` gives server-sent events), ``GET /v1/models[/{id}]``, ``GET /health``,
``GET /metrics`` (Prometheus) and the demo page (``GET /demo``, :mod:`osum.serve.demo`).
Errors are OpenAI's JSON (:mod:`osum.serve.errors`). Each request is decoded by the
engine alone or batched with others, its answer the same.
"""

import asyncio
import concurrent.futures
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.routing import Match

from osum.decode.engine import Engine, EngineClosed, QueueFull
from osum.decode.speech2text import Result
from osum.serve import chat, formats
from osum.serve.demo import add_demo, demo_tasks
from osum.serve.errors import APIError, install
from osum.serve.gate import Gate
from osum.serve.inputs import Audio, load
from osum.serve.metrics import Measure, Metrics
from osum.serve.remote import fetch_async
from osum.serve.settings import Settings
from osum.serve.streaming import chat_events, threadsafe_put

logger = logging.getLogger(__name__)

DISCONNECT_POLL = 0.25  # seconds between checks that a waiting client is still there
ASR, TIMED = "ASR", "SRWT"  # the transcription endpoint's tasks: without, with word times
GRANULARITIES = ("word", "segment")


def create_app(engine: Engine, settings: Settings | None = None) -> FastAPI:
    """The API over a started ``engine``; the app closes it when it shuts down."""
    settings = settings or Settings()
    s2t = engine.s2t
    registry = s2t.registry
    by_text = chat.task_by_text(registry)
    metrics = Metrics(engine)
    engine.on_step = metrics.batch_rows.observe
    closing = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            closing.set()
            await run_in_threadpool(engine.close)

    app = FastAPI(title="osum", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    install(app)
    app.state.settings, app.state.engine, app.state.metrics = settings, engine, metrics

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        logger.exception(f"{request.method} {request.url.path} failed")
        return APIError(
            500, f"internal error: {type(e).__name__}", code="internal_error"
        ).response()

    def check_model(model) -> None:
        if model is not None and not isinstance(model, str):
            raise APIError(400, "model: a model's name (a string)", "model", "invalid_value")
        if model not in (None, "", settings.served_model_name):
            raise APIError(
                404,
                f"the model {chat.shown(model)} does not exist; this server has "
                f"{settings.served_model_name!r}",
                "model",
                "model_not_found",
            )

    def submit(audio: Audio, task: str, question=None, on_text=None) -> concurrent.futures.Future:
        try:
            return engine.submit(audio.wave, task, question, on_text)
        except QueueFull as e:
            raise APIError(
                429,
                f"the server is busy ({e}); retry later",
                code="queue_full",
                headers={"Retry-After": str(settings.retry_after)},
            ) from None
        except EngineClosed:
            raise shutting_down() from None
        except ValueError as e:
            raise APIError(400, str(e), "task", "invalid_task") from None

    async def wait(
        future: concurrent.futures.Future, audio: Audio, request: Request | None = None
    ) -> Result:
        """The engine's answer; a ``request`` whose client goes away meanwhile cancels it
        (the engine lets its rows go at its next step)."""
        answer = asyncio.wrap_future(future)
        try:
            while request is not None:
                done, _ = await asyncio.wait({answer}, timeout=DISCONNECT_POLL)
                if done:
                    break
                if await request.is_disconnected():
                    future.cancel()
                    raise APIError(499, "the client closed the request", code="client_closed")
            result = await answer
        except EngineClosed:
            raise shutting_down() from None
        metrics.audio_seconds.inc(audio.seconds)
        return result

    @app.get("/health")
    async def health():
        if closing.is_set():
            return JSONResponse({"status": "closing"}, status_code=503)
        return {"status": "ok"}

    @app.get("/metrics")
    async def scrape():
        return Response(metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    def model_card() -> dict:
        return {
            "id": settings.served_model_name,
            "object": "model",
            "created": settings.created,
            "owned_by": "osum",
        }

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model:path}")
    async def model(model: str):
        if model != settings.served_model_name:
            raise APIError(
                404, f"the model {chat.shown(model)} does not exist", "model", "model_not_found"
            )
        return model_card()

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request):
        require_type(request, "multipart/form-data")
        form = await read_form(request)
        try:
            return await transcribe(form, request)
        finally:
            await form.close()

    async def transcribe(form, request: Request) -> Response:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise APIError(400, "file: an audio file is required", "file", "missing_file")
        check_model(form.get("model"))
        fmt = form.get("response_format") or "json"
        if fmt not in formats.FORMATS:
            raise APIError(
                400,
                f"response_format {fmt!r}: one of {', '.join(formats.FORMATS)}",
                "response_format",
                "invalid_value",
            )
        grains = form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
        if any(g not in GRANULARITIES for g in grains):
            raise APIError(
                400,
                f"timestamp_granularities: {grains}; each one of {', '.join(GRANULARITIES)}",
                "timestamp_granularities",
                "invalid_value",
            )
        if str(form.get("stream", "false")).lower() not in ("false", "0", ""):
            raise APIError(400, "stream: transcriptions are not streamed here", "stream")
        audio = await load(await upload.read(), f"file {upload.filename!r}", s2t, settings)
        words = "word" in grains
        task = TIMED if words or fmt in formats.TIMED else ASR
        result = await wait(submit(audio, task), audio, request)
        language = str(form.get("language") or "unknown")
        body, media = formats.render(result, fmt, audio.seconds, language, words)
        if isinstance(body, dict):
            return JSONResponse(body)
        return PlainTextResponse(body, media_type=media)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        require_type(request, "application/json")
        body = chat.load_body(await request.body())
        if isinstance(body, dict):
            check_model(body.get("model"))
        req = chat.parse_request(body, registry, by_text, settings.max_question_chars)
        data = req.audio if req.audio is not None else await fetch_async(req.url, settings)
        audio = await load(data, req.what, s2t, settings)
        task = registry[req.task]
        completion = chat.Completion(settings.served_model_name)
        if not req.stream:
            result = await wait(submit(audio, req.task, req.question), audio, request)
            text = chat.result_content(task, result)
            osum = chat.extension(result, audio.seconds)
            return JSONResponse(completion.whole(text, usage(req, result), osum))
        texts: asyncio.Queue = asyncio.Queue()
        post = threadsafe_put(texts)
        # a chunked request's text is not a prefix of its answer (the chunks are joined):
        # it is sent whole, at the end
        single = len(s2t.chunks(audio.wave)) == 1
        future = submit(audio, req.task, req.question, post if single else None)
        future.add_done_callback(lambda f: post(None))

        def finish(result: Result) -> dict:
            return {"usage": usage(req, result), "osum": chat.extension(result, audio.seconds)}

        async def events():
            try:
                async for event in chat_events(
                    completion, task, texts, lambda: wait(future, audio), finish
                ):
                    yield event
            finally:  # the client went away mid-stream: the engine lets the request go
                future.cancel()

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def usage(req: chat.ChatRequest, result: Result) -> dict:
        prompt = len(s2t.pre.encode(s2t.pre.prompt_for(req.task, req.question)))
        completion = len(s2t.pre.encode(result.text))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def label(scope) -> str:
        """The route template a request matched (``other`` for none): the metrics' label."""
        route = scope.get("route")
        if route is None:
            route = next((r for r in app.router.routes if r.matches(scope)[0] == Match.FULL), None)
        return getattr(route, "path", "other")

    language = s2t.pre.prompt_languages[0]
    add_demo(app, demo_tasks(registry, language), settings.served_model_name)
    app.add_middleware(Gate, settings=settings)
    app.add_middleware(Measure, metrics=metrics, label=label)
    return app


def shutting_down() -> APIError:
    return APIError(503, "the server is shutting down", code="shutting_down")


def require_type(request: Request, media: str) -> None:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given != media:
        raise APIError(
            415,
            f"Content-Type {given or '(none)'}: this endpoint reads {media}",
            code="unsupported_media_type",
        )


async def read_form(request: Request):
    """The multipart form; a body that does not parse is a 400 (a 413 passes)."""
    try:
        return await request.form(max_files=1, max_fields=32)
    except HTTPException as e:
        raise APIError(
            400, f"the multipart body does not parse: {e.detail}", code="invalid_body"
        ) from None
