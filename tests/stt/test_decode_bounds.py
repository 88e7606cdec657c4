"""How many tokens a decode may write, on the real tiny.en engine: a short clip's decode
stops where a hallucination would run on, and no clip of real speech is cut by it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from rymi_endpoints.models.catalog import resolve
from servers.stt import engine as engine_module
from servers.stt.engine import DecodeOptions, WhisperEngine, max_new_tokens

from .client import AUDIO, load_pcm


def clip(name: str) -> np.ndarray:
    return np.frombuffer(load_pcm(AUDIO / name), "<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=2)


def test_a_short_clips_decode_is_bounded(engine: WhisperEngine,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Whisper wrote up to its 448 tokens for 0.1 s of speech (seconds of decode on
    base, every other caller's final behind it); long audio keeps Whisper's own limit."""
    asked: list[int | None] = []
    real = engine.model.transcribe

    def spy(audio: np.ndarray, **kwargs: object):  # noqa: ANN202 - faster-whisper's pair
        asked.append(kwargs["max_new_tokens"])  # type: ignore[arg-type]
        return real(audio, **kwargs)

    monkeypatch.setattr(engine.model, "transcribe", spy)
    speech = clip("librivox_ss_890.wav")
    engine.transcribe(speech[16000:19200], DecodeOptions("en"))  # 0.2 s
    engine.transcribe(np.tile(speech, 3)[:16000 * 12], DecodeOptions("en"))  # 12 s
    assert asked == [max_new_tokens(0.2), None] and asked[0] < 40


def test_no_clip_of_real_speech_is_cut_by_the_bound(engine: WhisperEngine,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bounded clip of the test corpus decodes to the same text as with Whisper's
    own limit (greedy decoding: the same tokens, unless the bound cut them)."""
    with open(AUDIO / "MANIFEST.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if max_new_tokens(float(r["duration_s"])) is not None]
    assert len(rows) >= 5, rows
    bounded = [engine.transcribe(clip(r["file"]), DecodeOptions("en")).text for r in rows]
    monkeypatch.setattr(engine_module, "max_new_tokens", lambda _s: None)
    whole = [engine.transcribe(clip(r["file"]), DecodeOptions("en")).text for r in rows]
    assert bounded == whole, list(zip(bounded, whole, strict=True))
    spoken = [text for r, text in zip(rows, bounded, strict=True) if r["transcript"]]
    assert len(spoken) >= 5 and all(spoken), bounded


def test_more_words_than_the_audio_holds_are_not_the_callers(
        engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first 192 ms of "nine of spades" (a finalize just after its onset) decoded
    to a video's outro on tiny.en: 15 words nobody said, sent to the agent's LLM as the
    caller's turn. A decode with more words than 3 + 8 a second of its audio is dropped."""
    onset = clip("cards_003.wav")[:3072]
    monkeypatch.setattr(engine_module, "WORDS_BASE", 10_000)
    said = engine.transcribe(onset, DecodeOptions("en", beam_size=5)).text
    if len(said.split()) <= 3 + 8 * len(onset) / 16000:
        pytest.skip(f"this build of the engine does not hallucinate here ({said!r})")
    monkeypatch.setattr(engine_module, "WORDS_BASE", 3)
    assert engine.transcribe(onset, DecodeOptions("en", beam_size=5)).text == ""


class _Segment:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.avg_logprob = text, [1] * len(text.split()), -0.5
        self.compression_ratio, self.no_speech_prob = 1.0, 0.1


@pytest.mark.parametrize("words, seconds, kept", [
    (7, 0.5, True), (8, 0.5, False),  # the bound: 3 + 8 a second
    (19, 2.0, True), (20, 2.0, False),
    (25, 3.0, True),  # the fastest real reader (3.1 words a second) is far inside it
])
def test_the_word_bound_counts_the_whole_decode(engine: WhisperEngine, words: int,
                                                seconds: float, kept: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that writes a given text (a double: the rule, not Whisper, is tested):
    the words of every segment together against the audio's length."""
    halves = [" ".join(["word"] * (words // 2)), " ".join(["word"] * (words - words // 2))]
    monkeypatch.setattr(engine.model, "transcribe",
                        lambda _a, **_k: (iter([_Segment(t) for t in halves]), None))
    text = engine.transcribe(np.zeros(int(seconds * 16000), np.float32),
                             DecodeOptions("en")).text
    assert len(text.split()) == (words if kept else 0), text
