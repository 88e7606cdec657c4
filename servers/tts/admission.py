"""Admission by the audio owed: a new stream is refused (503) when taking it would make
another caller hear a gap, or wait past ``max_late_s`` for its first audio.

Each stream holds one piece in the queue (stream.py's lookahead), so the work the
streams in progress still owe is not in the queue, and ``SynthesisPool.late_s`` sees a
shortfall only once a piece is already late. A burst of streams was all admitted while
the queue looked short, and every caller then heard gaps (24 streams 0.2 s apart on 2
workers here: 3.4 s of gaps each) before anyone was told. Here the pool's own schedule
is played forward: each open stream's remaining pieces, costed from what recent pieces
took under load (``Pace``), one at a time per stream, earliest deadline first on the
workers, each due when its caller's audio runs out. The new stream is taken unless, with it, a caller would hear more gap than
without it: a stream too slow for the machine alone is no reason to refuse others.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("rymi.tts.admission")


class Pace:
    """How long a piece's audio is for its characters, and how long making it takes,
    from recent pieces (weights halved every ``HALF_LIFE`` pieces, so the machine's
    current load soon shows).

    Audio is fitted as a fixed part plus a part per character (piper's leading and
    trailing silence: "Hi." is 0.46 s, 48 characters 2.9 s); synthesis as a real-time
    factor of that audio, nearly constant across lengths. One piece's factor counts as
    at most ``MAX_STEP`` times the factor so far: a stall (the machine paused, a worker
    held up) is no new pace and would refuse callers for a while (the pool's
    ``late_s`` answers a real stall); a machine that did get slower is still followed,
    by that step a piece at most."""

    HALF_LIFE = 30.0
    MAX_STEP = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()  # fed from the worker threads
        self._n = self._x = self._y = self._xx = self._xy = 0.0  # chars -> audio s
        self._synth_s = self._audio_s = 0.0

    def add(self, chars: int, synth_s: float, audio_s: float) -> None:
        if chars <= 0 or audio_s <= 0:
            return
        with self._lock:
            if self._audio_s:
                synth_s = min(synth_s, self.MAX_STEP * audio_s * self._synth_s / self._audio_s)
            keep = 0.5 ** (1 / self.HALF_LIFE)
            self._n = self._n * keep + 1
            self._x = self._x * keep + chars
            self._y = self._y * keep + audio_s
            self._xx = self._xx * keep + chars * chars
            self._xy = self._xy * keep + chars * audio_s
            self._synth_s = self._synth_s * keep + synth_s
            self._audio_s = self._audio_s * keep + audio_s

    def estimate(self, chars: int) -> tuple[float, float] | None:
        """(synthesis s, audio s) of a piece of ``chars`` characters; None before any."""
        with self._lock:
            if not self._n:
                return None
            mx, my = self._x / self._n, self._y / self._n
            var = self._xx / self._n - mx * mx
            slope = (self._xy / self._n - mx * my) / var if var > 1.0 else 0.0
            if slope <= 0:  # one length seen so far: in proportion
                audio = chars * my / mx
            else:
                audio = max(0.0, my + slope * (chars - mx))
            return audio * self._synth_s / self._audio_s, audio


@dataclass
class Debt:
    """What one stream still owes: its pieces not made yet, in order, as (synthesis s,
    audio s with the silence after it); and where its playing stands."""

    pieces: Sequence[tuple[float, float]]
    playing_since: float | None  # None: no sound yet
    ahead_s: float  # audio made so far
    first_due: float  # the first piece's deadline in the pool (its request's arrival)
    first_queued: float  # when it was queued (or would be): max_late_s counts from there
    running_since: float | None = None  # its next piece is on a worker since then


class Owing(Protocol):
    def debt(self, now: float) -> Debt | None:
        """None when it owes nothing, or its voice's pace is not known yet."""
        ...


def piece_deadline(playing_since: float, ahead_s: float, margin_s: float) -> float:
    """When a piece is due: ``margin_s`` before the audio made before it runs out (it
    takes time itself). The stream hands the pool this deadline; admission plays it."""
    return playing_since + max(0.0, ahead_s - margin_s)


