"""TTS behaviours that no other test held (found by breaking the code on purpose):
admission's arithmetic, the pool's count of running pieces, what a
stream owes, and the spelling of credentials."""

from __future__ import annotations

import asyncio

import pytest

from servers.tts.admission import Admission, Debt, Pace, piece_deadline
from servers.tts.engine import PiperEngine, Style
from servers.tts.normalize import normalize
from servers.tts.pool import SynthesisPool
from servers.tts.stream import SynthesisStream
from servers.tts.text import plan
from servers.tts.voices import read_voice

from .conftest import FOUR_SENTENCES

NOW = 100.0


class _Owes:
    def __init__(self, debt: Debt | None) -> None:
        self.owing = debt

    def debt(self, now: float) -> Debt | None:
        return self.owing


def test_a_piece_is_due_margin_s_before_the_audio_made_runs_out() -> None:
    assert piece_deadline(NOW, 2.0, 0.3) == pytest.approx(NOW + 1.7)
    assert piece_deadline(NOW, 0.1, 0.3) == NOW  # never before playing began


def test_a_gap_once_waited_out_is_not_counted_again() -> None:
    """The caller waits a gap out, and the audio after it plays from then: two pieces
    each 2 s late are 4 s of gap, not 2 + 4."""
    admission = Admission(workers=1, max_late_s=1.0, margin_s=0.3)
    slow = Debt([(3.0, 1.0), (3.0, 1.0)], NOW, 1.0, NOW - 1, NOW - 1)
    assert admission.play([slow], NOW) == [pytest.approx(4.0)]


def test_a_stream_that_adds_less_than_gap_s_to_anothers_gaps_is_taken() -> None:
    """A caller behind on its own (0.7 s of gap) would hear 0.2 s more: under gap_s, so
    the new stream is taken."""
    admission = Admission(workers=1, max_late_s=1.0, margin_s=0.3)
    behind = _Owes(Debt([(1.2, 2.0)], NOW, 0.5, NOW - 1, NOW - 1))
    admission.opened(behind)
    new = _Owes(Debt([(0.2, 1.0)], None, 0.0, NOW, NOW))
    assert admission.play([behind.owing], NOW) == [pytest.approx(0.7)]  # type: ignore[list-item]
    assert admission.play([behind.owing, new.owing], NOW) == [  # type: ignore[list-item]
        pytest.approx(0.9), 0.0]
    assert not admission.refuses(new, NOW)


def test_two_lengths_a_character_apart_are_one_length_to_the_pace() -> None:
    """10 and 11 characters: no slope is read from them (it would make 100 characters
    90 s of audio); the estimate is in proportion."""
    pace = Pace()
    pace.add(10, 0.1, 1.0)
    pace.add(11, 0.2, 2.0)
    _, audio = pace.estimate(100)  # type: ignore[misc]
    assert 12 < audio < 16  # 100 x 1.5 s / 10.5 characters, as weighted


async def test_a_piece_done_or_failed_leaves_the_pool_running_nothing() -> None:
    pool = SynthesisPool(workers=2, queue_size=4)
    pool.start()
    try:
        assert await pool.run(lambda withdrawn: 7, 0.0) == 7
        assert pool.running == 0

        def fails(withdrawn):  # type: ignore[no-untyped-def]
            raise RuntimeError("voice broke")
        with pytest.raises(RuntimeError):
            await pool.run(fails, 0.0)
        assert pool.running == 0
    finally:
        await asyncio.to_thread(pool.stop)


def _stream(voice_path, pool: SynthesisPool, pace: Pace, text: str) -> SynthesisStream:  # type: ignore[no-untyped-def]
    voice = read_voice("joe", voice_path)
    assert voice is not None
    return SynthesisStream(engine=PiperEngine(), pool=pool, voice=voice,
                           pieces=plan(text, "en-US"), style=Style(), out_rate=24000,
                           gain=1.6, sentence_silence_s=0.2, pace=pace)


