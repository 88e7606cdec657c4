"""The piper engine itself, on the real voice: which voices stay loaded, and how much
of a text reaches onnxruntime at once.

Loads and runs are counted by wrapping onnxruntime's session class: an observation, the
real sessions still do all the work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from piper import PiperVoice

from servers.tts.engine import MAX_PHONEMES, PiperEngine, Style, Withdrawn, phoneme_runs
from servers.tts.voices import VoiceInfo


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every onnxruntime session the engine opens, by model path, in order."""
    opened: list[str] = []

    class Counting(onnxruntime.InferenceSession):
        def __init__(self, path: str, *args: object, **kwargs: object) -> None:
            opened.append(path)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Counting)
    return opened


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every input onnxruntime is run on, in order."""
    runs: list[int] = []
    real_run = onnxruntime.InferenceSession.run

    def counting_run(self, output_names, input_feed, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(input_feed["input"].shape[1])
        return real_run(self, output_names, input_feed, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", counting_run)
    return runs


def _voices(voice_path: Path, *ids: str) -> list[VoiceInfo]:
    """Several ids over joe's one model: the engine keys voices by id."""
    return [VoiceInfo(i, voice_path, "en-US", 22050) for i in ids]


def test_the_voice_in_use_is_not_dropped_to_honour_max_loaded(
        voice_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """max_loaded_voices=1 with the kept default loaded: another voice used to be dropped
    as soon as it was loaded, so every piece of it loaded it again (~0.5 s, under the
    engine lock). Now the bound is exceeded by the kept voice instead."""
    loads = _count_loads(monkeypatch)
    joe, twin, trio = _voices(voice_path, "joe", "twin", "trio")
    engine = PiperEngine(max_loaded=1, keep="joe")  # one session per voice (threads equal)
    engine.load(joe)
    for _ in range(3):
        assert len(engine.synthesize(twin, "Hi.", Style()))
    assert len(loads) == 2  # joe once, twin once
    engine.load(trio)  # the least recently used other voice goes; the kept one stays
    engine.load(joe)
    engine.load(trio)
    assert len(loads) == 3
    engine.load(twin)
    assert len(loads) == 4


def test_a_text_of_letters_read_by_name_reaches_onnx_in_bounded_runs(
        voice_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak reads "中" as "Chinese letter" (15 phonemes): 300 of them, under the
    300-character piece cap, were one run of 4,319 ids (3 GB, 112 s of audio). The runs
    are now bounded whatever the text; 40 letters (~580 phonemes) keep the test short."""
    runs = _count_runs(monkeypatch)
    (voice,) = _voices(voice_path, "joe")
    audio = PiperEngine().synthesize(voice, "中" * 40, Style())
    assert len(runs) >= 2, runs
    assert max(runs) <= 2 * MAX_PHONEMES + 3, runs  # a pad after each phoneme; ^ _ $
    assert audio.dtype == np.float32 and len(audio) / 22050 > 5  # every letter was read


def test_a_withdrawn_piece_stops_after_the_run_under_way(
        voice_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hang-up during a long piece: the runs left are not made (they held the worker
    for up to ~12 s of onnx after the caller was gone)."""
    runs = _count_runs(monkeypatch)
    (voice,) = _voices(voice_path, "joe")
    engine = PiperEngine()
    with pytest.raises(Withdrawn):
        engine.synthesize(voice, "中" * 40, Style(), withdrawn=lambda: len(runs) >= 1)
    assert len(runs) == 1
    runs.clear()
    engine.synthesize(voice, "中" * 40, Style(), withdrawn=lambda: False)
    assert len(runs) >= 2  # not withdrawn: every run


def test_an_ordinary_piece_is_one_run(voice_path: Path) -> None:
    """A 300-character piece of English (the piece cap) stays whole: a cut would change
    its prosody."""
    text = ("Your appointment with doctor Smith is confirmed for Tuesday the third of March "
            "at half past three in the afternoon, please arrive fifteen minutes early to "
            "complete the registration paperwork and remember to bring your insurance card, "
            "a photo identification and a list of your current medications so we can")[:300]
    (sentence,) = PiperVoice.load(voice_path).phonemize(text)
    assert len(phoneme_runs(sentence)) == 1, len(sentence)


def test_long_phoneme_runs_are_cut_at_word_gaps_and_lose_nothing() -> None:
    words = [list("wˈɜːd") for _ in range(300)]
    sentence = [p for w in words for p in [*w, " "]][:-1]
    runs = phoneme_runs(sentence, limit=40)
    assert all(len(r) <= 40 for r in runs)
    assert all(r[0] != " " and r[-1] != " " for r in runs)  # whole words
    assert [p for r in runs for p in [*r, " "]][:-1] == sentence
    unbroken = list("x" * 100)  # no gap at all: cut at the limit itself
    assert phoneme_runs(unbroken, limit=40) == [unbroken[:40], unbroken[40:80], unbroken[80:]]
    assert phoneme_runs([]) == []


def test_a_voice_loading_holds_up_no_piece_of_a_voice_already_loaded(
        voice_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine lock was held through a load (~0.7 s for joe, longer for a bigger
    voice): every caller on the default voice waited for another caller's voice."""
    import threading

    joe, twin = _voices(voice_path, "joe", "twin")
    engine = PiperEngine(keep="joe")
    engine.load(joe)
    loading, release, order = threading.Event(), threading.Event(), []

    class SlowToLoad(onnxruntime.InferenceSession):  # a load that waits to be let go
        def __init__(self, *args: object, **kwargs: object) -> None:
            loading.set()
            release.wait(30)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", SlowToLoad)
    loader = threading.Thread(target=lambda: (engine.load(twin), order.append("twin loaded")))
    loader.start()
    assert loading.wait(30)
    speaker = threading.Thread(target=lambda: (engine.synthesize(joe, "Hi.", Style()),
                                               order.append("joe spoke")))
    speaker.start()
    speaker.join(30)  # before the load is let go: joe does not wait for it
    release.set()
    loader.join(30)
    assert order == ["joe spoke", "twin loaded"]
    assert engine.loaded(twin) and len(engine.synthesize(twin, "Hi.", Style()))
