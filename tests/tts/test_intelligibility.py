"""Our audio, heard by the STT default model: numbers, money and times come out right."""

from __future__ import annotations

import re

import httpx
import jiwer
import numpy as np
import pytest
from faster_whisper import WhisperModel
from whisper_normalizer.english import EnglishTextNormalizer

from rymi_endpoints.models.catalog import resolve
from servers.common.config import default_models_dir

SENTENCES = [
    "Your balance is $12.50, and the payment is due on March 3rd.",
    "Your appointment is at 3:30 pm with Dr. Smith.",
    "We shipped 1,200 boxes, which is 45% more than last year.",
]


@pytest.fixture(scope="module")
def whisper() -> WhisperModel:
    path = resolve("whisper-tiny.en", default_models_dir())
    return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)


def test_spoken_numbers_money_and_times_are_understood(client: httpx.Client,
                                                       whisper: WhisperModel) -> None:
    norm = EnglishTextNormalizer()
    r = client.post("/tts", json={"text": " ".join(SENTENCES), "format": "pcm_16000"})
    assert r.status_code == 200
    audio = np.frombuffer(r.content, dtype="<i2").astype(np.float32) / 32768.0
    segments, _ = whisper.transcribe(audio, language="en", beam_size=5)
    heard = norm(" ".join(s.text for s in segments))
    expected = norm(" ".join(SENTENCES))
    error = jiwer.wer(expected, heard)
    assert error <= 0.2, f"WER {error:.2f}\nexpected: {expected}\nheard:    {heard}"
    # Whisper writes a time as 3:30, 3.30, 3 30 or 330: the words are what matter.
    said = re.sub(r"\b(\d{1,2})[ .:]?(\d\d) (am|pm)\b", r"\1:\2 \3", heard.replace(",", ""))
    for key in ("12.50", "3:30 pm", "1200", "45%", "smith"):
        assert key in said, heard
