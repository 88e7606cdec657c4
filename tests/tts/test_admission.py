"""Admission by the audio owed: what a stream still owes, and when one more is too many."""

from __future__ import annotations

import asyncio

import pytest

from servers.tts.admission import Admission, Debt, Pace, piece_deadline
from servers.tts.engine import PiperEngine, Style
from servers.tts.pool import SynthesisPool
from servers.tts.stream import DEADLINE_MARGIN_S, SynthesisStream
from servers.tts.text import plan
from servers.tts.voices import read_voice

from .conftest import FOUR_SENTENCES

NOW = 100.0


def test_the_pace_follows_recent_pieces() -> None:
    pace = Pace()
    assert pace.estimate(50) is None
    pace.add(50, 0.3, 3.0)
    assert pace.estimate(100) == pytest.approx((0.6, 6.0))  # one length: in proportion
    pace.add(5, 0.05, 0.5)  # a short one has its silence around it too
    synth, audio = pace.estimate(5)  # type: ignore[misc]
    assert audio == pytest.approx(0.5, abs=0.01) and synth == pytest.approx(0.05, abs=0.005)
    pace.add(50, 30.0, 3.0)  # one piece stalled (30 s): no new pace
    assert pace.estimate(50)[0] < 0.5  # (unbounded: 10 s)  # type: ignore[index]
    for _ in range(60):  # the machine got three times slower: the estimate follows
        pace.add(50, 0.9, 3.0)
    synth, audio = pace.estimate(50)  # type: ignore[misc]
    assert 0.8 < synth < 0.92 and audio == pytest.approx(3.0, rel=0.02)


async def test_admission_plays_the_deadlines_the_stream_gives_the_pool(voice_path) -> None:
    """The real stream over the real voice: each time a piece is queued, the stream's
    debt names that piece first, due when the pool is told it is."""
    voice = read_voice("joe", voice_path)
    assert voice is not None
    pool = SynthesisPool(workers=1, queue_size=4)
    pace = Pace()
    pace.add(100, 0.6, 6.0)
    seen: list[tuple[float, float]] = []
    stream: SynthesisStream | None = None
    run = pool.run

    def run_and_compare(fn, deadline):  # type: ignore[no-untyped-def]
        assert stream is not None
        debt = stream.debt(deadline)
        assert debt is not None
        due = debt.first_due if debt.playing_since is None else \
            piece_deadline(debt.playing_since, debt.ahead_s, DEADLINE_MARGIN_S)
        seen.append((deadline, due))
        return run(fn, deadline)

    pool.run = run_and_compare  # type: ignore[method-assign]
    pool.start()
    try:
        pieces = plan(FOUR_SENTENCES, "en-US")
        stream = SynthesisStream(engine=PiperEngine(), pool=pool, voice=voice, pieces=pieces,
                                 style=Style(), out_rate=24000, gain=1.6,
                                 sentence_silence_s=0.2, pace=pace)
        debt = stream.debt(NOW)
        assert debt is not None and len(debt.pieces) == len(pieces)
        assert (debt.playing_since, debt.first_due, debt.first_queued) == \
            (None, stream.started, NOW)  # not queued yet: it would be now
        chunks = [await stream.first_chunk()] + [c async for c in stream.rest()]
    finally:
        await asyncio.to_thread(pool.stop)
    assert len(chunks) == len(seen) == len(pieces) >= 4
    assert all(given == pytest.approx(named) for given, named in seen), seen
    assert stream.debt(NOW) is None  # done: owes nothing


class _Owes:
    def __init__(self, debt: Debt | None) -> None:
        self.owing = debt

    def debt(self, now: float) -> Debt | None:
        return self.owing


def _playing(rtf: float, pieces: int = 6, audio_s: float = 2.0) -> Debt:
    """A stream playing since NOW with one piece of audio ahead, ``pieces`` to make."""
    return Debt([(rtf * audio_s, audio_s)] * pieces, NOW, audio_s, NOW - 1, NOW - 1)


def _new(rtf: float, pieces: int = 6, audio_s: float = 2.0) -> _Owes:
    return _Owes(Debt([(rtf * audio_s, audio_s)] * pieces, None, 0.0, NOW, NOW))


