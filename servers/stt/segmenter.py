"""UtteranceSegmenter: audio in, utterance events out. No socket, no engine.

States: *idle* (silence, or a speech candidate shorter than the minimum) and *speaking*.
- idle -> speaking once voice activity has lasted ``min_speech_ms``: ``started``. Line
  noise and clicks stay below that and never start an utterance.
- speaking, silence for ``speculative_ms``: ``paused`` with the audio the final would
  decode, so the final's decode can start before the endpoint is certain.
- speech again after a pause: ``resumed`` (the speculative decode is stale).
- silence for ``endpointing_ms`` (or a finalize, or the utterance reaching its maximum
  length): ``ended``. If no speech followed the pause, its audio is exactly the paused
  audio (``reuse``), so one decode serves both: never two decodes of the same audio.
Silence is hysteretic, as in Silero's own segmenter: a window under ``neg_threshold``
opens a silence run, one over ``threshold`` closes it, windows in between continue
whatever is running.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .vad import SAMPLE_RATE, WINDOW

# Audio kept while idle beyond the pad (a candidate cannot usefully be longer).
TAIL_LIMIT = 5 * SAMPLE_RATE

# Voiced audio a finalize or close takes as speech below min_speech_ms, and how long
# after it the word still counts (the platform finalizes after a silence). One window:
# streaming Silero scores "ask" alone (jfk.wav, 3.2-3.85 s) over the threshold in one
# 32 ms window, and tiny.en decodes the cut as "Ask!"; noise decodes to nothing.
FORCED_MIN_SPEECH = WINDOW
SHORT_WORD_KEPT = 2 * SAMPLE_RATE
# An utterance at its maximum length is cut at the quietest window of its last stretch
# this long (a gap between words, most likely), not wherever the maximum falls: cut
# mid-word, the word's halves decoded apart came out lost or invented ("And so my fellow"
# | "on there.").
CUT_SEARCH = int(1.5 * SAMPLE_RATE)

EventKind = Literal["started", "paused", "resumed", "ended"]


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_ms: int = 250
    endpointing_ms: int = 500
    speculative_ms: int = 96
    speech_pad_ms: int = 400
    max_utterance_s: float = 28.0
    # A quiet gap this long inside a not-yet-confirmed candidate discards it. Shorter gaps
    # are the pauses between words (as Silero's offline merge treats them): the onset
    # then reaches back to the first word, not only to the one that confirmed speech.
    candidate_gap_ms: int = 300

    @property
    def neg(self) -> float:
        return self.neg_threshold if self.neg_threshold is not None else max(
            0.01, self.threshold - 0.15)


def ms_to_samples(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


@dataclass
class SegmentEvent:
    kind: EventKind
    utterance: int
    # Stream position (samples since the session began) where the event was decided.
    at: int
    # paused/ended: the audio to decode (float32, 16 kHz); None for started/resumed.
    audio: np.ndarray | None = None
    # ended: the audio equals the last paused audio, so its decode can be reused.
    reuse: bool = False
    forced: bool = False
    # ended/paused: stream position of the last speech window's end.
    speech_end: int = 0


Probabilities = Callable[[np.ndarray], np.ndarray]


class UtteranceSegmenter:
    def __init__(self, probabilities: Probabilities, config: SegmenterConfig) -> None:
        self._probs = probabilities
        self.cfg = config
        self._pending = np.zeros(0, dtype=np.float32)  # < one window, not yet scored
        self.position = 0  # samples scored so far
        self.utterance = 0  # id of the current or last utterance
        self.speaking = False
        self._pad = ms_to_samples(config.speech_pad_ms)
        self._min_speech = ms_to_samples(config.min_speech_ms)
        self._gap = ms_to_samples(config.candidate_gap_ms)
        self._endpoint = ms_to_samples(config.endpointing_ms)
        self._speculative = min(ms_to_samples(config.speculative_ms), self._endpoint)
        self._max_len = int(config.max_utterance_s * SAMPLE_RATE)
        self._tail = np.zeros(0, dtype=np.float32)  # recent audio kept for the onset pad
        # (start, end) of the last candidate the gap closed with a word's worth of voice.
        self._short: tuple[int, int] | None = None
        # A finalize ended the last utterance while its speech went on, and no quiet
        # window has come since: what follows is its rest, not a short word of its own.
        self._cut_mid_speech = False
        self._last_speech_pos = 0  # stream position where the latest speech window ended
        self._reset_candidate()
        self._reset_utterance()

    # -- public ---------------------------------------------------------------------
    def push(self, samples: np.ndarray) -> list[SegmentEvent]:
        """Feed float32 samples; returns the events they caused, in order."""
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n = len(data) // WINDOW
        self._pending = data[n * WINDOW:]
        if n == 0:
            return []
        windows = data[: n * WINDOW].reshape(n, WINDOW)
        events: list[SegmentEvent] = []
        for window, prob in zip(windows, self._probs(windows), strict=True):
            self._step(window, float(prob), events)
        return events

    def force_start(self) -> SegmentEvent | None:
        """A finalize or close while a speech candidate is still under ``min_speech_ms``
        (a short "no", "ok"): the caller's platform says a turn ended, so the candidate
        is the utterance it ended, not noise to discard. ``started``, or None. Not the
        rest of a word the last finalize cut (a tenth of a second gave "Thank you.")."""
        if self.speaking or self._cut_mid_speech:
            return None
        if self._cand_start is None or self._cand_speech < FORCED_MIN_SPEECH:
            # A word the candidate gap already closed: kept briefly for this.
            if self._short is None or self.position - self._short[1] > SHORT_WORD_KEPT:
                return None
            self._cand_start = self._short[0]
        events: list[SegmentEvent] = []
        self._begin(self.position, events)
        return events[0]

    def force_end(self) -> SegmentEvent | None:
        """End the utterance in progress now (a finalize); None when not speaking."""
        self._reset_candidate()
        if not self.speaking:
            return None
        # Cut with no silence run under way: the words go on after the cut.
        self._cut_mid_speech = self._silence == 0
        if self._paused:
            return self._end(reuse=True, forced=True)
        # Nothing after the last scored window is lost: the unscored remainder joins,
        # and counts in the stream position like any sample taken.
        self._append(self._pending)
        self.position += len(self._pending)
        self._pending = np.zeros(0, dtype=np.float32)
        self._speech_end_in_utt = self._len
        return self._end(reuse=False, forced=True)

    def current_audio(self) -> np.ndarray:
        """The utterance so far (for an interim decode)."""
        return np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def in_silence(self) -> bool:
        return self._silence > 0

    @property
    def last_speech_position(self) -> int:
        """Stream position where the latest speech window ended."""
        return self._last_speech_pos

    # -- state machine ----------------------------------------------------------------
    def _step(self, window: np.ndarray, prob: float, events: list[SegmentEvent]) -> None:
        start = self.position
        self.position += WINDOW
        speech = prob >= self.cfg.threshold
        quiet = prob < self.cfg.neg
        if speech:
            self._last_speech_pos = self.position
        if not self.speaking:
            self._idle_step(window, start, speech, quiet, events)
            return
        self._append(window)
        self._recent.append((window, prob))
        if speech:
            self._silence = 0
            self._speech_end_in_utt = self._len
            if self._paused:
                self._paused = False
                events.append(SegmentEvent("resumed", self.utterance, self.position))
        elif quiet or self._silence > 0:
            self._silence += WINDOW
        else:  # between thresholds with no silence run: speech goes on
            self._speech_end_in_utt = self._len
        if self._silence >= self._speculative and not self._paused \
                and self._silence < self._endpoint:
            self._paused = True
            events.append(SegmentEvent("paused", self.utterance, self.position,
                                       audio=self._decode_audio(),
                                       speech_end=self._speech_end_pos()))
        if self._silence >= self._endpoint:
            events.append(self._end(reuse=self._paused, forced=False))
        elif self._len >= self._max_len:
            self._cut_at_quietest(events)

    def _cut_at_quietest(self, events: list[SegmentEvent]) -> None:
        """End the utterance at the quietest of its recent windows (the latest of equals);
        the windows after the cut go through the state machine again, from idle, so a
        word going on starts the next utterance with nothing of it lost or repeated."""
        recent = list(self._recent)
        probs = np.array([p for _, p in recent])
        cut = len(recent) - int(np.argmin(probs[::-1]))  # windows kept in this utterance
        rest = recent[cut:]
        kept = self._len - len(rest) * WINDOW
        end = self.position
        self.position -= len(rest) * WINDOW  # back to the cut, where the event is
        self._audio, self._len = [self.current_audio()[:kept]], kept
        self._speech_end_in_utt = kept
        events.append(self._end(reuse=False, forced=True))
        for window, prob in rest:
            self._step(window, prob, events)
        assert self.position == end

    def _idle_step(self, window: np.ndarray, start: int, speech: bool, quiet: bool,
                   events: list[SegmentEvent]) -> None:
        # Enough history for the onset pad plus a candidate's own audio.
        self._tail = np.concatenate([self._tail[-(self._pad + TAIL_LIMIT):], window])
        if quiet:
            self._cut_mid_speech = False
        if speech:
            if self._cand_start is None:
                self._cand_start, self._short = start, None
            self._cand_speech += WINDOW
            self._cand_gap = 0
        elif self._cand_start is not None:
            self._cand_gap += WINDOW if quiet else 0
            if self._cand_gap >= self._gap:
                if self._cand_speech >= FORCED_MIN_SPEECH:  # a short word, maybe
                    self._short = (self._cand_start, start)
                self._reset_candidate()
        if self._cand_start is not None and self._cand_speech >= self._min_speech:
            self._begin(start + WINDOW, events)

    def _begin(self, now: int, events: list[SegmentEvent]) -> None:
        assert self._cand_start is not None
        keep = min(now - self._cand_start + self._pad, len(self._tail))
        self._reset_utterance()
        self._append(self._tail[-keep:].copy())
        self._speech_end_in_utt = self._len
        self._reset_candidate()
        self._short, self._cut_mid_speech = None, False
        self.speaking = True
        self.utterance += 1
        events.append(SegmentEvent("started", self.utterance, now))

    def _end(self, *, reuse: bool, forced: bool) -> SegmentEvent:
        decoded = self._decode_audio()
        event = SegmentEvent("ended", self.utterance, self.position, audio=decoded,
                             reuse=reuse, forced=forced, speech_end=self._speech_end_pos())
        # What followed the decoded audio stays available as the next onset's pad; what
        # was decoded does not, or its last words would be heard again in the next final
        # (a finalize or the maximum length cuts mid-speech, so nothing follows them).
        undecoded = self.current_audio()[len(decoded):]
        self._tail = undecoded[-self._pad:] if self._pad else self._tail[:0]
        self.speaking = False
        self._reset_utterance()
        return event

    def _decode_audio(self) -> np.ndarray:
        # Speech plus a trailing pad, capped at the speculative silence so that the paused
        # audio and the ended audio are the same samples when no speech came between.
        cut = self._speech_end_in_utt + min(self._pad, self._speculative)
        return self.current_audio()[:cut]

    def _speech_end_pos(self) -> int:
        return self.position - (self._len - self._speech_end_in_utt)

    def _append(self, samples: np.ndarray) -> None:
        self._audio.append(samples)
        self._len += len(samples)

    def _reset_candidate(self) -> None:
        self._cand_start: int | None = None
        self._cand_speech = 0
        self._cand_gap = 0

    def _reset_utterance(self) -> None:
        self._audio: list[np.ndarray] = []
        self._len = 0
        self._silence = 0
        self._paused = False
        self._speech_end_in_utt = 0
        self._recent: deque[tuple[np.ndarray, float]] = deque(maxlen=CUT_SEARCH // WINDOW)
