"""The decode side of one STT session: the segmenter's utterances become turns.

Each utterance the segmenter finds opens a turn in the outbox (so finals go out in the
order spoken); while it is spoken, interim decodes run every ``interim_step_ms``; at a
pause the final's decode starts speculatively (the endpoint most likely confirms it,
and the final is then ready sooner); when it ends, the final decode's result closes the
turn. Decodes go through the shared ``DecodeScheduler``; an engine failure settles
``abort``, which ends the session with 1011.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import metrics
from .engine import DecodeOptions, Transcript
from .languages import SessionLanguage
from .options import SessionOptions
from .outbox import Outbox, Turn
from .scheduler import DecodeJob
from .segmenter import SegmentEvent, UtteranceSegmenter
from .vad import SAMPLE_RATE

if TYPE_CHECKING:  # (session.py imports this module)
    from .session import SttContext


class Turns:
    def __init__(self, ctx: SttContext, options: SessionOptions,
                 segmenter: UtteranceSegmenter,
                 send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.ctx, self.options, self.settings = ctx, options, ctx.settings
        self.segmenter = segmenter
        # language=auto: what sure detections settled on, weighed against each detection
        # (set by the decode that was sure, see DecodeOptions.settled).
        self.language = SessionLanguage()
        self.outbox = Outbox(send, self._final_sent)
        self.turn: Turn | None = None
        self.spec: DecodeJob | None = None
        self.interim_job: DecodeJob | None = None
        self.interim_len = 0
        self.jobs: set[DecodeJob] = set()
        # Seconds of ended utterances whose final is not decoded yet (back-pressure).
        self.backlog_s = 0.0
        self.finals_waiting = 0  # and how many: each costs a whole encoder pass
        self.backlog_changed = asyncio.Event()
        self.abort: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.finals = 0
        # The language_code of each final with words, in the order first heard (the usage
        # record's answer to "auto": what the call was in, not what was asked for).
        self.languages_heard: list[str] = []
        self.last_speech_pos = 0
        self.last_speech_at: float | None = None

    def pushed(self, events: Sequence[SegmentEvent], now: float) -> None:
        """Take what one frame pushed into the segmenter gave."""
        if self.segmenter.last_speech_position != self.last_speech_pos:
            self.last_speech_pos = self.segmenter.last_speech_position
            self.last_speech_at = now
        for event in events:
            self.on_segment(event)
        self._maybe_interim()

    def cancel(self) -> None:
        """A client that left cancels the work it started."""
        for job in self.jobs:
            job.cancel()

    def on_segment(self, event: SegmentEvent, trigger: str = "endpoint") -> None:
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
            self.turn.speech_end_at, self.turn.trigger = self.last_speech_at, trigger
            audio_s = len(event.audio) / SAMPLE_RATE
            self.backlog_s += audio_s
            self.finals_waiting += 1
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
            self.finals_waiting -= 1
            self.backlog_changed.set()
            self.jobs.discard(job)
        turn.set_final(self.final_event(result))

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
        job = self.ctx.scheduler.submit(audio, options, kind, self)  # type: ignore[arg-type]
        self.jobs.add(job)
        return job

    def final_event(self, result: Transcript | None) -> dict[str, Any]:
        # Only a sure detection settled self.language (an unsure one, a short Spanish clip
        # heard as Hindi, is decoded in its guess and kept for nothing).
        text = result.text if result is not None else ""
        used = result.language if result is not None else self.language.code
        code = self.options.language_code or self.options.tag_for(
            used or (self.options.candidates or ("en",))[0])
        if text and code not in self.languages_heard:
            self.languages_heard.append(code)
        return {"type": "final", "text": text,
                "confidence": result.confidence if result is not None and text else 0.0,
                "language_code": code}

    def _final_sent(self, turn: Turn, now: float) -> None:
        self.finals += 1
        metrics.FINALS.labels("finalize" if turn.finalize_at else turn.trigger).inc()
        if turn.finalize_at is not None:
            metrics.FINALIZE_TO_FINAL.observe(now - turn.finalize_at)
        elif turn.speech_end_at is not None and turn.trigger == "endpoint":
            # (A final a close flushed was no turn-taking: counted as one, it was the
            # wait for the close, said as the endpoint's.)
            metrics.SPEECH_END_TO_UTTERANCE_END.observe(now - turn.speech_end_at)

    def _fail(self, exc: BaseException | None) -> None:
        if not self.abort.done():
            # The type alone for the caller; the message (paths, memory figures) is in the
            # log line of the decode that failed, with this session's request id.
            self.abort.set_result(f"transcription engine failed: {type(exc).__name__}")