async def test_a_stream_alone_on_two_workers_teaches_the_pace_nothing(voice_path) -> None:  # type: ignore[no-untyped-def]
    """Admission's pace is of pieces that share the cores: a piece run alone on a
    server of two workers is not counted (it would promise more than a busy server has)."""
    pool = SynthesisPool(workers=2, queue_size=4)
    pace = Pace()
    pool.start()
    try:
        stream = _stream(voice_path, pool, pace, FOUR_SENTENCES)
        chunks = [await stream.first_chunk()] + [c async for c in stream.rest()]
    finally:
        await asyncio.to_thread(pool.stop)
    assert len(chunks) >= 4 and pace.estimate(50) is None


def test_a_cancelled_stream_owes_nothing(voice_path) -> None:  # type: ignore[no-untyped-def]
    """A caller gone (or a stream given up): admission counts it no more, even while
    something still holds the stream."""
    pace = Pace()
    pace.add(100, 0.6, 6.0)
    stream = _stream(voice_path, SynthesisPool(workers=1, queue_size=4), pace, FOUR_SENTENCES)
    assert stream.debt(NOW) is not None
    stream.cancel()
    assert stream.debt(NOW) is None


def test_a_long_texts_debt_stops_past_the_horizon(voice_path) -> None:  # type: ignore[no-untyped-def]
    """Only the next DEBT_HORIZON_S of audio is played forward: 60 sentences of about
    3 s each owe the first 7 (21 s), not all 60."""
    from servers.tts.stream import DEBT_HORIZON_S

    pace = Pace()
    pace.add(40, 0.3, 3.0)
    text = " ".join(f"This is sentence number {i} of a long text here." for i in range(60))
    stream = _stream(voice_path, SynthesisPool(workers=1, queue_size=4), pace, text)
    debt = stream.debt(NOW)
    assert debt is not None and len(stream.pieces) >= 60
    owed = [audio for _, audio in debt.pieces]
    assert sum(owed[:-1]) <= DEBT_HORIZON_S < sum(owed)


@pytest.mark.parametrize("text, spoken", [
    # All capitals is no mixed case: no "capital" before each letter.
    ("Your password is ABC123.", "Your password is A, B, C, one, two, three."),
    # A word in capitals is still a word, not a password.
    ("Your password is EXPIRED.", "Your password is EXPIRED."),
    # In quotes, even a word is spelt.
    ('Your password is "sunshine".', "Your password is S, U, N, S, H, I, N, E."),
])
def test_a_credential_is_spelt_only_where_it_cannot_be_a_word(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


def test_a_pieces_debt_counts_the_silence_after_its_sentence(voice_path) -> None:  # type: ignore[no-untyped-def]
    """Each piece that ends a sentence (the last one aside) owes its 0.2 s of sentence
    silence too: the caller's audio lasts that much longer."""
    pace = Pace()
    pace.add(100, 0.6, 6.0)
    stream = _stream(voice_path, SynthesisPool(workers=1, queue_size=4), pace, FOUR_SENTENCES)
    debt = stream.debt(NOW)
    assert debt is not None and len(debt.pieces) == len(stream.pieces) >= 4
    silences = []
    for index, (piece, (_, audio)) in enumerate(zip(stream.pieces, debt.pieces, strict=True)):
        estimate = pace.estimate(len(piece.text))
        assert estimate is not None
        silence = 0.2 if index < len(stream.pieces) - 1 and piece.ends_sentence else 0.0
        silences.append(silence)
        assert audio == pytest.approx(estimate[1] + silence, abs=0.001), index
    assert silences.count(0.2) >= 2 and silences[-1] == 0.0


async def test_a_queued_streams_first_audio_is_owed_from_its_queueing(voice_path) -> None:  # type: ignore[no-untyped-def]
    """max_late_s counts from when the first piece was queued, not from each look."""
    import time

    pace = Pace()
    pace.add(100, 0.6, 6.0)
    pool = SynthesisPool(workers=1, queue_size=4)  # not started: the piece stays queued
    stream = _stream(voice_path, pool, pace, FOUR_SENTENCES)
    first = asyncio.ensure_future(stream.first_chunk())
    for _ in range(5):
        await asyncio.sleep(0)
    queued_by = time.monotonic()
    try:
        debt = stream.debt(queued_by + 60)
        assert debt is not None and debt.first_queued <= queued_by
    finally:
        first.cancel()
        stream.cancel()