def test_one_stream_too_many_for_the_workers_is_refused() -> None:
    admission = Admission(workers=1, max_late_s=1.0, margin_s=0.3)
    busy = _Owes(_playing(rtf=0.6))  # 60% of the one worker, for 12 s
    admission.opened(busy)
    assert admission.play([busy.owing], NOW) == [0.0]  # alone, it never gaps
    assert admission.refuses(_new(rtf=0.6), NOW)  # both would gap
    assert not admission.refuses(_new(rtf=0.6, pieces=1, audio_s=0.5), NOW)  # "Sure."
    # Its last piece with 1.2 s of audio to spare: the new first piece (made first, as
    # the pool does) would make it 0.4 s late; with 4 s to spare, there is room.
    busy.owing = Debt([(1.2, 2.0)], NOW, 2.0, NOW - 1, NOW - 1)
    assert admission.refuses(_new(rtf=0.6), NOW)
    busy.owing = Debt([(1.2, 2.0)], NOW, 4.0, NOW - 1, NOW - 1)
    assert not admission.refuses(_new(rtf=0.6), NOW)


def test_streams_that_each_have_a_worker_are_taken() -> None:
    """A stream makes one piece at a time: on two workers, two streams never wait on
    each other, however slow the machine (the CPU a busy machine leaves them is in the
    pace). A mixed load (vLLM and whisper on the same cores) was refused before."""
    admission = Admission(workers=2, max_late_s=1.0, margin_s=0.3)
    busy = _Owes(_playing(rtf=0.9))
    admission.opened(busy)
    assert not admission.refuses(_new(rtf=0.9), NOW)


def test_a_stream_behind_on_its_own_refuses_nobody_it_does_not_hurt() -> None:
    """Too slow for the machine alone (rtf 1.5: gaps whatever happens), it is no reason
    to refuse a caller the other worker can serve; nor is a lone caller refused."""
    admission = Admission(workers=2, max_late_s=1.0, margin_s=0.3)
    assert not admission.refuses(_new(rtf=1.5), NOW)
    slow = _Owes(_playing(rtf=1.5))
    admission.opened(slow)
    assert admission.play([slow.owing], NOW)[0] > 5  # type: ignore[list-item]
    assert not admission.refuses(_new(rtf=0.5), NOW)
    del slow  # (held weakly: a stream nobody holds any more owes nothing)
    assert admission.play([], NOW) == []


def test_a_first_audio_later_than_max_late_s_refuses() -> None:
    admission = Admission(workers=1, max_late_s=1.0, margin_s=0.3)
    # Two short answers each 0.7 s of work: the second's first audio at 1.4 s.
    first = _Owes(Debt([(0.7, 1.0)], None, 0.0, NOW, NOW))
    admission.opened(first)
    assert admission.refuses(_Owes(Debt([(0.7, 1.0)], None, 0.0, NOW, NOW)), NOW)
    assert not admission.refuses(_Owes(Debt([(0.3, 1.0)], None, 0.0, NOW, NOW)), NOW)


def test_a_piece_on_a_worker_stays_there() -> None:
    """A new first piece is due at once, before anything else in the queue, but the
    pool takes nothing off a worker: the piece being made goes on. Played as if queued,
    it made its caller's gap, and refused callers nobody would have heard harm from."""
    admission = Admission(workers=1, max_late_s=1.0, margin_s=0.3)
    # Its audio runs out 0.5 s from now; its last piece, 0.4 s more of work, is running.
    making = Debt([(0.5, 2.0)], NOW - 1.5, 2.0, NOW - 2, NOW - 2, running_since=NOW - 0.1)
    new = Debt([(0.3, 1.0)], None, 0.0, NOW, NOW)
    assert admission.play([making, new], NOW) == [0.0, 0.0]
    queued = Debt([(0.5, 2.0)], NOW - 1.5, 2.0, NOW - 2, NOW - 2)  # not started yet
    assert admission.play([queued, new], NOW)[0] == pytest.approx(0.3)
