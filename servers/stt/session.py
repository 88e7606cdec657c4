"""One WebSocket session: frames in, segmenter and decodes in the middle, events out.

The receive loop is the only reader and ``Outbox.run`` the only writer. Blocking work
never runs on the event loop: the VAD runs in a small thread pool (in order, one push at
a time per session) and decodes go through the shared ``DecodeScheduler``.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from servers.common.audio import Pcm16Reassembler, int16_to_float
from servers.common.lifecycle import ServerState
from servers.common.usage import usage_of

from . import metrics
from .config import SttSettings
from .engine import DecodeOptions, Transcript
from .languages import SessionLanguage
from .limits import Close, SessionLimits
from .options import SessionOptions
from .outbox import Outbox, Turn
from .scheduler import DecodeJob, DecodeScheduler
from .segmenter import SegmenterConfig, SegmentEvent, UtteranceSegmenter
from .vad import SAMPLE_RATE, StreamingVad

TICK_S = 0.25  # how often limits and draining are checked while no frame arrives


@dataclass
class SttContext:
    """What every session shares: settings, the decode scheduler, the VAD model and pool."""

    settings: SttSettings
    scheduler: DecodeScheduler
    vad_model: Any
    vad_pool: Executor
    state: ServerState


class SttSession:
    def __init__(self, ws: WebSocket, ctx: SttContext, options: SessionOptions) -> None:
        s = ctx.settings
        self.ws, self.ctx, self.options, self.settings = ws, ctx, options, s
        self.segmenter = UtteranceSegmenter(StreamingVad(ctx.vad_model).probabilities,
                                            SegmenterConfig(
            threshold=options.vad_threshold,
            neg_threshold=s.vad_neg_threshold if options.vad_threshold == s.vad_threshold
            else None,
            min_speech_ms=s.min_speech_ms, endpointing_ms=options.endpointing_ms,
            speculative_ms=s.speculative_ms, speech_pad_ms=s.speech_pad_ms,
            max_utterance_s=s.max_utterance_s))
        # language=auto: what sure detections settled on, weighed against each detection
        # (set by the decode that was sure, see DecodeOptions.settled).
        self.language = SessionLanguage()
        self.outbox = Outbox(self._send, self._final_sent)
        self.pcm = Pcm16Reassembler()
        self.turn: Turn | None = None
        self.spec: DecodeJob | None = None
        self.interim_job: DecodeJob | None = None
        self.interim_len = 0
        self.jobs: set[DecodeJob] = set()
        self.backlog_s = 0.0
        self.backlog_changed = asyncio.Event()
        self.abort: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.limits = SessionLimits(s, ctx.state, time.monotonic())
        self.samples = 0
        self.finals = 0
        self.last_speech_pos = 0
        self.last_speech_at: float | None = None

    # -- lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        await self.ws.accept()
        metrics.ACTIVE_SESSIONS.inc()
        sender = asyncio.create_task(self.outbox.run())
        code: int | None = None
        try:
            code, message = await self._receive_loop(sender)
            if code == 1011:  # the engine failed: no final will come, say so and go
                sender.cancel()
                await self._send({"type": "error", "message": message})
                await self.ws.close(code)
            elif code is not None:
                await self._flush()
                if message:
                    self.outbox.notice({"type": "error", "message": message})
                self.outbox.stop()
                await asyncio.wait_for(sender, self.settings.flush_timeout_s)
                await self.ws.close(code)
        except (WebSocketDisconnect, OSError, TimeoutError, RuntimeError):
            code = None  # the client went away (or would not read): nothing more to send
        finally:
            sender.cancel()
            for job in self.jobs:  # a client that left cancels the work it started
                job.cancel()
            metrics.ACTIVE_SESSIONS.dec()
            metrics.SESSION_CLOSES.labels(str(code) if code else "disconnect").inc()
            usage_of(self.ws).extra.update(
                audio_seconds=round(self.samples / SAMPLE_RATE, 3), finals=self.finals,
                model=self.options.model, language=self.options.language_code or "auto")

    async def _receive_loop(self, sender: asyncio.Task[None]) -> tuple[int | None, str | None]:
        s = self.settings
        last_frame = time.monotonic()
        receive: asyncio.Future[Any] | None = None
        while True:
            if receive is None:
                receive = asyncio.ensure_future(self.ws.receive())
            done, _ = await asyncio.wait({receive, self.abort, sender}, timeout=TICK_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if self.abort.done():
                receive.cancel()
                return 1011, self.abort.result()
            if sender in done:  # the writer failed: the client is gone
                receive.cancel()
                return None, None
            if receive in done:  # a frame is handled before any limit closes the session
                message, receive = receive.result(), None
                last_frame = time.monotonic()
                if message["type"] == "websocket.disconnect":
                    return None, None
                if message.get("bytes") is not None:
                    data = message["bytes"]
                    if len(data) > s.max_frame_bytes:
                        return 1009, (f"frame of {len(data)} bytes exceeds max_frame_bytes "
                                      f"({s.max_frame_bytes})")
                    closing = await self._audio(data)
                    if closing is not None:
                        return closing
                elif message.get("text") is not None and self._control(message["text"]):
                    return 1000, None
            now = time.monotonic()
            limit = self._limit(now) or self.limits.idle(now, last_frame)
            if limit is not None:
                if receive is not None:
                    receive.cancel()
                return limit

    def _limit(self, now: float) -> Close | None:
        return self.limits.check(now, mid_turn=self.segmenter.speaking or
                                 bool(self.outbox.pending))

    async def _flush(self) -> None:
        event = self.segmenter.force_end()
        if event is not None:
            self._on_segment(event)
        try:
            await asyncio.wait_for(self.outbox.drained(), self.settings.flush_timeout_s)
        except TimeoutError:
            pass

    async def _send(self, event: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(event, ensure_ascii=False))

    # -- input ------------------------------------------------------------------------
    def _control(self, text: str) -> bool:
        """Handle one JSON control message; True when the session should close."""
        try:
            message = json.loads(text)
            kind = message.get("type") if isinstance(message, dict) else None
        except ValueError:
            kind, message = None, None
        if kind == "finalize":
            self._finalize()
        elif kind == "close":
            return True
        elif kind != "keepalive":
            what = "malformed JSON" if message is None else f"unknown message {text[:80]!r}"
            self.outbox.notice({"type": "error", "message": f"{what}; expected "
                                "{\"type\": \"finalize\" | \"close\" | \"keepalive\"}"})
        return False

    def _finalize(self) -> None:
        at = time.monotonic()
        event = self.segmenter.force_end()
        if event is not None:
            self._on_segment(event)
        turn = self.outbox.last_open()
        if turn is None or turn.finalize_at is not None:  # nothing pending: an empty final
            self.outbox.answer(self._final_event(None), finalize_at=at)
        else:
            turn.finalize_at = at

    async def _audio(self, data: bytes) -> Close | None:
        """Take one frame; returns a close (code, reason) when the session must end."""
        samples = self.pcm.push(data)
        if not len(samples):
            return None
        self.samples += len(samples)
        loop = asyncio.get_running_loop()
        events = await loop.run_in_executor(self.ctx.vad_pool, self.segmenter.push,
                                            int16_to_float(samples))
        if self.segmenter.last_speech_position != self.last_speech_pos:
            self.last_speech_pos = self.segmenter.last_speech_position
            self.last_speech_at = time.monotonic()
        for event in events:
            self._on_segment(event)
        self._maybe_interim()
        return await self._hold_while_backlogged()

    async def _hold_while_backlogged(self) -> Close | None:
        """Back-pressure: past max_buffered_s of audio awaiting its final, stop reading
        the socket (the client's sends slow down; nothing is dropped) until decodes catch
        up. Limits still apply meanwhile, and a backlog that no decode shrinks for
        backlog_timeout_s is refused loudly (error event, close 1008) after its pending
        finals are sent, never left hanging."""
        s = self.settings
        progress = time.monotonic()
        while self.backlog_s > s.max_buffered_s and not self.abort.done():
            self.backlog_changed.clear()
            try:
                await asyncio.wait_for(self.backlog_changed.wait(), TICK_S)
                progress = time.monotonic()
            except TimeoutError:
                pass
            now = time.monotonic()
            limit = self._limit(now)
            if limit is None and (limit := self.limits.backlog_stalled(
                    now, progress, self.backlog_s)) is not None:
                metrics.BACKLOG_REFUSED.inc()
            if limit is not None:
                return limit
        return None

    # -- utterances -------------------------------------------------------------------
    def _on_segment(self, event: SegmentEvent) -> None:
        if event.kind == "started":
            self.turn = self.outbox.open_turn(event.utterance)
            self.interim_len = 0
        elif event.kind == "paused" and event.audio is not None:
            # Start the final's decode now; the endpoint will most likely confirm it.
            self.spec = self._submit(event.audio, "final")
        elif event.kind == "resumed" and self.spec is not None:
            self.spec.cancel()
            self.jobs.discard(self.spec)
            self.spec = None
        elif event.kind == "ended" and event.audio is not None and self.turn is not None:
            job = self.spec if event.reuse and self.spec is not None else None
            if job is None:
                if self.spec is not None:
                    self.spec.cancel()
                job = self._submit(event.audio, "final")
            if self.interim_job is not None:
                self.interim_job.cancel()
            self.turn.speech_end_at = self.last_speech_at
            audio_s = len(event.audio) / SAMPLE_RATE
            self.backlog_s += audio_s
            asyncio.get_running_loop().create_task(self._finish(self.turn, job, audio_s))
            self.turn, self.spec, self.interim_job = None, None, None

    async def _finish(self, turn: Turn, job: DecodeJob, audio_s: float) -> None:
        try:
            result: Transcript | None = await job.future
        except asyncio.CancelledError:
            return
        except Exception as exc:  # noqa: BLE001 - any engine failure is fatal, loudly
            self._fail(exc)
            return
        finally:
            self.backlog_s -= audio_s
            self.backlog_changed.set()
            self.jobs.discard(job)
        turn.set_final(self._final_event(result))

    def _maybe_interim(self) -> None:
        seg = self.segmenter
        if (not self.options.interim or self.turn is None or not seg.speaking
                or seg.in_silence or (self.interim_job and not self.interim_job.future.done())):
            return
        audio = seg.current_audio()
        step = self.settings.interim_step_ms * SAMPLE_RATE // 1000
        if len(audio) - self.interim_len < step:
            return
        self.interim_len = len(audio)
        job = self.interim_job = self._submit(audio, "interim")
        turn = self.turn

        def deliver(future: asyncio.Future[Transcript]) -> None:
            self.jobs.discard(job)
            if future.cancelled() or job.cancelled:
                return
            if future.exception() is not None:
                self._fail(future.exception())
                return
            turn.set_interim(future.result().text)

        job.future.add_done_callback(deliver)

    def _submit(self, audio: Any, kind: str) -> DecodeJob:
        o = self.options
        # auto: finals always detect (weighed against self.language); interims reuse the
        # settled language and detect only until there is one.
        guess = self.language.code or (o.candidates[0] if o.candidates else None)
        language = o.language or (guess if kind == "interim" else None)
        options = DecodeOptions(language, self.settings.beam_size if kind == "final" else 1,
                                o.hotwords, o.model, kind == "interim", self.language.code,
                                o.candidates, self.language)
        job = self.ctx.scheduler.submit(audio, options, kind)  # type: ignore[arg-type]
        self.jobs.add(job)
        return job

    def _final_event(self, result: Transcript | None) -> dict[str, Any]:
        # Only a sure detection settled self.language (an unsure one, a short Spanish clip
        # heard as Hindi, is decoded in its guess and kept for nothing).
        text = result.text if result is not None else ""
        used = result.language if result is not None else self.language.code
        return {"type": "final", "text": text,
                "confidence": result.confidence if result is not None and text else 0.0,
                "language_code": self.options.language_code or self.options.tag_for(
                    used or (self.options.candidates or ("en",))[0])}

    def _final_sent(self, turn: Turn, now: float) -> None:
        self.finals += 1
        metrics.FINALS.labels("finalize" if turn.finalize_at else "endpoint").inc()
        if turn.finalize_at is not None:
            metrics.FINALIZE_TO_FINAL.observe(now - turn.finalize_at)
        elif turn.speech_end_at is not None:
            metrics.SPEECH_END_TO_UTTERANCE_END.observe(now - turn.speech_end_at)

    def _fail(self, exc: BaseException | None) -> None:
        if not self.abort.done():
            self.abort.set_result(f"transcription engine failed: {type(exc).__name__}")
