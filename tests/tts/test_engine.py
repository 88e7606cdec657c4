"""The piper engine itself, on the real voice: which voices stay loaded.

Loads are counted by wrapping onnxruntime's session class: an observation, the real
sessions still do all the work.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import pytest

from servers.tts.engine import PiperEngine, Style
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
