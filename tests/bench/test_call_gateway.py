"""bench.call plays the voice gateway: where it cuts the LLM's text, where speech ends."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from bench.call import AUDIO, clause_end
from bench.stt_streams import speech_bounds


@pytest.mark.parametrize(("text", "clause"), [
    ("Hi, how are you", None),  # "Hi," alone is too short to speak; nothing else ends
    ("Hi, how are you? I", "Hi, how are you?"),  # the short clause did not block this one
    ("A friendly phone agent,", "A friendly phone agent,"),  # no token's wait for the space
    ("I will call you back.", "I will call you back."),
    ("It costs about 3.", None),  # "3." may be "3.50": wait for what follows
    ("Please talk to Dr.", None),  # an abbreviation, not a sentence end
    ("Version 3.5 is out now", None),
    ("He met Mr. Smith today, and", "He met Mr. Smith today,"),
])
def test_clause_cuts(text: str, clause: str | None) -> None:
    end = clause_end(text)
    assert (None if end is None else text[:end]) == clause


def test_end_of_speech_is_the_last_frame_within_34_db_of_the_peak() -> None:
    with wave.open(str(AUDIO / "cards_002.wav")) as w:
        pcm = w.readframes(w.getnframes())
    start, end = speech_bounds(pcm)
    assert 0 <= start < end < len(pcm) / 32000  # the trailing silence is not speech
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    rms = np.sqrt((x[: len(x) // 320 * 320].reshape(-1, 320) ** 2).mean(axis=1))
    last = round(end / 0.02) - 1
    assert rms[last] > 0.02 * rms.max() >= rms[last + 1:].max()
    silence = np.zeros(16000, "<i2").tobytes()  # padding moves it, and nothing else
    assert speech_bounds(silence + pcm + silence) == pytest.approx((start + 1, end + 1))
