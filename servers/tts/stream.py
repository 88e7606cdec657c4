"""One request's audio: pieces synthesised in order, each written as soon as it exists.

The first piece is synthesised before the 200 goes out, so a failure there is still a
shaped HTTP error, and the first chunk written carries speech. While a piece is being
converted and sent, the next one is already queued (one piece of lookahead: enough to
never starve the caller at piper's speed, little enough that a hang-up wastes at most
one piece). Audio gets one fixed gain, then goes through one streaming resampler for
the whole request, so chunk boundaries are seamless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from servers.common.audio import StreamingResampler, float_to_int16, pcm_bytes

from . import metrics
from .admission import Debt, Pace, piece_deadline
from .engine import Engine, Style
from .pool import SynthesisPool
from .text import Piece
from .voices import VoiceInfo

DEADLINE_MARGIN_S = 0.3  # roughly one piece's synthesis time on a small CPU
DEBT_HORIZON_S = 20.0  # how far ahead admission plays a stream's pieces


@dataclass
class StreamStats:
    pieces_total: int
    pieces_started: int = 0  # pieces the engine was asked for
    pieces_made: int = 0  # of those, the ones whose audio it made (sent on or not)
    pieces_done: int = 0  # pieces taken into the stream, in order
    synth_s: float = 0.0
    samples_out: int = 0
    first_audio_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


class SynthesisStream:
    def __init__(self, *, engine: Engine, pool: SynthesisPool, voice: VoiceInfo,
                 pieces: list[Piece], style: Style, out_rate: int, gain: float,
                 sentence_silence_s: float, resample_quality: str = "HQ",
                 started: float | None = None, pace: Pace | None = None) -> None:
        self.engine = engine
        self.pool = pool
        self.voice = voice
        self.pieces = pieces
        self.style = style
        self.out_rate = out_rate
        self.gain = gain
        self.silence = np.zeros(int(voice.sample_rate * sentence_silence_s), dtype=np.float32)
        self.resampler = StreamingResampler(voice.sample_rate, out_rate, resample_quality)
        self.started = started or time.monotonic()  # the request's arrival: TTFA counts it all
        self.stats = StreamStats(pieces_total=len(pieces))
        self._audio_ahead_s = 0.0  # native audio queued so far: sets the next deadline
        self._next: asyncio.Future[np.ndarray] | None = None
        self.pace = pace  # fed with what each piece took; read back by debt()
        self._closed = False
        self._queued: float | None = None  # when the first piece was queued
        self._running_since: float | None = None  # the piece being made, on its worker

    def _submit(self, index: int) -> asyncio.Future[np.ndarray]:
        piece = self.pieces[index]
        # Playback starts with the first chunk; this piece is needed when the audio already
        # made runs out, and must be started a little before that (it takes time itself).
        playing_since = self.started + (self.stats.first_audio_s or 0.0)
        deadline = piece_deadline(playing_since, self._audio_ahead_s, DEADLINE_MARGIN_S)

        def work(withdrawn: Callable[[], bool]) -> np.ndarray:
            self.stats.pieces_started += 1
            shared = self.pool.running > 1
            t = self._running_since = time.monotonic()
            try:
                audio = self.engine.synthesize(self.voice, piece.text, self.style, withdrawn)
            finally:
                self._running_since = None
            took = time.monotonic() - t
            self.stats.synth_s += took
            self.stats.pieces_made += 1
            # Admission reckons with pieces that share the cores: the pace of one run
            # alone (all of them, solo_threads) would promise more than a busy server has.
            if self.pace is not None and (shared or self.pool.running > 1 or
                                          self.pool.workers == 1):
                audio_s = len(audio) / self.voice.sample_rate / self.style.length
                self.pace.add(len(piece.text), took / self.style.length, audio_s)
            return audio

        return self.pool.run(work, deadline)  # queued now: see SynthesisPool.run

    def _convert(self, index: int, audio: np.ndarray) -> bytes:
        self.stats.pieces_done += 1
        last = index == len(self.pieces) - 1
        # No gap after a piece that made no sound ("_"): it would be silence alone, and
        # as the first chunk, silence sent ahead of the speech.
        if len(audio) and len(self.silence) and self._silence_after(index):
            audio = np.concatenate([audio, self.silence])
        self._audio_ahead_s += len(audio) / self.voice.sample_rate
        # Fixed gain, hard-limited: never normalised per piece (no loudness jumps).
        samples = self.resampler.process(float_to_int16(audio * self.gain))
        if last:
            samples = np.concatenate([samples, self.resampler.flush()])
        self.stats.samples_out += len(samples)
        return pcm_bytes(samples)

    async def first_chunk(self) -> bytes:
        """Synthesise up to the first audible piece; raise before any byte is sent.

        Empty only when no piece made any sound: the caller answers that with an error."""
        data = b""
        index = 0
        self._queued = time.monotonic()
        try:
            task = self._submit(0)
            while True:
                audio = await task
                data = self._convert(index, audio)
                if data:  # set before the next submit: its deadline counts from here
                    self.stats.first_audio_s = time.monotonic() - self.started
                more = index + 1 < len(self.pieces)
                self._next = self._submit(index + 1) if more else None
                index += 1
                if data or self._next is None:
                    break
                task = self._next  # a piece with no sound ("--"): the next one is first
        except BaseException:
            self.cancel()
            raise
        self._index = index
        if self.stats.first_audio_s is not None:
            metrics.TTFA.observe(self.stats.first_audio_s)
        return data

    async def rest(self) -> AsyncIterator[bytes]:
        """The remaining chunks; cancelled (client gone) -> the queued piece is withdrawn."""
        try:
            for index in range(self._index, len(self.pieces)):
                assert self._next is not None
                audio = await self._next
                data = self._convert(index, audio)
                self._next = self._submit(index + 1) if index + 1 < len(self.pieces) else None
                if data:
                    yield data
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Withdraw the queued piece; the stream owes nothing more (done or given up)."""
        self._closed = True
        if self._next is not None and not self._next.done():
            self._next.cancel()
        self._next = None

    def _silence_after(self, index: int) -> bool:
        """Sentence silence follows a piece that ends a sentence, but not the last."""
        return index < len(self.pieces) - 1 and self.pieces[index].ends_sentence

    def debt(self, now: float) -> Debt | None:
        """The pieces not made yet, costed from the voice's pace, for admission: those
        of the next ``DEBT_HORIZON_S`` of audio (a long text's later sentences are too
        far off for one more stream to make them late, and would only slow the check)."""
        if self.pace is None or self._closed or self.stats.pieces_done == len(self.pieces):
            return None
        gap = len(self.silence) / self.voice.sample_rate
        pieces: list[tuple[float, float]] = []
        audio_owed = 0.0
        for index in range(self.stats.pieces_done, len(self.pieces)):
            piece = self.pieces[index]
            estimate = self.pace.estimate(len(piece.text))
            if estimate is None:
                return None
            synth_s, audio_s = estimate[0] * self.style.length, estimate[1] * self.style.length
            audio_s += gap if self._silence_after(index) else 0.0
            pieces.append((synth_s, audio_s))
            audio_owed += audio_s
            if audio_owed > DEBT_HORIZON_S:
                break
        first = self.stats.first_audio_s
        return Debt(pieces, None if first is None else self.started + first,
                    self._audio_ahead_s, self.started, self._queued or now,
                    self._running_since)

    @property
    def audio_seconds(self) -> float:
        return self.stats.samples_out / self.out_rate