class Admission:
    def __init__(self, workers: int, max_late_s: float, margin_s: float,
                 gap_s: float = 0.3) -> None:
        self.workers = workers
        self.max_late_s = max_late_s  # how long past its queueing a first audio may come
        self.margin_s = margin_s  # the streams' own deadline margin
        self.gap_s = gap_s  # more gap than this, added by one more stream, refuses it
        self._paces: dict[str, Pace] = {}
        # Weak: a stream whose response was dropped before its body ran is forgotten
        # with it, never owed for ever.
        self._open: weakref.WeakSet[Owing] = weakref.WeakSet()

    def pace(self, voice_id: str) -> Pace:
        return self._paces.setdefault(voice_id, Pace())

    def opened(self, stream: Owing) -> None:
        """Owed from now until it owes nothing (``debt`` None) or nobody holds it."""
        self._open.add(stream)

    def refuses(self, new: Owing, now: float) -> bool:
        """Whether taking ``new`` (not opened yet) adds more than ``gap_s`` of gap to some
        caller's audio, or makes one wait past ``max_late_s`` for its first."""
        debts = [d for stream in self._open if (d := stream.debt(now)) is not None]
        mine = new.debt(now)
        if not debts or mine is None:
            return False  # a lone caller is served, however slow the machine
        after = self.play([*debts, mine], now)
        if max(after) <= self.gap_s:
            return False  # nobody hurt (most of the time: one play, not three)
        before = self.play(debts, now)
        alone = self.play([mine], now)[0]
        refused = any(a > b + self.gap_s for a, b in zip(after, [*before, alone], strict=True))
        if refused:
            log.debug("refused a stream: gaps per caller would be %s, not %s",
                      [round(x, 2) for x in after], [round(x, 2) for x in [*before, alone]])
        return refused

    def play(self, debts: Sequence[Debt], now: float) -> list[float]:
        """Each stream's hurt, played forward as the pool schedules: the gaps its caller
        hears, plus how far past ``max_late_s`` its first audio comes."""
        return _Play(self, debts, now).run()


class _Play:
    """The pool's schedule played forward: one piece at a time per stream, a free worker
    takes the earliest deadline among the pieces ready, each piece's deadline set from
    the audio before it as the stream sets it."""

    def __init__(self, admission: Admission, debts: Sequence[Debt], now: float) -> None:
        self.a, self.debts, self.now = admission, debts, now
        self.free = [now] * admission.workers  # when each worker is free
        self.next = [0] * len(debts)  # each stream's next piece
        self.ready = [now] * len(debts)  # when it can start (its previous one is made)
        self.playing = [d.playing_since for d in debts]
        self.ahead = [d.ahead_s for d in debts]
        self.hurt = [0.0] * len(debts)

    def run(self) -> list[float]:
        # A piece on a worker already goes on there (nothing is taken off a worker), for
        # what is left of it by the estimate.
        running = [i for i, d in enumerate(self.debts) if d.running_since is not None]
        for worker, i in zip(range(len(self.free)), running, strict=False):
            cost = self.debts[i].pieces[0][0]
            self._made(i, worker, max(self.now, self.debts[i].running_since + cost))  # type: ignore[operator]
        while True:
            waiting = [i for i, d in enumerate(self.debts) if self.next[i] < len(d.pieces)]
            if not waiting:
                return self.hurt
            worker = min(range(len(self.free)), key=self.free.__getitem__)
            t = max(self.free[worker], min(self.ready[i] for i in waiting))
            i = min((i for i in waiting if self.ready[i] <= t), key=self._deadline)
            self._made(i, worker, t + self.debts[i].pieces[self.next[i]][0])

    def _deadline(self, i: int) -> float:
        playing = self.playing[i]
        if playing is None:
            return self.debts[i].first_due
        return piece_deadline(playing, self.ahead[i], self.a.margin_s)

    def _made(self, i: int, worker: int, end: float) -> None:
        """Stream ``i``'s next piece made at ``end``: what its caller hears."""
        self.free[worker] = self.ready[i] = end
        playing = self.playing[i]
        if playing is None:
            self.hurt[i] += max(0.0, end - self.debts[i].first_queued - self.a.max_late_s)
            self.playing[i] = end
        else:
            gap = max(0.0, end - (playing + self.ahead[i]))
            self.hurt[i] += gap
            self.playing[i] = playing + gap  # the caller waits it out
        self.ahead[i] += self.debts[i].pieces[self.next[i]][1]
        self.next[i] += 1
