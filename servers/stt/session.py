"""One WebSocket session: frames in, segmenter and decodes in the middle, events out.

The receive loop is the only reader and ``Outbox.run`` the only writer; what becomes of
the utterances the segmenter finds (decodes, turns, finals) is ``turns.py``'s. Blocking
work never runs on the event loop: the VAD runs in a small thread pool (in order, one
push at a time per session) and decodes go through the shared ``DecodeScheduler``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from servers.common.audio import Pcm16Reassembler, int16_to_float
from servers.common.body import parse_json
from servers.common.state import ServerState
from servers.common.usage import note_error, usage_of

from . import backpressure, closing, metrics
from .band import NarrowbandThresholds
from .config import SttSettings
from .limits import Close, SessionLimits
from .options import SessionOptions
from .scheduler import DecodeScheduler
from .segmenter import SegmenterConfig, SegmentEvent, UtteranceSegmenter
from .turns import Turns
from .vad import SAMPLE_RATE, StreamingVad

TICK_S = backpressure.TICK_S  # how often limits and draining are checked
# Closes the WebSocket layer makes itself, seen by the session as the client's going
# (code: the record's error, its reason). No client sends these: they answer a frame of
# ours, and the server's are small and UTF-8.
LAYER_CUTS = {1009: ("frame_too_large", "frame exceeds the WebSocket layer's limit"),
              1007: ("invalid_utf8", "a text frame that is not UTF-8")}
NOT_JSON = object()  # a control frame that does not parse (``null`` is JSON, and no type)
# The largest control message parsed (the contract's are about 20 bytes). A text frame up
# to max_frame_bytes parsed on the event loop took up to 46 ms (1 MB of "[0,0,...]"),
# each other caller's events waiting behind it, as often as a client sent one.
MAX_CONTROL_BYTES = 16_384
EXPECTED = 'expected {"type": "finalize" | "close" | "keepalive"}'

log = logging.getLogger("rymi.stt")


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
        config = SegmenterConfig(
            threshold=options.vad_threshold,
            neg_threshold=s.neg_threshold_for(options.vad_threshold),
            min_speech_ms=s.min_speech_ms, endpointing_ms=options.endpointing_ms,
            speculative_ms=s.speculative_ms, speech_pad_ms=s.speech_pad_ms,
            max_utterance_s=s.max_utterance_s)
        vad = StreamingVad(ctx.vad_model, quiet_below=config.neg)
        self.segmenter = UtteranceSegmenter(vad.probabilities, config)
        narrow = s.narrowband_vad_threshold
        self.band = NarrowbandThresholds(self.segmenter, vad, narrow,
                                         s.neg_threshold_for(narrow)) \
            if 0 < narrow < options.vad_threshold and not options.vad_from_url else None
        self.turns = Turns(ctx, options, self.segmenter, self._send)
        self.outbox = self.turns.outbox
        self.abort = self.turns.abort
        self.pcm = Pcm16Reassembler()
        self.limits = SessionLimits(s, ctx.state, time.monotonic())
        self.samples = 0
        self.client_close_code: int | None = None  # 1006: gone with no close frame

    # -- lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        await self.ws.accept()
        metrics.ACTIVE_SESSIONS.inc()
        sender = asyncio.create_task(self.outbox.run())
        code: int | None = None
        try:
            code, message = await self._receive_loop(sender)
            if code is not None:
                self._note_close(code, message)
                code = await closing.end(self, sender, code, message)
        except (WebSocketDisconnect, OSError):
            code = None  # the client went away (or would not read): nothing more to send
        except RuntimeError as exc:  # Starlette's: the socket was closed under us
            log.warning("stt session ended by %s: %s", type(exc).__name__, exc)
            code = None
        finally:
            sender.cancel()
            if sender.done() and not sender.cancelled():
                sender.exception()  # the client's failed write, expected: not logged as lost
            self.turns.cancel()
            metrics.ACTIVE_SESSIONS.dec()
            # The WebSocket layer's own cut (a frame past 8x max_frame_bytes, a text frame
            # not UTF-8), read here or while closing: not a client that hung up. Metric
            # and record say it alike.
            layer_cut = LAYER_CUTS.get(self.client_close_code) if code is None else None
            code = self.client_close_code if layer_cut else code
            metrics.SESSION_CLOSES.labels(str(code) if code else "disconnect").inc()
            extra = usage_of(self.ws).extra
            if layer_cut:  # (a close the server had begun keeps its own error and reason)
                note_error(self.ws, layer_cut[0])
                extra.setdefault("close_reason", layer_cut[1])
                extra["close_code"] = code
            if self.turns.abort.done():  # the engine failed: the record says so (1011 alone
                note_error(self.ws, "engine_error")  # was any server error)
            if code is None:  # the client left (a dropped call: 1006), as TTS and LLM say
                extra.update(client_disconnected=True, client_close_code=self.client_close_code)
            extra.update(
                audio_seconds=round(self.samples / SAMPLE_RATE, 3), finals=self.turns.finals,
                model=self.options.model, language=self.options.language_code or
                ",".join(self.options.candidates) or "auto",  # a list: its languages
                languages_heard=self.turns.languages_heard,
                audio_band=(band := self.band.watch.band if self.band else None))
            if band == "narrow":
                metrics.NARROWBAND_SESSIONS.inc()

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
                await closing.read_close(self, receive)
                return None, None
            if receive in done:  # a frame is handled before any limit closes the session
                message, receive = receive.result(), None
                if message["type"] == "websocket.disconnect":
                    self.client_close_code = message.get("code")  # (1009: see run's end)
                    return None, None
                data = message.get("bytes")
                if data is None and message.get("text") is not None:
                    data = message["text"]
                # A text frame's size is its UTF-8 bytes, not its characters ("€" is 3).
                size = 0 if data is None else len(data) if not isinstance(data, str) \
                    or data.isascii() else len(data.encode())
                if size > s.max_frame_bytes:
                    return 1009, (f"frame of {size} bytes exceeds max_frame_bytes "
                                  f"({s.max_frame_bytes})")
                if isinstance(data, bytes):
                    ended = await self._audio(data)
                    if ended is not None:
                        return ended
                elif data is not None:
                    if self._control(data, size):
                        return 1000, None
                    ended = await backpressure.hold_while_unanswered(self, sender) \
                        or await backpressure.hold_while_backlogged(self)  # (a finalize's)
                    if ended is not None:
                        return ended
                # Stamped once the frame is handled: a hold for back-pressure in _audio is
                # the server's wait, not the client's silence.
                last_frame = time.monotonic()
            now = time.monotonic()
            if self._finals_owed():  # a caller waiting for its finals is not idle
                last_frame = now
            limit = self.limit(now) or self.limits.idle(now, last_frame)
            if limit is not None:
                if receive is not None:
                    receive.cancel()
                return limit

    def _finals_owed(self) -> bool:
        """An utterance whose audio has ended is still being decoded. (Idle counted
        through that, a caller that sent a long call at full speed and waited was cut
        off with its finals still to come, or lost them past flush_timeout_s.) A final
        decoded but not yet sent is not counted: a client that reads nothing meets
        send_timeout_s."""
        open_turn = self.turns.turn
        return any(not turn.closed and turn is not open_turn for turn in self.outbox.pending)

    def limit(self, now: float) -> Close | None:
        return self.limits.check(now, mid_turn=self.segmenter.speaking or
                                 bool(self.outbox.pending))

    def _note_close(self, code: int, message: str | None) -> None:
        """Why the server ends this session, in its usage record: the close code alone
        does not say which limit cut a call (1008 is three of them)."""
        error = self.limits.hit or {1009: "frame_too_large"}.get(code)
        if error is not None:
            note_error(self.ws, error)
        if message:
            usage_of(self.ws).extra["close_reason"] = message

    async def _send(self, event: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(event, ensure_ascii=False))

    # -- input ------------------------------------------------------------------------
    def _control(self, text: str, size: int) -> bool:
        """Handle one JSON control message (``size`` bytes); True when the session should
        close."""
        if size > MAX_CONTROL_BYTES:
            self.outbox.notice({"type": "error", "message": f"control message of {size} "
                                f"bytes, past {MAX_CONTROL_BYTES}; {EXPECTED}"}, now=True)
            return False
        try:
            message = parse_json(text)
        except ValueError:
            message = NOT_JSON
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "finalize":
            self._finalize()
        elif kind == "close":
            return True
        elif kind != "keepalive":
            what = "malformed JSON" if message is NOT_JSON else f"unknown message {text[:80]!r}"
            self.outbox.notice({"type": "error", "message": f"{what}; {EXPECTED}"}, now=True)
        return False

    def force_end(self, trigger: str = "finalize") -> None:
        """End the utterance in progress (a finalize, or ``close``: the session ends), a
        short word too."""
        for event in (self.segmenter.force_start(), self.segmenter.force_end()):
            if event is not None:
                self.turns.on_segment(event, trigger)

    def _finalize(self) -> None:
        at = time.monotonic()
        self.force_end()
        turn = self.outbox.last_open()
        # Nothing pending, or its final already on the wire: this finalize gets its own.
        if turn is None or turn.finalize_at is not None or turn.final_out:
            self.outbox.answer(self.turns.final_event(None), finalize_at=at)
        else:
            turn.finalize_at = at

    def _score(self, samples: np.ndarray) -> list[SegmentEvent]:
        if self.band is not None:  # a phone call's thresholds, once it shows it is one
            self.band.before(samples)
        return self.segmenter.push(samples)

    async def _audio(self, data: bytes) -> Close | None:
        """Take one frame; returns a close (code, reason) when the session must end."""
        samples = self.pcm.push(data)
        if not len(samples):
            return None
        self.samples += len(samples)
        # As it comes: counted at the session's end, an hour's call showed no audio
        # until it hung up.
        metrics.AUDIO_SECONDS.inc(len(samples) / SAMPLE_RATE)
        loop = asyncio.get_running_loop()
        events = await loop.run_in_executor(self.ctx.vad_pool, self._score,
                                            int16_to_float(samples))
        self.turns.pushed(events, time.monotonic())
        return await backpressure.hold_while_backlogged(self)
