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


def test_end_of_speech_is_above_the_noise_floor() -> None:
    with wave.open(str(AUDIO / "librivox_ss_880.wav")) as w:
        pcm = w.readframes(w.getnframes())
    start, end = speech_bounds(pcm)
    assert 0 < start < end < len(pcm) / 32000 - 0.1  # room tone at the end is not speech
    silence = np.zeros(16000, "<i2").tobytes()
    assert speech_bounds(silence + pcm + silence) == pytest.approx((start + 1, end + 1))
