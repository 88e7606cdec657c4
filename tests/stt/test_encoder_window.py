"""``encoder_window_s`` and ``interim_window_s`` on the real tiny.en engine: what the
encoder is given, and that no audio is ever cut to fit the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from faster_whisper import transcribe as fw_transcribe

from rymi_endpoints.models.catalog import resolve
from servers.stt.config import SttSettings
from servers.stt.engine import DecodeOptions, WhisperEngine

from .client import AUDIO, load_pcm


def clip(name: str) -> np.ndarray:
    return np.frombuffer(load_pcm(AUDIO / name), "<i2").astype(np.float32) / 32768


def engine_with(window_s: float) -> WhisperEngine:
    return WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=2,
                         encoder_window_s=window_s)


@pytest.fixture(scope="module")
def windowed() -> WhisperEngine:
    return engine_with(10)


@pytest.fixture
def encoder_frames(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Mel frames of every input CTranslate2's encoder receives, in order."""
    seen: list[int] = []
    original = fw_transcribe.get_ctranslate2_storage

    def recording(features: np.ndarray):  # noqa: ANN202 - a StorageView
        seen.append(features.shape[-1])
        return original(features)

    monkeypatch.setattr(fw_transcribe, "get_ctranslate2_storage", recording)
    return seen


def test_the_default_is_whisper_s_own_30_s_window(encoder_frames: list[int]) -> None:
    assert SttSettings().encoder_window_s == 30
    engine = engine_with(SttSettings().encoder_window_s)
    result = engine.transcribe(clip("librivox_ss_880.wav"), DecodeOptions("en"))
    assert encoder_frames == [3000]
    assert "young man" in result.text.lower()


def test_a_short_utterance_is_encoded_in_the_window(windowed: WhisperEngine,
                                                    encoder_frames: list[int]) -> None:
    result = windowed.transcribe(clip("librivox_ss_880.wav"), DecodeOptions("en"))  # 3 s
    assert encoder_frames == [1000]
    assert "young man" in result.text.lower()


def test_an_utterance_longer_than_the_window_is_never_cut(windowed: WhisperEngine,
                                                          encoder_frames: list[int]) -> None:
    audio = clip("two_utterances_librivox_ss_870_librivox_ss_880.wav")
    assert len(audio) / 16000 > 10
    result = windowed.transcribe(audio, DecodeOptions("en"))
    # The window grows to the audio plus 1 s, in whole seconds: the last words are heard.
    assert encoder_frames == [100 * int(np.ceil(len(audio) / 16000 + 1))]
    text = result.text.lower()
    assert text.startswith("and mr. john dashwood") and "young man" in text


def test_the_window_is_per_decode_not_left_behind(windowed: WhisperEngine,
                                                  encoder_frames: list[int]) -> None:
    long, short = clip("two_utterances_librivox_ss_870_librivox_ss_880.wav"), clip(
        "cards_002.wav")
    windowed.transcribe(long, DecodeOptions("en"))
    windowed.transcribe(short, DecodeOptions("en"))
    assert encoder_frames[1] == 1000 < encoder_frames[0]


@pytest.mark.parametrize("lane", [0, 1])  # interims on the finals' model, or their own
def test_interims_take_a_10_s_window_and_finals_keep_30(encoder_frames: list[int],
                                                        lane: int) -> None:
    """An interim is a hypothesis its final replaces: by default it trades Whisper's
    30 s window (most of a CPU decode) for arriving sooner and leaving the CPU to finals;
    the final, what the agent answers, keeps the whole window."""
    settings = SttSettings()
    assert (settings.encoder_window_s, settings.interim_window_s) == (30, 10)
    engine = WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=2,
                           interim_workers=lane, encoder_window_s=settings.encoder_window_s,
                           interim_window_s=settings.interim_window_s)
    audio = clip("librivox_ss_880.wav")  # 3 s
    interim = engine.transcribe(audio, DecodeOptions("en", interim=True))
    final = engine.transcribe(audio, DecodeOptions("en"))
    assert encoder_frames == [1000, 3000]
    assert "young man" in interim.text.lower() and "young man" in final.text.lower()


def test_an_interims_window_is_never_wider_than_the_finals(encoder_frames: list[int]) -> None:
    engine = WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=2,
                           encoder_window_s=5, interim_window_s=20)
    audio = clip("librivox_ss_880.wav")
    engine.transcribe(audio, DecodeOptions("en", interim=True))
    engine.transcribe(audio, DecodeOptions("en"))
    assert encoder_frames == [500, 500]


def test_a_punctuation_only_decode_is_no_text() -> None:
    # tiny.en with a 20 s window writes "." for five seconds of room tone: no words, so
    # no final text (a "." final would make the agent answer silence).
    engine = engine_with(20)
    result = engine.transcribe(clip("noise_silence.wav"), DecodeOptions("en"))
    assert result.text == "" and result.confidence == 0.0
