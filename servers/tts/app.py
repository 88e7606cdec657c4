"""Routes and wiring of the TTS server: POST /tts (and /), GET /voices, GET /openapi.json.

Everything that can fail is decided before the 200: the URL options, the body, the voice,
the format, capacity, and the first piece of audio itself. After the 200 a failure aborts
the connection (no chunked terminator), so a cut stream never passes for short audio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers.common.app import create_app as create_base_app
from servers.common.errors import ApiError, StreamAborted, overloaded
from servers.common.open_files import near_limit_note
from servers.common.streaming import DisconnectAwareStreamingResponse, HangUp
from servers.common.usage import usage_of

from . import metrics
from .config import TtsSettings
from .engine import Engine
from .instructions import style_for
from .openapi import openapi_schema
from .request import query_defaults, read_body, resolve_job
from .service import TtsService
from .stream import SynthesisStream
from .text import plan

log = logging.getLogger("rymi.tts")


def _service(request: Request) -> TtsService:
    return request.app.state.tts


# Reading a text's numbers and marks costs 3-20 µs a character (prose 16 ms at the
# 5,000-character cap, the densest shapes 90 ms: `python -m bench.tts_plan`): a long one
# is planned in a thread, so the event loop gets the GIL back between rules (each rule's
# pass holds it, which is why none may be quadratic); most are short (1 ms for 280).
PLAN_IN_THREAD_CHARS = 1000


async def synthesize(request: Request) -> Response:
    try:
        return await _synthesize(request)
    except ApiError as exc:
        metrics.ERRORS.labels(exc.code).inc()  # (the record has it from the error handler)
        raise


async def _synthesize(request: Request) -> Response:
    svc = _service(request)
    settings = svc.settings
    query = query_defaults(request, svc.catalog)
    body = await read_body(request, settings)
    job = resolve_job(body, query, svc.catalog, settings)
    if len(job.text) > PLAN_IN_THREAD_CHARS:
        pieces = await asyncio.to_thread(plan, job.text, job.language, settings.first_piece_chars)
    else:
        pieces = plan(job.text, job.language, settings.first_piece_chars)
    if not pieces:
        raise ApiError(422, "text: nothing speakable in it", "empty_text", param="text")
    usage = usage_of(request)
    stream = SynthesisStream(
        engine=svc.engine, pool=svc.pool, voice=job.voice, pieces=pieces,
        style=style_for(job.instructions, job.speed), out_rate=job.rate, gain=settings.gain,
        sentence_silence_s=settings.sentence_silence_s, resample_quality=settings.resample_quality,
        started=usage.started, pace=svc.admission.pace(job.voice.id))
    _admit(svc, stream)
    usage.extra.update(characters=len(job.text), voice=job.voice.id, format=f"pcm_{job.rate}")
    if not svc.engine.loaded(job.voice):
        try:
            await svc.ensure_loaded(job.voice)
        except Exception as exc:
            log.error("voice %s failed to load: %s%s", job.voice.id, exc, near_limit_note())
            raise ApiError(500, f"voice {job.voice.id!r} failed to load",
                           "voice_load_failed") from None
        _admit(svc, stream)  # again: others may have come while the voice loaded
    svc.admission.opened(stream)
    metrics.CHARACTERS.inc(len(job.text))  # (the engine is asked for it from here)
    try:
        # The first piece may wait behind other requests' pieces: a caller who leaves
        # meanwhile withdraws it (and the one queued after it), not synthesised for nobody.
        async with HangUp(request.receive) as hang_up:
            first = await stream.first_chunk()
    except Exception as exc:
        _record_pieces(stream, usage.extra)
        log.exception("synthesis failed before the first byte: %s", _cause(exc))
        raise ApiError(500, "synthesis failed", "synthesis_failed") from None
    if hang_up.hung_up or not first:  # (the engine's work on it, in the record too)
        _record_pieces(stream, usage.extra)
    if hang_up.hung_up:
        usage.extra["client_disconnected"] = True
        return Response(status_code=499)  # nobody reads it; the usage record has it
    if not first:  # "_" or "①" pass the text checks but piper makes no sound of them:
        # a 200 with no audio would be a silent failure that looks like success.
        raise ApiError(422, "text: nothing speakable in it", "empty_text", param="text")
    # Disconnect-aware: a hang-up cancels the stream at once, not after the next piece.
    return DisconnectAwareStreamingResponse(_body(stream, first, usage.extra),
                                            media_type="application/octet-stream",
                                            headers={"Cache-Control": "no-store"})


def _admit(svc: TtsService, stream: SynthesisStream) -> None:
    """503 when the queue is full, when the workers already fall behind the audio they
    owe, or when with this stream they would (admission.py): each stream holds one
    piece in the queue, so the queue bound alone let in ~30 streams on 2 workers, and
    every caller then heard 15-20 s of gaps."""
    if svc.pool.full():
        raise overloaded("the synthesis queue")
    now = time.monotonic()
    if svc.pool.late_s(now) > svc.settings.max_late_s:
        raise overloaded("synthesis (the streams in progress are behind real time)")
    if svc.admission.refuses(stream, now):
        raise overloaded("synthesis (one more stream would put those in progress behind "
                         "real time)")


# A piece may be 40 s of audio or more (300 characters, spoken slowly). Written whole, its
# one write waited on a caller who reads at playback speed for all of it, and the send
# timeout took that caller for one that reads nothing: written in slices, every write
# moves on as the caller plays.
SLICE_S = 0.5


def _sliced(pcm: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(pcm), size):
        yield pcm[start:start + size]


async def _body(stream: SynthesisStream, first: bytes, extra: dict) -> AsyncIterator[bytes]:
    metrics.STREAMS.inc()
    size = 2 * int(stream.out_rate * SLICE_S)  # whole 16-bit samples
    try:
        for part in _sliced(first, size):
            yield part
        async for chunk in stream.rest():
            for part in _sliced(chunk, size):
                yield part
    except asyncio.CancelledError:  # the client hung up: rest() withdrew the queued piece
        extra["client_disconnected"] = True
        raise
    except Exception as exc:
        # Re-raised on purpose: uvicorn then closes the socket without the final chunk.
        log.error("synthesis failed mid-stream, aborting the response: %s", _cause(exc))
        metrics.ERRORS.labels("synthesis_failed_mid_stream").inc()
        extra["error"] = "synthesis_failed_mid_stream"
        raise StreamAborted(str(exc)) from exc
    finally:
        metrics.STREAMS.dec()
        stats = stream.stats
        seconds = stream.audio_seconds
        metrics.AUDIO_SECONDS.inc(seconds)
        if seconds > 0 and stats.pieces_done == stats.pieces_total:
            metrics.RTF.observe(stats.synth_s / seconds)
        _record_pieces(stream, extra, seconds)
        extra.update(ttfa_s=round(stats.first_audio_s or 0.0, 4),
                     rtf=round(stats.synth_s / seconds, 4) if seconds else None)


def _cause(exc: BaseException) -> str:
    """An exception as a log line names it: its type too (a MemoryError() has no words,
    and the line ended at its colon)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _record_pieces(stream: SynthesisStream, extra: dict, audio_seconds: float = 0.0) -> None:
    """What the engine did for this request, in its record, however it ended: a caller
    who hung up before the first byte had none of it (the first piece made, for nobody)."""
    stats = stream.stats
    extra.update(audio_seconds=round(audio_seconds, 3), pieces_total=stats.pieces_total,
                 pieces_synthesized=stats.pieces_started, pieces_finished=stats.pieces_made)


async def voices(request: Request) -> Response:
    return JSONResponse(_service(request).catalog.listing())


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_schema(_service(request)))


def create_app(settings: TtsSettings, engine: Engine | None = None) -> Starlette:
    """``engine`` replaces the piper engine (tests wrap it to inject faults)."""

    async def startup(app: Starlette) -> None:
        service = TtsService.build(settings, engine)
        app.state.tts = service
        await service.start()

    async def shutdown(app: Starlette) -> None:
        service = getattr(app.state, "tts", None)
        if service is not None:
            await service.stop()

    routes = [
        Route("/tts", synthesize, methods=["POST"]),
        Route("/", synthesize, methods=["POST"]),
        Route("/voices", voices, methods=["GET"]),
        Route("/tts/voices", voices, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return create_base_app(settings=settings, channel="custom-voice", routes=routes,
                           startup=startup, shutdown=shutdown)
